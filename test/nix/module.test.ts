/**
 * nix/module.nix, the NixOS module (docs/nixos.md). There is no nixpkgs here, so the module is not
 * evaluated by NixOS itself. What is checked:
 *
 * - `nix-instantiate --parse` accepts it and every `nix` block of docs/nixos.md (syntax, undefined
 *   variables, duplicate attributes). Without nix-instantiate these tests fail, naming the package.
 * - From the module's text: the options are those docs/nixos.md lists, with the defaults it shows;
 *   the keys written into config.json are hostsync settings (src/config/settings.ts); the service's
 *   ExecStart and sandbox, and the timer, carry the values of systemd/hostsync.service and
 *   systemd/hostsync.timer; the settings dropped for a rebuild are those of hostsync-rebuild.conf.
 * - The module's `config` half, evaluated by `nix-instantiate --eval` with a stand-in for the few
 *   functions of nixpkgs' lib it calls (and option types reduced to their checks): the docs example
 *   yields the config.json the docs show, which hostsync's parser accepts, and units whose settings
 *   equal the shipped files; the assertions catch a token in the configuration.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UNIT_EXEC_PLACEHOLDER } from '../../src/units/texts.js';
import { parseConfig } from '../../src/config/parse.js';
import { SETTINGS, sectionKeys, topLevelKeys } from '../../src/config/settings.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODULE_FILE = path.join(ROOT, 'nix', 'module.nix');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
const MODULE = read('nix/module.nix');
const DOCS = read('docs/nixos.md');
const SERVICE = read('systemd/hostsync.service');
const TIMER = read('systemd/hostsync.timer');
const REBUILD_DROP_IN = read('systemd/hostsync-rebuild.conf');
const NOTIFY = read('systemd/hostsync-notify@.service');

// ---------------------------------------------------------------------------------------------
// nix-instantiate

const NO_NIX =
  'nix-instantiate is not installed, so nix/module.nix cannot be checked. Install it ' +
  '(Debian: `apt-get install -y nix-bin`); CI installs it in .ci/run.';

interface NixRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs nix-instantiate on a dummy store (no /nix needed, any user); fails the test when it is missing. */
function nixInstantiate(args: readonly string[], input?: string): NixRun {
  const result = spawnSync('nix-instantiate', ['--store', 'dummy://', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input,
    timeout: 30_000,
    env: { ...process.env, NIX_PATH: '' },
  });
  if (result.error !== undefined) {
    if ((result.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(NO_NIX);
    throw result.error;
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// ---------------------------------------------------------------------------------------------
// Unit files as text

/** Key → values of one section of a unit file, in order; comments and blank lines dropped. */
function directives(text: string, section: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      current = line;
      continue;
    }
    if (current !== `[${section}]`) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), normalize(line.slice(eq + 1))]);
  }
  return out;
}

/** systemd's booleans in one spelling: NixOS writes true/false, the shipped files yes/no. */
function normalize(value: string): string {
  if (value === 'true' || value === 'yes') return 'yes';
  if (value === 'false' || value === 'no') return 'no';
  return value;
}

/** A NixOS `serviceConfig`/`timerConfig` as the lines NixOS writes: a list gives one line per element. */
function rendered(settings: Readonly<Record<string, unknown>>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of Object.keys(settings).sort()) {
    const value = settings[key];
    const values = (Array.isArray(value) ? value : [value]).map((item) => normalize(String(item)));
    if (values.length > 0) out.set(key, values);
  }
  return out;
}

const sorted = (map: Map<string, string[]>): [string, string[]][] => [...map.entries()].sort(([a], [b]) => a.localeCompare(b));

const SHIPPED_SERVICE = directives(SERVICE, 'Service');
const SHIPPED_TIMER = directives(TIMER, 'Timer');
const DROP_IN_KEYS = [...directives(REBUILD_DROP_IN, 'Service').keys()].sort();
/** Settings of hostsync.service that the rebuild drop-in leaves alone. */
const KEPT_KEYS = [...SHIPPED_SERVICE.keys()].filter((key) => !DROP_IN_KEYS.includes(key)).sort();
/** What the module adds to the shipped service (SyslogIdentifier=hostsync is in both now). */
const MODULE_ONLY_SERVICE = new Map<string, string[]>();

// ---------------------------------------------------------------------------------------------
// The module as text: just enough of Nix's syntax to find attribute sets and their bindings.

