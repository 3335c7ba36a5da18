# NixOS module for hostsync: /etc/hostsync/config.json, hostsync.service and hostsync.timer.
#
# The units mirror the shipped systemd/hostsync.service and systemd/hostsync.timer; with a rebuild
# configured, the sandbox settings that systemd/hostsync-rebuild.conf turns off are left out.
# Usage: docs/nixos.md.
#
# Status: test/nix/module.test.ts parses this file (nix-instantiate --parse), compares its unit
# settings with the files in systemd/ and evaluates its `config` half against a small stand-in
# for nixpkgs' lib. It has NOT been evaluated against nixpkgs itself.
{ config, lib, pkgs, ... }:

let
  inherit (lib) literalExpression mkEnableOption mkIf mkOption optional optionalAttrs types;

  cfg = config.services.hostsync;
  json = pkgs.formats.json { };

  # The top-level keys of hostsync's config file: topLevelKeys() of src/config/settings.ts.
  # test/nix/module.test.ts keeps this list equal to it.
  knownSettings = [
    "repo" "ref" "dest" "path" "apiUrl" "serverUrl" "stateDir" "transport" "poll" "lfs" "tokenFile"
    "gitUser" "sshKeyFile" "sshKnownHostsFile" "proxy" "noProxy" "caFile" "appId"
    "appPrivateKeyFile" "appInstallationId" "concurrency" "json" "checkOnly" "forceFull" "verbose"
    "quiet" "prune" "allowSystemDest" "preserve" "layout" "historyLimit" "lockTimeout"
    "backupLimitMb" "requireSigned" "trust" "allowDowngrade" "owner" "group" "rebuild" "hooks"
    "checks" "preset" "rollout" "hostId" "metricsFile" "timeoutSec" "stallSec" "lowSpeedLimit"
    "lowSpeedTimeSec" "transferTimeoutSec"
  ];

  # Keys the options of this module write (tokenFile, appPrivateKeyFile: as credentials); extraSettings may not set them.
  modelledSettings = [ "repo" "ref" "dest" "path" "stateDir" "tokenFile" "appPrivateKeyFile" "preserve" "prune" "rebuild" "metricsFile" ];

  # The content of /etc/hostsync/config.json. Never the token: hostsync refuses a `token` key,
  # and this file lands in the world-readable Nix store.
  settings = lib.filterAttrs (_: value: value != null) {
    inherit (cfg) repo ref dest stateDir preserve prune metricsFile;
    path = if cfg.path == "" then null else cfg.path;
    rebuild =
      if cfg.rebuild == null then null
      else { inherit (cfg.rebuild) command when timeoutSec rollbackOnFailure; };
  } // cfg.extraSettings;

  rebuilds = cfg.rebuild != null;
  symlinkLayout = (cfg.extraSettings.layout or "inplace") == "symlink";

  # TimeoutStartSec of systemd/hostsync.service is 2h, to stay above rebuild.timeoutSec plus a
  # sync; a longer rebuild gets an hour on top of its own limit.
  timeoutStartSec =
    if rebuilds && cfg.rebuild.timeoutSec + 3600 > 7200
    then "${toString (cfg.rebuild.timeoutSec + 3600)}s"
    else "2h";

  # What stays whether or not the sandbox does: the settings of systemd/hostsync.service that
  # systemd/hostsync-rebuild.conf leaves alone.
  serviceSettings = {
    Type = "oneshot";
    ExecStart = "${cfg.package}/bin/hostsync dev-update --config /etc/hostsync/config.json";
    # The token reaches hostsync only as $CREDENTIALS_DIRECTORY/github-token, copied by systemd
    # from the file at each start; never through the Nix store or the environment. A GitHub App's
    # private key the same way, as $CREDENTIALS_DIRECTORY/github-app-key.
    LoadCredential = optional (cfg.tokenFile != null) "github-token:${cfg.tokenFile}"
      ++ optional (cfg.appPrivateKeyFile != null) "github-app-key:${cfg.appPrivateKeyFile}";
    # Manifests, object store, journal and lock ($STATE_DIRECTORY).
    StateDirectory = lib.removePrefix "/var/lib/" cfg.stateDir;
    StateDirectoryMode = "0700";
    # Compiled JavaScript of the CLI, so a run does not compile it again ($CACHE_DIRECTORY, decision 0017).
    CacheDirectory = "hostsync";
    CacheDirectoryMode = "0700";
    UMask = "0022";
    TimeoutStartSec = timeoutStartSec;
    Nice = 10;
    IOSchedulingClass = "idle";
    AmbientCapabilities = "";
    # V8 makes memory writable, then executable: node aborts with MemoryDenyWriteExecute=yes.
    MemoryDenyWriteExecute = false;
    SystemCallErrorNumber = "EPERM";
    SyslogIdentifier = "hostsync";
  };

  # The sandbox of systemd/hostsync.service: exactly the settings systemd/hostsync-rebuild.conf
  # turns off, so leaving them out is the NixOS form of that drop-in (docs/systemd.md).
  sandboxSettings = {
    ProtectSystem = "strict";
    # DEST; the folder of metricsFile (skipped when missing); with layout "symlink" the folder
    # that holds DEST, since DEST itself is replaced there.
    ReadWritePaths = [ cfg.dest ]
      ++ optional (cfg.metricsFile != null) "-${dirOf cfg.metricsFile}"
      ++ optional symlinkLayout (dirOf cfg.dest);
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    PrivateMounts = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    ProtectProc = "invisible";
    ProcSubset = "pid";
    CapabilityBoundingSet = "";
    NoNewPrivileges = true;
    RestrictSUIDSGID = true;
    RestrictNamespaces = true;
    RestrictRealtime = true;
    LockPersonality = true;
    RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6 AF_NETLINK";
    SystemCallArchitectures = "native";
    SystemCallFilter = [ "@system-service" "~@resources" ];
  };

  absolutePath = types.strMatching "/.+";

  rebuildOptions = {
    command = mkOption {
      type = types.str;
      example = literalExpression ''"nixos-rebuild switch --flake /etc/hypervisor#''${config.networking.hostName}"'';
      description = ''
        Command run with `/bin/sh -c` after a sync (`rebuild.command`). The service's `PATH` has
        `nixos-rebuild`, `nix` and `git` when a rebuild is set; add other programs with
        `systemd.services.hostsync.path`.
      '';
    };
    when = mkOption {
      type = types.enum [ "changed" "always" "never" ];
      default = "changed";
      description = "When to rebuild (`rebuild.when`): `changed`, only after a sync that changed something; `always`; `never`.";
    };
    timeoutSec = mkOption {
      type = types.ints.between 1 86400;
      default = 1800;
      example = 3600;
      description = ''
        Seconds before the rebuild is killed (`rebuild.timeoutSec`). The unit's `TimeoutStartSec=`
        is 2h, or this plus an hour when that is longer.
      '';
    };
    rollbackOnFailure = mkOption {
      type = types.bool;
      default = false;
      example = true;
      description = "Roll `dest` back to the previous generation when the rebuild fails (`rebuild.rollbackOnFailure`).";
    };
  };
