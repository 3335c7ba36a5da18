/**
 * Checks of the host around DEST: `tools` (required programs on PATH), `command` (a configured
 * command such as `nix flake metadata` must succeed), `nix` (nix with the experimental features a
 * flake host needs) and `device` (e.g. /dev/kvm). What cannot apply here (no nix, not Linux) is
 * `skip`, never `pass`.
 */
import type { Check, CheckOutcome, FileFacts } from './types.js';
import { outcome } from './outcome.js';
import type { Params } from './params.js';

/** `tools`: which of `names` were not found. Pure. */
export function evaluateTools(found: ReadonlyMap<string, string | undefined>, path: string): CheckOutcome {
  const missing = [...found].filter(([, where]) => where === undefined).map(([name]) => name);
  if (missing.length === 0) return outcome('pass', `On PATH: ${[...found].map(([name, where]) => `${name} (${where})`).join(', ')}.`);
  return outcome('fail', `Not on PATH: ${missing.join(', ')} (PATH=${path || '(empty)'}). Install them (NixOS: environment.systemPackages) or fix PATH for the service.`);
}

/** The `tools` check: `names` of programs that must be on PATH. */
export function toolsCheck(id: string, params: Params): Check {
  const names = params.strings('names', ['git', 'nix']) ?? [];
  if (names.length === 0) params.errors.push(`${params.label} needs \`names\`, e.g. "names": ["nixos-rebuild"].`);
  return {
    id,
    type: 'tools',
    async run(context) {
      const found = new Map<string, string | undefined>();
      for (const name of names) found.set(name, await context.host.which(name));
      return evaluateTools(found, context.host.env['PATH'] ?? '');
    },
  };
}

/** How a command ran, as `evaluateCommand` needs it. */
export interface CommandRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly lastLines: readonly string[];
  readonly startError?: string | undefined;
}

/** `command`: pass on exit 0, else fail with how it ended and its last lines. Pure. */
export function evaluateCommand(command: string, run: CommandRun, timeoutSec: number): CheckOutcome {
  if (run.code === 0 && !run.timedOut && run.startError === undefined) return outcome('pass', `'${command}' succeeded.`);
  const end =
    run.startError !== undefined ? `could not start (${run.startError})` : run.timedOut ? `timed out after ${timeoutSec} s` : run.signal !== null ? `was killed by ${run.signal}` : `exited with ${run.code}`;
  const tail = run.lastLines.length === 0 ? '' : ` Last lines: ${run.lastLines.slice(-5).join(' ⏎ ')}`;
  return outcome('fail', `'${command}' ${end}.${tail}`);
}

/** The `command` check: `command` (run with /bin/sh -c in DEST), `timeoutSec` (60), `requires` (skip unless on PATH). */
export function commandCheck(id: string, params: Params): Check {
  const command = params.requiredString('command', 'nix flake metadata .') ?? '';
  const timeoutSec = params.integer('timeoutSec', 1, 86_400, 120) ?? 60;
  const requires = params.strings('requires', ['nix']) ?? [];
  return {
    id,
    type: 'command',
    async run(context) {
      const missing: string[] = [];
      for (const tool of requires) if ((await context.host.which(tool)) === undefined) missing.push(tool);
      if (missing.length > 0) return outcome('skip', `Not run: ${missing.join(', ')} not on PATH, so '${command}' cannot apply on this host.`);
      const rootFacts = await context.host.fileFacts(context.root);
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(context.host.env)) if (value !== undefined) env[key] = value;
      env['HOSTSYNC_DEST'] = context.dest;
      const run = await context.host.runCommand(command, { env, timeoutMs: timeoutSec * 1000, cwd: rootFacts?.kind === 'dir' ? context.root : undefined });
      return evaluateCommand(command, run, timeoutSec);
    },
  };
}

/**
 * The experimental features a nix.conf enables: `experimental-features` replaces the set,
 * `extra-experimental-features` adds to it; later lines win. `undefined` when neither is set.
 * `include` lines are not followed. Pure.
 */