/** Index just past the string that starts at `i` ("…" or ''…''), antiquotations included. */
function skipString(text: string, i: number): number {
  if (text[i] === '"') {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === '"') return j + 1;
      else if (text.startsWith('${', j)) j = skipNested(text, j + 1, '}') - 1;
    }
  } else {
    for (let j = i + 2; j < text.length; j++) {
      if (text.startsWith("''", j)) {
        const next = text[j + 2];
        if (next === '$' || next === "'") j += 2;
        else if (next === '\\') j += 3;
        else return j + 2;
      } else if (text.startsWith('${', j)) j = skipNested(text, j + 1, '}') - 1;
    }
  }
  throw new Error(`unterminated string at ${i} in nix/module.nix`);
}

const CLOSING: Readonly<Record<string, string>> = { '{': '}', '[': ']', '(': ')' };

/** `text[open]` is a bracket: index just past the bracket that closes it. */
function skipNested(text: string, open: number, close: string): number {
  let i = open + 1;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === close) return i + 1;
    i = skipToken(text, i);
  }
  throw new Error(`unbalanced ${text[open]} at ${open} in nix/module.nix`);
}

/** Index just past the token (string, comment, bracketed group or one character) at `i`. */
function skipToken(text: string, i: number): number {
  const c = text[i] as string;
  if (c === '"' || text.startsWith("''", i)) return skipString(text, i);
  if (c === '#') {
    const end = text.indexOf('\n', i);
    return end === -1 ? text.length : end;
  }
  if (text.startsWith('/*', i)) return text.indexOf('*/', i) + 2;
  const close = CLOSING[c];
  if (close !== undefined) return skipNested(text, i, close);
  return i + 1;
}

/** The text inside the first `{ … }` after the binding `name =` (e.g. `serviceSettings`). */
function attrsOf(text: string, name: string): string {
  const match = new RegExp(`(^|\\n)\\s*${name.replace(/\./g, '\\.')} =`).exec(text);
  if (match === null) throw new Error(`no binding \`${name} =\` in nix/module.nix`);
  const open = text.indexOf('{', match.index + match[0].length);
  return text.slice(open + 1, skipNested(text, open, '}') - 1);
}

type Binding = { readonly name: string; readonly value: string } | { readonly from: string; readonly names: readonly string[] };

/** The bindings directly inside an attribute set's text: `name = value;` and `inherit (from) a b;`. */
function bindings(block: string): Binding[] {
  const out: Binding[] = [];
  let statement = '';
  let i = 0;
  while (i < block.length) {
    const c = block[i] as string;
    if (c === '#' || block.startsWith('/*', i)) {
      i = skipToken(block, i);
      continue;
    }
    if (c === ';') {
      out.push(binding(statement.trim()));
      statement = '';
      i++;
      continue;
    }
    const next = skipToken(block, i);
    statement += block.slice(i, next);
    i = next;
  }
  if (statement.trim() !== '') throw new Error(`binding without ';': ${statement.trim()}`);
  return out;
}