in
{
  options.services.hostsync = {
    enable = mkEnableOption "hostsync, which keeps a directory identical to a GitHub repository at a ref (a timer runs `hostsync dev-update`)";

    package = mkOption {
      type = types.package;
      example = literalExpression "inputs.hostsync.packages.\${pkgs.stdenv.hostPlatform.system}.default";
      description = ''
        The hostsync package; it must provide `bin/hostsync`. There is no default: nixpkgs has no
        hostsync. Pass a flake's package, or build one with `pkgs.callPackage ./pkgs/hostsync { }`
        (docs/nixos.md shows two such packages).
      '';
    };

    repo = mkOption {
      type = types.str;
      example = "acme/hypervisor";
      description = "Repository to sync (`repo`): `OWNER/NAME` on GitHub.";
    };

    ref = mkOption {
      type = types.str;
      default = "HEAD";
      example = "main";
      description = "Branch, tag, full ref or commit SHA (`ref`); `HEAD` is the default branch.";
    };

    dest = mkOption {
      type = absolutePath;
      example = "/etc/hypervisor";
      description = ''
        Directory kept identical to the repository (`dest`); absolute, never `/`. It must exist
        before the service starts: the sandbox makes it writable by bind-mounting it.
      '';
    };

    path = mkOption {
      type = types.str;
      default = "";
      example = "hosts/alpha";
      description = "Folder of the repository to sync into `dest` (`path`); empty: the whole repository.";
    };

    tokenFile = mkOption {
      type = types.nullOr absolutePath;
      default = null;
      example = "/etc/hostsync/token";
      description = ''
        File on the host holding the GitHub token: a string path, root-owned, mode 0600, created
        outside the configuration (by hand, agenix or sops-nix). systemd copies it at each start
        into the service's credential directory (`LoadCredential=github-token:PATH`), where
        hostsync finds it as `$CREDENTIALS_DIRECTORY/github-token`. It is not written to
        config.json and never enters the Nix store; do not give a Nix path literal such as
        `./token`, which would be copied into the world-readable store (a string is required,
        and a path inside the store is refused). `null`: no token (public repositories, 60 API
        requests an hour).
      '';
    };

    appPrivateKeyFile = mkOption {
      type = types.nullOr absolutePath;
      default = null;
      example = "/etc/hostsync/github-app.pem";
      description = ''
        The private key (.pem) of a GitHub App to authenticate as instead of with a token: a string
        path on the host, root-owned, mode 0600, created outside the configuration like `tokenFile`.
        systemd copies it at each start into the service's credential directory
        (`LoadCredential=github-app-key:PATH`), where hostsync finds it as
        `$CREDENTIALS_DIRECTORY/github-app-key`; it never enters the Nix store. Set the App's ID
        (not secret) with `extraSettings.appId`, and `extraSettings.appInstallationId` if you want
        to skip the lookup (docs/operations.md, "GitHub Apps"). `null`: no App.
      '';
    };

    stateDir = mkOption {
      type = types.strMatching "/var/lib/.+";
      default = "/var/lib/hostsync";
      description = ''
        State directory (`stateDir`): manifests, object store, journal, lock. It must lie under
        `/var/lib`: systemd creates it (`StateDirectory=`, mode 0700) from the part after
        `/var/lib/`. Written to config.json as well, so `hostsync history` or `rollback` run by
        hand find the same state.
      '';
    };

    interval = mkOption {
      type = types.either types.str (types.listOf types.str);
      default = "*:0/15";
      example = "hourly";
      description = "When the timer starts a run: the timer's `OnCalendar=` (systemd.time(7)). Default: every 15 minutes.";
    };

    randomizedDelaySec = mkOption {
      type = types.str;
      default = "5min";
      example = "0";
      description = ''
        `RandomizedDelaySec=` of the timer: each host waits up to this long after each `interval`
        slot, so a fleet does not poll GitHub in the same second. `FixedRandomDelay=true` keeps
        each host's delay stable.
      '';
    };

    rebuild = mkOption {
      type = types.nullOr (types.submodule { options = rebuildOptions; });
      default = null;
      example = literalExpression ''
        {
          command = "nixos-rebuild switch --flake /etc/hypervisor#''${config.networking.hostName}";
          timeoutSec = 3600;
          rollbackOnFailure = true;
        }
      '';
      description = ''
        Command run after a sync (`rebuild`). Setting it turns the sandbox off by default (see
        `sandbox`), since `nixos-rebuild switch` writes /nix, /boot, /etc and /run, mounts file
        systems and restarts services. `null`: no rebuild.
      '';
    };

    sandbox = mkOption {
      type = types.bool;
      default = cfg.rebuild == null;
      defaultText = literalExpression "config.services.hostsync.rebuild == null";
      example = true;
      description = ''
        Whether the service keeps the sandbox of systemd/hostsync.service (`ProtectSystem=strict`
        and the rest). Off, it runs as plain root, like the shipped unit with
        systemd/hostsync-rebuild.conf; that is the default when `rebuild` is set. Turn it back on
        for a rebuild that writes nothing outside `dest`.
      '';
    };

    preserve = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "hosts/*/hardware-configuration.nix" ];
      description = "Globs, relative to `dest`, of paths hostsync never touches (`preserve`).";
    };

    prune = mkOption {
      type = types.bool;
      default = false;
      example = true;
      description = "Delete files in `dest` that hostsync did not place and the commit does not have (`prune`).";
    };

    metricsFile = mkOption {
      type = types.nullOr absolutePath;
      default = null;
      example = "/var/lib/prometheus-node-exporter-text-files/hostsync.prom";
      description = ''
        Prometheus textfile-collector output (`metricsFile`). Its folder is made writable in the
        sandbox when it exists at the start of a run; create it beforehand.
      '';
    };

    extraSettings = mkOption {
      type = json.type;
      default = { };
      example = {
        preset = "nixos-hypervisor";
        historyLimit = 10;
        lockTimeout = 300;
      };
      description = ''
        Further keys of /etc/hostsync/config.json, for settings this module has no option for
        (docs/configuration.md): `preset`, `historyLimit`, `lockTimeout`, `checks`, `hooks`,
        `owner`, `apiUrl`, …. Merged over the generated keys; keys that have an option here are
        refused, and so is `token`. It lands in the Nix store: no secrets.
      '';
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.dest != "/" && cfg.dest != "/etc/hostsync" && !(lib.hasPrefix "${cfg.dest}/" cfg.stateDir);
        message = "services.hostsync.dest (${cfg.dest}) must not be /, /etc/hostsync, or hold services.hostsync.stateDir.";
      }
      {
        assertion = cfg.tokenFile == null || !(lib.hasPrefix "${builtins.storeDir}/" cfg.tokenFile);
        message = "services.hostsync.tokenFile is in the Nix store, which every user can read: give the path of a root-only file on the host.";
      }
      {
        assertion = cfg.appPrivateKeyFile == null || !(lib.hasPrefix "${builtins.storeDir}/" cfg.appPrivateKeyFile);
        message = "services.hostsync.appPrivateKeyFile is in the Nix store, which every user can read: give the path of a root-only file on the host.";
      }
      {
        assertion = (cfg.appPrivateKeyFile != null) == (cfg.extraSettings ? appId);
        message = "services.hostsync: a GitHub App needs both its ID (extraSettings.appId) and its key (appPrivateKeyFile); set both or neither.";
      }
      {
        assertion = !(cfg.extraSettings ? token);
        message = "services.hostsync.extraSettings must not hold the token: use services.hostsync.tokenFile.";
      }
    ] ++ map
      (key: {
        assertion = !(cfg.extraSettings ? ${key});
        message = "services.hostsync.extraSettings.${key}: set services.hostsync.${key} instead.";
      })
      modelledSettings
    ++ map
      (key: {
        assertion = builtins.elem key knownSettings;
        message = "services.hostsync.extraSettings.${key} is not a hostsync setting (docs/configuration.md lists them).";
      })
      (builtins.attrNames (removeAttrs cfg.extraSettings [ "$schema" "token" ]));

    warnings = optional (rebuilds && cfg.sandbox && lib.hasInfix "nixos-rebuild" cfg.rebuild.command)
      "services.hostsync: rebuild.command runs nixos-rebuild, which the sandbox (services.hostsync.sandbox = true) stops.";

    # For `hostsync validate`, `history`, `rollback` by hand.
    environment.systemPackages = [ cfg.package ];

    # Read by the service and by `hostsync … --config /etc/hostsync/config.json` by hand.
    environment.etc."hostsync/config.json".source = json.generate "hostsync-config.json" settings;

    systemd.services.hostsync = {
      description = "hostsync dev-update: keep ${cfg.dest} identical to its GitHub repository";
      documentation = [
        "file://${cfg.package}/lib/node_modules/hostsync/docs/nixos.md"
        "file://${cfg.package}/lib/node_modules/hostsync/docs/systemd.md"
      ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];

      # git for the clone fallback; for a rebuild, nixos-rebuild and nix (which runs git for flakes).
      path = [ pkgs.git ] ++ lib.optionals rebuilds [ config.system.build.nixos-rebuild config.nix.package ];
      environment = mkIf rebuilds ({ HOME = "/root"; } // config.networking.proxy.envVars);

      # The rebuild runs switch-to-configuration from inside this service: it must neither restart
      # nor stop the unit that is running it. A changed unit takes effect at its next start.
      restartIfChanged = false;
      unitConfig = {
        X-StopOnRemoval = false;
        # As systemd/hostsync.service: a failed run starts the notice below.
        OnFailure = "hostsync-notify@%n.service";
      };

      serviceConfig = serviceSettings // optionalAttrs cfg.sandbox sandboxSettings;
    };

    # systemd/hostsync-notify@.service: when a run fails, /etc/hostsync/notify UNIT runs if it is an
    # executable (a script that mails or posts what journalctl -u UNIT shows; environment.etc can
    # install it), else one line is logged at priority err. Every outcome with its JSON result also
    # goes to hooks.onOutcome (extraSettings.hooks.onOutcome).
    systemd.services."hostsync-notify@" = {
      description = "hostsync failure notice for %i";
      documentation = [ "file://${cfg.package}/lib/node_modules/hostsync/docs/systemd.md" ];
      serviceConfig = {
        Type = "oneshot";
        SyslogIdentifier = "hostsync-notify";
        TimeoutStartSec = "5min";
        ExecStart = "/bin/sh -c 'if [ -x /etc/hostsync/notify ]; then exec /etc/hostsync/notify \"$$1\"; fi; echo \"<3>$$1 failed; journalctl -u $$1 shows why (install /etc/hostsync/notify to be told elsewhere)\" >&2' hostsync-notify %i";
      };
    };

    systemd.timers.hostsync = {
      description =
        if cfg.interval == "*:0/15" then "Run hostsync dev-update every 15 minutes"
        else "Run hostsync dev-update (${lib.concatStringsSep ", " (lib.toList cfg.interval)})";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = cfg.interval;
        RandomizedDelaySec = cfg.randomizedDelaySec;
        FixedRandomDelay = true;
        AccuracySec = "1min";
        # After downtime, run once at boot for the slot that was missed.
        Persistent = true;
      };
    };
  };
}
