/**
 * The unit files of systemd/, embedded so `hostsync install-units` also works from a single
 * executable, where no package directory exists. Hand-kept: each text must equal its file in
 * systemd/ byte for byte, which test/systemd/units.test.ts checks. Edit the file, then paste it
 * here between the backticks.
 */

/** The units `install-units` writes, in the order it writes and prints them. */
export const UNIT_FILE_NAMES = ['hostsync.service', 'hostsync.timer', 'hostsync@.service', 'hostsync@.timer'] as const;

export type UnitFileName = (typeof UNIT_FILE_NAMES)[number];

/** The executable path the shipped units name; `install-units` replaces it with the real one. */
export const UNIT_EXEC_PLACEHOLDER = '/usr/local/bin/hostsync';

/** The text of each unit file, as shipped in systemd/. */
export const EMBEDDED_UNITS: Readonly<Record<UnitFileName, string>> = {
  'hostsync.service': `# hostsync: one dev-update run (validate, sync, rebuild, validate), started by hostsync.timer.
# "hostsync install-units" installs this file with ExecStart pointing at the real hostsync binary.
# Change DEST, the timeout or the sandbox with a drop-in ("systemctl edit hostsync.service"), not
# here. This sandbox scores 1.8 in "systemd-analyze security": enough for hostsync to sync DEST,
# too tight for a rebuild like "nixos-rebuild switch". See docs/systemd.md for both.

[Unit]
Description=hostsync dev-update: keep /etc/hypervisor identical to its GitHub repository
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/bin/hostsync dev-update --config /etc/hostsync/config.json

# The GitHub token reaches hostsync only as a credential, $CREDENTIALS_DIRECTORY/github-token.
# A public repository needs none: systemd skips a credential whose file does not exist.
LoadCredential=github-token:/etc/hostsync/token
# Manifests, object store, journal and lock live in /var/lib/hostsync ($STATE_DIRECTORY).
StateDirectory=hostsync
StateDirectoryMode=0700
UMask=0022

# A oneshot has no start timeout unless given one. Keep it above rebuild.timeoutSec plus a sync.
TimeoutStartSec=2h
Nice=10
IOSchedulingClass=idle

# Sandbox: the only writable paths are DEST, the state directory and a private /tmp.
ProtectSystem=strict
# DEST. For another one, a drop-in with "ReadWritePaths=" (resets) then "ReadWritePaths=/new/dest".
ReadWritePaths=/etc/hypervisor
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
# Root without capabilities: DEST is root's, so owner permissions are all hostsync needs. The
# "owner"/"group" settings need CapabilityBoundingSet=CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE.
CapabilityBoundingSet=
AmbientCapabilities=
NoNewPrivileges=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
# Node's JavaScript engine (V8) makes memory writable, then executable: with
# MemoryDenyWriteExecute=yes node aborts at its first JIT compile, and "node --jitless" has no
# WebAssembly, which undici's HTTP parser needs. So it stays off.
MemoryDenyWriteExecute=no
# HTTPS and DNS need AF_INET and AF_INET6; AF_UNIX reaches journald and nscd/systemd-resolved;
# glibc's getaddrinfo(AI_ADDRCONFIG), as node calls it, asks the kernel over AF_NETLINK which
# address families the host has.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@resources
SystemCallErrorNumber=EPERM
`,
  'hostsync.timer': `# Starts hostsync.service every 15 minutes: "systemctl enable --now hostsync.timer".

[Unit]
Description=Run hostsync dev-update every 15 minutes

[Timer]
OnCalendar=*:0/15
# Spread a fleet over the window so hosts do not all poll GitHub in the same second. With
# FixedRandomDelay= each host keeps one stable offset, so its runs stay 15 minutes apart.
RandomizedDelaySec=5min
FixedRandomDelay=true
AccuracySec=1min
# After downtime, run once at boot for the slot that was missed.
Persistent=true

[Install]
WantedBy=timers.target
`,
  'hostsync@.service': `# hostsync@NAME: one dev-update run for the repository configured in /etc/hostsync/NAME.json,
# started by hostsync@NAME.timer: one instance per repository on a host. The token is the file
# /etc/hostsync/NAME.token, the state lives in /var/lib/hostsync/NAME, and by default the instance
# may write /etc/NAME; another DEST needs a drop-in ("systemctl edit hostsync@NAME.service").
# "hostsync install-units" installs this file with ExecStart pointing at the real hostsync binary.
# Same sandbox as hostsync.service (1.8 in "systemd-analyze security"); see docs/systemd.md.

[Unit]
Description=hostsync dev-update for %i (/etc/hostsync/%i.json)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/bin/hostsync dev-update --config /etc/hostsync/%i.json

# The GitHub token reaches hostsync only as a credential, $CREDENTIALS_DIRECTORY/github-token.
# A public repository needs none: systemd skips a credential whose file does not exist.
LoadCredential=github-token:/etc/hostsync/%i.token
# Manifests, object store, journal and lock live in /var/lib/hostsync/%i ($STATE_DIRECTORY).
StateDirectory=hostsync/%i
StateDirectoryMode=0700
UMask=0022

# A oneshot has no start timeout unless given one. Keep it above rebuild.timeoutSec plus a sync.
TimeoutStartSec=2h
Nice=10
IOSchedulingClass=idle

# Sandbox: the only writable paths are DEST, the state directory and a private /tmp.
ProtectSystem=strict
# DEST: /etc/NAME. Another one: a drop-in with "ReadWritePaths=" (resets), "ReadWritePaths=/dest".
ReadWritePaths=/etc/%i
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
# Root without capabilities: DEST is root's, so owner permissions are all hostsync needs. The
# "owner"/"group" settings need CapabilityBoundingSet=CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE.
CapabilityBoundingSet=
AmbientCapabilities=
NoNewPrivileges=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
# Node's JavaScript engine (V8) makes memory writable, then executable: with
# MemoryDenyWriteExecute=yes node aborts at its first JIT compile, and "node --jitless" has no
# WebAssembly, which undici's HTTP parser needs. So it stays off.
MemoryDenyWriteExecute=no
# HTTPS and DNS need AF_INET and AF_INET6; AF_UNIX reaches journald and nscd/systemd-resolved;
# glibc's getaddrinfo(AI_ADDRCONFIG), as node calls it, asks the kernel over AF_NETLINK which
# address families the host has.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@resources
SystemCallErrorNumber=EPERM
`,
  'hostsync@.timer': `# Starts hostsync@NAME.service every 15 minutes: "systemctl enable --now hostsync@NAME.timer".

[Unit]
Description=Run hostsync dev-update for %i every 15 minutes

[Timer]
OnCalendar=*:0/15
# Spread a fleet over the window so hosts do not all poll GitHub in the same second. With
# FixedRandomDelay= each host keeps one stable offset, so its runs stay 15 minutes apart.
RandomizedDelaySec=5min
FixedRandomDelay=true
AccuracySec=1min
# After downtime, run once at boot for the slot that was missed.
Persistent=true

[Install]
WantedBy=timers.target
`,
};