function binding(statement: string): Binding {
  const inherit = /^inherit\s*\(([^)]*)\)\s*([\s\S]*)$/.exec(statement);
  if (inherit !== null) return { from: (inherit[1] as string).trim(), names: (inherit[2] as string).trim().split(/\s+/) };
  const assignment = /^([A-Za-z_][\w'.-]*)\s*=\s*([\s\S]*)$/.exec(statement);
  if (assignment === null) throw new Error(`not a binding: ${statement}`);
  return { name: assignment[1] as string, value: (assignment[2] as string).replace(/\s+/g, ' ') };
}

const assignments = (block: string): Map<string, string> =>
  new Map(bindings(block).flatMap((b) => ('name' in b ? [[b.name, b.value] as const] : [])));

/** A Nix literal as the unit-file values it renders to, or undefined for an expression. */
function literal(value: string): string[] | undefined {
  if (/^"[^"\\$]*"$/.test(value)) return [value.slice(1, -1)];
  if (value === 'true' || value === 'false') return [normalize(value)];
  if (/^-?\d+$/.test(value)) return [value];
  const list = /^\[((?:\s*"[^"\\$]*")*)\s*\]$/.exec(value);
  if (list !== null) return [...(list[1] as string).matchAll(/"([^"]*)"/g)].map((m) => m[1] as string);
  return undefined;
}

interface DeclaredOption {
  readonly name: string;
  /** The `default =` text, `false` for mkEnableOption, undefined when there is none. */
  readonly default: string | undefined;
  readonly body: Map<string, string>;
}

function declaredOptions(block: string, prefix: string): DeclaredOption[] {
  return [...assignments(block)].map(([name, value]) => {
    if (value.startsWith('mkEnableOption')) return { name: prefix + name, default: 'false', body: new Map() };
    if (!value.startsWith('mkOption {')) throw new Error(`option ${prefix}${name} is not declared with mkOption: ${value.slice(0, 40)}`);
    const body = assignments(attrsOf(`${name} = ${value}`, name));
    return { name: prefix + name, default: body.get('default'), body };
  });
}

const MODULE_OPTIONS = [
  ...declaredOptions(attrsOf(MODULE, 'options.services.hostsync'), ''),
  ...declaredOptions(attrsOf(MODULE, 'rebuildOptions'), 'rebuild.'),
];
const optionNamed = (name: string): DeclaredOption => {
  const option = MODULE_OPTIONS.find((o) => o.name === name);
  if (option === undefined) throw new Error(`nix/module.nix declares no option ${name}`);
  return option;
};

/** The strings of a `name = [ "a" "b" … ];` list binding. */
function stringList(name: string): string[] {
  const match = new RegExp(`\\n\\s*${name} = \\[([^\\]]*)\\];`).exec(MODULE);
  if (match === null) throw new Error(`no list \`${name} = [ … ];\` in nix/module.nix`);
  return [...(match[1] as string).matchAll(/"([^"]*)"/g)].map((m) => m[1] as string);
}

/** The rows of the options table of docs/nixos.md: option name → default cell. */
function docsOptions(): Map<string, string> {
  const start = DOCS.indexOf('\n## Options\n');
  if (start === -1) throw new Error('docs/nixos.md has no "## Options" section');
  const section = DOCS.slice(start + 1);
  const rows = new Map<string, string>();
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const cells = line.split('|').map((cell) => cell.trim());
    const name = /^`([\w.]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name !== undefined) rows.set(name, cells[3] ?? '');
  }
  return rows;
}

/** The code of a fenced block that follows `<!-- example: name -->`, and the next block of `lang` after it. */
function docsBlock(marker: string, lang: string, skip = 0): string {
  const start = DOCS.indexOf(`<!-- example: ${marker} -->`);
  if (start === -1) throw new Error(`docs/nixos.md has no <!-- example: ${marker} --> block`);
  const blocks = [...DOCS.slice(start).matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))];
  const block = blocks[skip]?.[1];
  if (block === undefined) throw new Error(`no ${lang} block after <!-- example: ${marker} -->`);
  return block;
}

// ---------------------------------------------------------------------------------------------

describe('nix/module.nix: syntax', () => {
  it('nix-instantiate --parse accepts it', () => {
    const run = nixInstantiate(['--parse', MODULE_FILE]);
    expect(run.stderr.replace(/^warning: .*\n/gm, ''), 'nix-instantiate --parse nix/module.nix').toBe('');
    expect(run.status).toBe(0);
  });

  it('nix-instantiate --parse accepts every nix block of docs/nixos.md', () => {
    const blocks = [...DOCS.matchAll(/```nix\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThan(3);
    for (const block of blocks) {
      const run = nixInstantiate(['--parse', '-'], block);
      expect(run.status, `docs/nixos.md block:\n${block}\n${run.stderr}`).toBe(0);
    }
  });
});