export function parseNixFeatures(text: string, start: ReadonlySet<string> | undefined = undefined): Set<string> | undefined {
  let features = start === undefined ? undefined : new Set(start);
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const match = /^(extra-)?experimental-features\s*=\s*(.*)$/.exec(line);
    if (match === null) continue;
    const words = (match[2] ?? '').split(/\s+/).filter((word) => word !== '');
    if (match[1] === undefined) features = new Set(words);
    else features = new Set([...(features ?? []), ...words]);
  }
  return features;
}

/** Where nix's features were learnt, and which they are. */
export interface NixFacts {
  /** undefined: nix is not on PATH. */
  readonly nix: string | undefined;
  readonly features: ReadonlySet<string> | undefined;
  /** `nix config show`, or the files read. */
  readonly source: string;
}

/** `nix`: nix on PATH with the wanted experimental features. Pure. */
export function evaluateNix(facts: NixFacts, wanted: readonly string[]): CheckOutcome {
  if (facts.nix === undefined) return outcome('skip', 'nix is not on PATH: this is not a Nix host, so the Nix checks do not apply.');
  const have = facts.features ?? new Set<string>();
  const missing = wanted.filter((feature) => !have.has(feature));
  if (missing.length === 0) return outcome('pass', `${facts.nix} has ${wanted.join(', ')} enabled (${facts.source}).`);
  return outcome(
    'fail',
    `nix lacks the experimental feature(s) ${missing.join(', ')} (enabled: ${have.size === 0 ? 'none' : [...have].join(', ')}, from ${facts.source}). On NixOS set nix.settings.experimental-features = [ ${wanted.map((f) => `"${f}"`).join(' ')} ]; elsewhere add "experimental-features = ${wanted.join(' ')}" to /etc/nix/nix.conf.`,
  );
}

/** The `nix` check: `features` (default nix-command, flakes). */
export function nixCheck(id: string, params: Params): Check {
  const wanted = params.strings('features', ['nix-command', 'flakes']) ?? ['nix-command', 'flakes'];
  return {
    id,
    type: 'nix',
    async run(context) {
      const nix = await context.host.which('nix');
      if (nix === undefined) return evaluateNix({ nix, features: undefined, source: 'none' }, wanted);
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(context.host.env)) if (value !== undefined) env[key] = value;
      const shown = await context.host.runCommand('nix config show experimental-features', { env, timeoutMs: 30_000 });
      if (shown.code === 0 && shown.lastLines.length > 0) {
        return evaluateNix({ nix, features: new Set(shown.lastLines.join(' ').split(/\s+/).filter((w) => w !== '')), source: 'nix config show' }, wanted);
      }
      // Older nix, or nix-command itself disabled: read the configuration as nix would.
      const conf = (await context.host.readText('/etc/nix/nix.conf')) ?? '';
      const fromFile = parseNixFeatures(conf);
      const fromEnv = parseNixFeatures(context.host.env['NIX_CONFIG'] ?? '', fromFile);
      return evaluateNix({ nix, features: fromEnv, source: context.host.env['NIX_CONFIG'] === undefined ? '/etc/nix/nix.conf' : '/etc/nix/nix.conf and NIX_CONFIG' }, wanted);
    },
  };
}

/** `device`: a character device exists at `path`. Pure. */
export function evaluateDevice(path: string, facts: FileFacts | undefined, platform: NodeJS.Platform): CheckOutcome {
  if (platform !== 'linux') return outcome('skip', `${path} is a Linux device; this host runs ${platform}.`);
  if (facts === undefined) {
    const kvm = path === '/dev/kvm' ? ' Enable virtualization (VT-x/AMD-V) in the firmware and load kvm-intel or kvm-amd (NixOS: boot.kernelModules).' : '';
    return outcome('fail', `${path} does not exist.${kvm}`, [path]);
  }
  if (facts.kind !== 'char-device') return outcome('fail', `${path} is a ${facts.kind}, not a character device.`, [path]);
  return outcome('pass', `${path} is present.`);
}

/** The `device` check: `path` of a character device. */
export function deviceCheck(id: string, params: Params): Check {
  const path = params.requiredString('path', '/dev/kvm') ?? '';
  return {
    id,
    type: 'device',
    run: async (context) => evaluateDevice(path, await context.host.statFacts(path), context.host.platform),
  };
}