describe('nix/module.nix: options and config.json, read from its text', () => {
  it('declares exactly the options the table of docs/nixos.md lists, with the defaults it shows', () => {
    const docs = docsOptions();
    expect([...docs.keys()].sort()).toEqual(MODULE_OPTIONS.map((o) => o.name).sort());
    for (const option of MODULE_OPTIONS) {
      const cell = docs.get(option.name) ?? '';
      if (option.default === undefined) expect(cell, `${option.name} has no default`).toMatch(/^— \(required\)/);
      else expect(cell.replace(/^`|`$/g, ''), `default of ${option.name}`).toBe(option.default);
    }
  });

  it('options that are hostsync settings have their defaults', () => {
    expect(optionNamed('ref').default).toBe(JSON.stringify(SETTINGS.ref.default));
    expect(optionNamed('rebuild.when').default).toBe(JSON.stringify(SETTINGS['rebuild.when'].default));
    expect(optionNamed('rebuild.timeoutSec').default).toBe(String(SETTINGS['rebuild.timeoutSec'].default));
    expect(optionNamed('rebuild.when').body.get('type')).toBe(`types.enum [ ${SETTINGS['rebuild.when'].values.map((v) => JSON.stringify(v)).join(' ')} ]`);
    const { min, max } = SETTINGS['rebuild.timeoutSec'];
    expect(optionNamed('rebuild.timeoutSec').body.get('type')).toBe(`types.ints.between ${min} ${max}`);
  });

  it('writes only hostsync settings into config.json, and never the token or the token file', () => {
    const block = attrsOf(MODULE, 'settings');
    const settings = bindings(block);
    const written = settings.flatMap((b) => ('name' in b ? [b.name] : b.from === 'cfg' ? b.names : []));
    // rebuild = if … then null else { inherit (cfg.rebuild) command …; }
    const rebuild = /\binherit \(cfg\.rebuild\) ([^;]*);/.exec(block)?.[1]?.trim().split(/\s+/) ?? [];
    expect(written.length).toBeGreaterThan(5);
    for (const key of written) expect(topLevelKeys(), `config.json key ${key}`).toContain(key);
    expect(rebuild.sort()).toEqual(sectionKeys('rebuild').sort());
    expect(written).not.toContain('token');
    expect(written).not.toContain('tokenFile');
    // What the module calls a hostsync setting (for extraSettings) is exactly the table.
    const known = stringList('knownSettings');
    const missing = topLevelKeys().filter((key) => !known.includes(key));
    const stale = known.filter((key) => !topLevelKeys().includes(key));
    expect({ missing, stale }, 'knownSettings in nix/module.nix: add the missing settings, drop the stale ones').toEqual({ missing: [], stale: [] });
    for (const key of stringList('modelledSettings')) expect(topLevelKeys()).toContain(key);
    for (const key of [...written, 'tokenFile']) expect(stringList('modelledSettings'), `extraSettings may not set ${key}`).toContain(key);
  });

  it('passes the token file as the credential github-token, as the shipped unit does, and a GitHub App key as github-app-key', () => {
    expect(assignments(attrsOf(MODULE, 'serviceSettings')).get('LoadCredential')).toBe(
      'optional (cfg.tokenFile != null) "github-token:${cfg.tokenFile}" ++ optional (cfg.appPrivateKeyFile != null) "github-app-key:${cfg.appPrivateKeyFile}"',
    );
    expect(optionNamed('appPrivateKeyFile').body.get('description')).toMatch(/LoadCredential=github-app-key/);
    expect(optionNamed('appPrivateKeyFile').body.get('description')).toMatch(/never enters the Nix store/);
    expect(SHIPPED_SERVICE.get('LoadCredential')).toEqual(['github-token:/etc/hostsync/token']);
    expect(optionNamed('tokenFile').body.get('description')).toMatch(/LoadCredential=github-token/);
    expect(optionNamed('tokenFile').body.get('description')).toMatch(/never enters the Nix store/);
  });
});

describe('nix/module.nix: units, read from its text', () => {
  const service = assignments(attrsOf(MODULE, 'serviceSettings'));
  const sandbox = assignments(attrsOf(MODULE, 'sandboxSettings'));

  it('runs the ExecStart of systemd/hostsync.service with the package', () => {
    const execStart = literal((service.get('ExecStart') ?? '').replace('${cfg.package}/bin/hostsync', UNIT_EXEC_PLACEHOLDER));
    expect(execStart).toEqual(SHIPPED_SERVICE.get('ExecStart'));
    expect(service.get('ExecStart')).toBe('"${cfg.package}/bin/hostsync dev-update --config /etc/hostsync/config.json"');
  });

  it('keeps every setting of systemd/hostsync.service that hostsync-rebuild.conf leaves alone, with its value', () => {
    // Values the module computes; the evaluation tests below check what they come to.
    const computed = ['ExecStart', 'LoadCredential', 'StateDirectory', 'TimeoutStartSec'];
    expect([...service.keys()].sort()).toEqual([...KEPT_KEYS, ...MODULE_ONLY_SERVICE.keys()].sort());
    for (const key of KEPT_KEYS) {
      if (computed.includes(key)) continue;
      expect(literal(service.get(key) ?? ''), key).toEqual(SHIPPED_SERVICE.get(key));
    }
    for (const [key, values] of MODULE_ONLY_SERVICE) expect(literal(service.get(key) ?? ''), key).toEqual(values);
    expect(MODULE).toMatch(/else "2h";/);
    expect(optionNamed('stateDir').default).toBe(`"/var/lib/${SHIPPED_SERVICE.get('StateDirectory')?.[0]}"`);
  });

  it('its sandbox is the sandbox of systemd/hostsync.service: the settings hostsync-rebuild.conf turns off, with their values', () => {
    expect([...sandbox.keys()].sort()).toEqual(DROP_IN_KEYS);
    for (const key of DROP_IN_KEYS) {
      if (key === 'ReadWritePaths') continue;
      expect(literal(sandbox.get(key) ?? ''), key).toEqual(SHIPPED_SERVICE.get(key));
    }
    expect(sandbox.get('ReadWritePaths')).toMatch(/^\[ cfg\.dest \]/);
  });

  it('drops the sandbox when a rebuild is set, unless told otherwise', () => {
    const unit = assignments(attrsOf(MODULE, 'systemd.services.hostsync'));
    expect(unit.get('serviceConfig')).toBe('serviceSettings // optionalAttrs cfg.sandbox sandboxSettings');
    expect(optionNamed('sandbox').default).toBe('cfg.rebuild == null');
    expect(unit.get('wants')).toBe('[ "network-online.target" ]');
    expect(unit.get('after')).toBe('[ "network-online.target" ]');
    expect(unit.get('restartIfChanged')).toBe('false');
    expect(unit.get('documentation')).toMatch(/^\[ "/);
  });

  it('the timer has the settings of systemd/hostsync.timer', () => {
    const timer = assignments(attrsOf(MODULE, 'timerConfig'));
    expect([...timer.keys()].sort()).toEqual([...SHIPPED_TIMER.keys()].sort());
    expect(timer.get('OnCalendar')).toBe('cfg.interval');
    expect(timer.get('RandomizedDelaySec')).toBe('cfg.randomizedDelaySec');
    expect(literal(optionNamed('interval').default ?? '')).toEqual(SHIPPED_TIMER.get('OnCalendar'));
    expect(literal(optionNamed('randomizedDelaySec').default ?? '')).toEqual(SHIPPED_TIMER.get('RandomizedDelaySec'));
    for (const key of ['FixedRandomDelay', 'AccuracySec', 'Persistent']) expect(literal(timer.get(key) ?? ''), key).toEqual(SHIPPED_TIMER.get(key));
    expect(literal(assignments(attrsOf(MODULE, 'systemd.timers.hostsync')).get('wantedBy') ?? '')).toEqual(directives(TIMER, 'Install').get('WantedBy'));
  });
});

// ---------------------------------------------------------------------------------------------
// Evaluation of the module's `config` half with a stand-in for nixpkgs' lib.

const PACKAGE = '/nix/store/00000000000000000000000000000000-hostsync-0.1.0';

/**
 * The few functions of nixpkgs' lib that the module calls, with nixpkgs' semantics, and option
 * types reduced to a check. Not the module system: no merging, no priorities; `cfg` is the
 * options' defaults overlaid with a scenario's values.
 */
const HARNESS = (example: string): string => `
{ modulePath, scenariosJson }:
let
  inherit (builtins) all attrNames elem filter fromJSON getAttr hasAttr isAttrs isBool isInt isList isString length mapAttrs match removeAttrs stringLength substring;

  types = {
    str = { check = isString; };
    bool = { check = isBool; };
    package = { check = x: isString x || isAttrs x; };
    strMatching = regex: { check = x: isString x && match regex x != null; };
    nullOr = type: { check = x: x == null || type.check x; inherit type; };
    either = a: b: { check = x: a.check x || b.check x; };
    listOf = type: { check = x: isList x && all type.check x; };
    enum = values: { check = x: elem x values; };
    ints.between = lo: hi: { check = x: isInt x && x >= lo && x <= hi; };
    submodule = module: {
      inherit (module) options;
      check = x: isAttrs x
        && all (name: hasAttr name module.options && (getAttr name module.options).type.check (getAttr name x)) (attrNames x)
        && all (name: hasAttr name x || hasAttr "default" (getAttr name module.options)) (attrNames module.options);
    };
  };

  lib = rec {
    inherit types;
    mkOption = declaration: declaration;
    mkEnableOption = name: { type = types.bool; default = false; description = "Whether to enable " + name + "."; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    optional = condition: element: if condition then [ element ] else [ ];
    optionals = condition: elements: if condition then elements else [ ];
    optionalAttrs = condition: set: if condition then set else { };
    filterAttrs = predicate: set: removeAttrs set (filter (name: !(predicate name (getAttr name set))) (attrNames set));
    hasPrefix = prefix: string: substring 0 (stringLength prefix) string == prefix;
    removePrefix = prefix: string:
      if hasPrefix prefix string then substring (stringLength prefix) (stringLength string - stringLength prefix) string else string;
    # nixpkgs escapes the infix for the regex; the module's infixes have no special characters.
    hasInfix = infix: string: length (builtins.split infix string) > 1;
    toList = x: if isList x then x else [ x ];
    concatStringsSep = builtins.concatStringsSep;
  };

  package = "${PACKAGE}";
  pkgs = {
    git = "/nix/store/00000000000000000000000000000000-git";
    formats.json = { }: {
      type = { check = x: true; };
      generate = name: value: { inherit name value; };
    };
    callPackage = fn: args: package;
  };

  resolve = value: if isAttrs value && (value._type or null) == "if" then (if value.condition then value.content else null) else value;
  defaultsOf = declarations: mapAttrs (name: d: d.default) (lib.filterAttrs (name: d: hasAttr "default" d) declarations);

  evaluate = user:
    let
      module = import (/. + modulePath) { inherit config lib pkgs; };
      declared = module.options.services.hostsync;
      cfg = defaultsOf declared // user // {
        rebuild = if (user.rebuild or null) == null then null else defaultsOf declared.rebuild.type.type.options // user.rebuild;
      };
      config = {
        services.hostsync = cfg;
        system.build.nixos-rebuild = "/nix/store/00000000000000000000000000000000-nixos-rebuild";
        nix.package = "/nix/store/00000000000000000000000000000000-nix";
        networking = { hostName = "alpha"; proxy.envVars = { }; };
      };
      result = resolve module.config;
      service = result.systemd.services.hostsync;
    in {
      missing = filter (name: !(hasAttr name cfg)) (attrNames declared);
      typeErrors = filter (name: hasAttr name cfg && !((getAttr name declared).type.check (getAttr name cfg))) (attrNames declared);
      enabled = result != null;
    } // (if result == null then { } else {
      assertions = map (a: { inherit (a) assertion message; }) result.assertions;
      inherit (result) warnings;
      configFile = result.environment.etc."hostsync/config.json".source;
      systemPackages = result.environment.systemPackages;
      service = {
        inherit (service) description documentation wants after path restartIfChanged unitConfig serviceConfig;
        environment = resolve service.environment;
      };
      timer = result.systemd.timers.hostsync;
      notify = let n = result.systemd.services."hostsync-notify@"; in { inherit (n) description serviceConfig; };
    });

  example = (${example}) { config = { networking.hostName = "alpha"; }; inherit lib pkgs; };
in
mapAttrs (name: evaluate) (fromJSON scenariosJson) // { example = evaluate example.services.hostsync; }
`;

interface Evaluation {
  readonly missing: string[];
  readonly typeErrors: string[];
  readonly enabled: boolean;
  readonly assertions?: { assertion: boolean; message: string }[];
  readonly warnings?: string[];
  readonly configFile?: { name: string; value: Record<string, unknown> };
  readonly systemPackages?: unknown[];
  readonly service?: {
    description: string;
    documentation: string[];
    wants: string[];
    after: string[];
    path: string[];
    restartIfChanged: boolean;
    unitConfig: Record<string, unknown>;
    serviceConfig: Record<string, unknown>;
    environment: Record<string, string> | null;
  };
  readonly timer?: { description: string; wantedBy: string[]; timerConfig: Record<string, unknown> };
  readonly notify?: { description: string; serviceConfig: Record<string, unknown> };
}

const BASE = { enable: true, package: PACKAGE, repo: 'acme/hypervisor', dest: '/etc/hypervisor' };
const SCENARIOS = {
  /** The shipped unit's situation: a private repository, no rebuild. */
  shipped: { ...BASE, tokenFile: '/etc/hostsync/token' },
  publicRepo: { ...BASE, path: 'hosts/alpha' },
  sandboxedExtras: { ...BASE, metricsFile: '/var/lib/node-exporter/hostsync.prom', extraSettings: { layout: 'symlink', historyLimit: 3 } },
  longRebuild: { ...BASE, rebuild: { command: 'nixos-rebuild switch', timeoutSec: 7200 } },
  sandboxedRebuild: { ...BASE, sandbox: true, rebuild: { command: 'nixos-rebuild switch' } },
  tokenInConfig: { ...BASE, tokenFile: '/nix/store/00000000000000000000000000000000-token', extraSettings: { token: 'ghp_x', repo: 'evil/repo', destt: 1 } },
  githubApp: { ...BASE, appPrivateKeyFile: '/etc/hostsync/github-app.pem', extraSettings: { appId: 12345 } },
  appKeyInStore: { ...BASE, appPrivateKeyFile: '/nix/store/00000000000000000000000000000000-app.pem', extraSettings: { appPrivateKeyFile: '/x' } },
  disabled: { ...BASE, enable: false },
};

let evaluations: Record<keyof typeof SCENARIOS | 'example', Evaluation> | undefined;

/** One nix-instantiate --eval for every scenario (about 0.1 s). */
function evaluated(): NonNullable<typeof evaluations> {
  if (evaluations !== undefined) return evaluations;
  const run = nixInstantiate([
    '--eval', '--strict', '--json',
    '--argstr', 'modulePath', MODULE_FILE,
    '--argstr', 'scenariosJson', JSON.stringify(SCENARIOS),
    '-E', HARNESS(docsBlock('nixos-module', 'nix')),
  ]);
  if (run.status !== 0) throw new Error(`evaluating nix/module.nix with the stand-in lib failed:\n${run.stderr}`);
  evaluations = JSON.parse(run.stdout) as NonNullable<typeof evaluations>;
  return evaluations;
}

function scenario(name: keyof NonNullable<typeof evaluations>): Required<Evaluation> {
  const result = evaluated()[name];
  expect(result.missing, `${name}: options without a value`).toEqual([]);
  expect(result.typeErrors, `${name}: values that fail their option's type`).toEqual([]);
  return result as Required<Evaluation>;
}

function hostsyncAccepts(data: Record<string, unknown>): void {
  const parsed = parseConfig({ flags: {}, file: { path: '/etc/hostsync/config.json', data }, env: {}, token: undefined, home: '/root', isRoot: true, cwd: '/' });
  expect(parsed.ok ? [] : parsed.errors, JSON.stringify(data)).toEqual([]);
}

const failedAssertions = (result: Required<Evaluation>): string[] => result.assertions.filter((a) => !a.assertion).map((a) => a.message);

/** The shipped [Service] settings with ExecStart on the package, plus what the module adds. */
function shippedServiceWith(keys: readonly string[]): Map<string, string[]> {
  const out = new Map(MODULE_ONLY_SERVICE);
  for (const key of keys) {
    const values = SHIPPED_SERVICE.get(key) ?? [];
    out.set(key, key === 'ExecStart' ? values.map((v) => v.replace(UNIT_EXEC_PLACEHOLDER, `${PACKAGE}/bin/hostsync`)) : values);
  }
  return out;
}

describe('nix/module.nix: its config, evaluated with a stand-in for lib', () => {
  it('the example of docs/nixos.md writes the config.json shown there, which hostsync accepts', () => {
    const example = scenario('example');
    expect(failedAssertions(example)).toEqual([]);
    expect(example.warnings).toEqual([]);
    expect(example.configFile.value).toEqual(JSON.parse(docsBlock('nixos-module', 'json')));
    hostsyncAccepts(example.configFile.value);
    expect(example.systemPackages).toEqual([PACKAGE]);
  });

  it('with the sandbox, the service has exactly the settings of systemd/hostsync.service, and the timer those of hostsync.timer', () => {
    const shipped = scenario('shipped');
    expect(failedAssertions(shipped)).toEqual([]);
    expect(sorted(rendered(shipped.service.serviceConfig))).toEqual(sorted(shippedServiceWith([...SHIPPED_SERVICE.keys()])));
    expect(shipped.service.description).toBe(directives(SERVICE, 'Unit').get('Description')?.[0]);
    expect(shipped.service.wants).toEqual(directives(SERVICE, 'Unit').get('Wants'));
    expect(shipped.service.after).toEqual(directives(SERVICE, 'Unit').get('After'));
    expect(shipped.service.documentation.length).toBeGreaterThan(0);
    expect(shipped.service.restartIfChanged).toBe(false);
    expect(shipped.service.environment).toBeNull();
    expect(sorted(rendered(shipped.timer.timerConfig))).toEqual(sorted(SHIPPED_TIMER));
    // A failed run starts hostsync-notify@, which is the shipped template unit.
    expect(shipped.service.unitConfig['OnFailure']).toBe(directives(SERVICE, 'Unit').get('OnFailure')?.[0]);
    expect(sorted(rendered(shipped.notify!.serviceConfig))).toEqual(sorted(directives(NOTIFY, 'Service')));
    expect(shipped.notify!.description).toBe(directives(NOTIFY, 'Unit').get('Description')?.[0]);
    expect(shipped.timer.description).toBe(directives(TIMER, 'Unit').get('Description')?.[0]);
    expect(shipped.timer.wantedBy).toEqual(directives(TIMER, 'Install').get('WantedBy'));
    hostsyncAccepts(shipped.configFile.value);
    expect(Object.keys(shipped.configFile.value).sort()).toEqual(['dest', 'preserve', 'prune', 'ref', 'repo', 'stateDir']);
  });

  it('with a rebuild, exactly the settings hostsync-rebuild.conf turns off are gone, and the rebuild has its tools', () => {
    const example = scenario('example');
    expect(sorted(rendered(example.service.serviceConfig))).toEqual(sorted(shippedServiceWith(KEPT_KEYS)));
    expect(example.service.path).toContain('/nix/store/00000000000000000000000000000000-nixos-rebuild');
    expect(example.service.environment).toEqual({ HOME: '/root' });
    expect(example.service.unitConfig).toEqual({ 'X-StopOnRemoval': false, OnFailure: 'hostsync-notify@%n.service' });
  });

  it('without a token file there is no credential; path is written only when set', () => {
    const publicRepo = scenario('publicRepo');
    expect(rendered(publicRepo.service.serviceConfig).has('LoadCredential')).toBe(false);
    expect(publicRepo.configFile.value['path']).toBe('hosts/alpha');
    expect(scenario('shipped').configFile.value).not.toHaveProperty('path');
    hostsyncAccepts(publicRepo.configFile.value);
  });

  it('makes the metrics folder and, for layout symlink, the folder holding DEST writable in the sandbox', () => {
    const extras = scenario('sandboxedExtras');
    expect(extras.service.serviceConfig['ReadWritePaths']).toEqual(['/etc/hypervisor', '-/var/lib/node-exporter', '/etc']);
    expect(extras.configFile.value).toMatchObject({ layout: 'symlink', historyLimit: 3, metricsFile: '/var/lib/node-exporter/hostsync.prom' });
    hostsyncAccepts(extras.configFile.value);
  });

  it('gives a long rebuild an hour more than its own limit, and warns about nixos-rebuild in the sandbox', () => {
    expect(scenario('longRebuild').service.serviceConfig['TimeoutStartSec']).toBe('10800s');
    const sandboxed = scenario('sandboxedRebuild');
    expect(sandboxed.service.serviceConfig['ProtectSystem']).toBe('strict');
    expect(sandboxed.warnings.join('\n')).toMatch(/nixos-rebuild/);
  });

  it('refuses a token in the configuration, a token file in the Nix store, modelled and unknown keys in extraSettings', () => {
    const failed = failedAssertions(scenario('tokenInConfig'));
    expect(failed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/tokenFile is in the Nix store/),
        expect.stringMatching(/must not hold the token/),
        expect.stringMatching(/extraSettings\.repo: set services\.hostsync\.repo instead/),
        expect.stringMatching(/extraSettings\.destt is not a hostsync setting/),
      ]),
    );
    expect(failed).toHaveLength(4);
  });

  it('hands a GitHub App key over as the credential github-app-key, which hostsync finds with the appId of config.json', () => {
    const app = scenario('githubApp');
    expect(failedAssertions(app)).toEqual([]);
    expect(app.service.serviceConfig['LoadCredential']).toEqual(['github-app-key:/etc/hostsync/github-app.pem']);
    expect(app.configFile.value).toMatchObject({ appId: 12345 });
    expect(app.configFile.value).not.toHaveProperty('appPrivateKeyFile');
    const key = { pem: '-----BEGIN RSA PRIVATE KEY-----\n…\n-----END RSA PRIVATE KEY-----\n', file: '/run/credentials/hostsync.service/github-app-key' };
    const parsed = parseConfig({ flags: {}, file: { path: '/etc/hostsync/config.json', data: app.configFile.value }, env: {}, token: undefined, appKey: key, home: '/root', isRoot: true, cwd: '/' });
    expect(parsed.ok && parsed.config.githubApp).toMatchObject({ appId: '12345', privateKeyFile: key.file });
  });

  it('refuses an App key in the Nix store, a key without an appId, and the key file in extraSettings', () => {
    expect(failedAssertions(scenario('appKeyInStore'))).toEqual([
      expect.stringMatching(/appPrivateKeyFile is in the Nix store/),
      expect.stringMatching(/needs both its ID \(extraSettings\.appId\) and its key \(appPrivateKeyFile\)/),
      expect.stringMatching(/extraSettings\.appPrivateKeyFile: set services\.hostsync\.appPrivateKeyFile instead/),
    ]);
  });

  it('defines nothing when not enabled', () => {
    expect(evaluated().disabled.enabled).toBe(false);
    expect(evaluated().disabled.configFile).toBeUndefined();
  });
});
