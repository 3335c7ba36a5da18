/**
 * Every `hostsync …` command line the tool prints — in a message, a hint, a help example — works
 * as printed on a host set up the documented way: the config in the default file (here named by
 * HOSTSYNC_CONFIG, as /etc/hostsync/config.json is on a host), nothing else on the command line.
 * The scenario follows an operator: a hand edit, the dev-update that refuses, the `hostsync
 * validate` it suggests, `--fix`, a rollback, the held-back sync and the `rollback --to` it
 * suggests. A second test greps src/ for every hint and checks the scenario ran each one.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/program.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import type { CliResult } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let fx: Fixture;
let configFile: string;
/** Every command line the scenario ran, as typed. */
const ran: string[] = [];

beforeAll(async () => {
  fx = await createFixture();
  configFile = join(fx.tmp, 'etc-hostsync', 'config.json');
  await mkdir(join(fx.tmp, 'etc-hostsync'), { recursive: true });
  await writeFile(configFile, JSON.stringify({ repo: 'acme/hypervisor', ref: 'main', dest: fx.dest, stateDir: fx.stateDir }));
});
afterAll(async () => {
  await fx.close();
});

/** Run a printed command line as it is (no flags added), with the default config file in place. */
async function run(line: string, env: Record<string, string> = {}): Promise<CliResult> {
  const words = line.split(' > ')[0]!.trim().split(/\s+/);
  expect(words[0]).toBe('hostsync');
  ran.push(line);
  return fx.run(words.slice(1), { bare: true, env: { HOSTSYNC_CONFIG: configFile, ...env } });
}

/** The `hostsync …` command lines quoted in a run's output. */
function hintsIn(text: string): string[] {
  return [...text.matchAll(/['`](hostsync [^'`]+)['`]/g)].map((match) => match[1]!);
}

describe('hints work as printed', () => {
  it('after a hand edit: dev-update refuses, `hostsync validate` shows why, `hostsync dev-update --fix` repairs', async () => {
    await fx.repo.write('flake.nix', '{ v1 }\n');
    await fx.repo.write('hosts/alpha/configuration.nix', '{ alpha }\n');
    await fx.repo.commit('v1');
    expect((await run('hostsync sync')).code).toBe(0);
    await writeFile(join(fx.dest, 'flake.nix'), 'edited by hand\n');
    await fx.repo.write('flake.nix', '{ v2 }\n');
    await fx.repo.commit('v2');

    const refused = await run('hostsync dev-update');
    expect(refused.code).toBe(1);
    const hints = hintsIn(refused.stderr + refused.stdout);
    expect(hints).toEqual(expect.arrayContaining(['hostsync validate', 'hostsync dev-update --fix']));
    const validate = await run('hostsync validate');
    // It runs and names the problem (exit 1: a check fails), instead of "Missing destination" (exit 2).
    expect(validate.code, validate.stderr).toBe(1);
    expect(validate.stdout).toMatch(/fail\s+integrity\s+1 managed path\(s\) differ .*flake\.nix/);
    const fixed = await run('hostsync dev-update --fix');
    expect(fixed.code, fixed.stderr).toBe(0);
    expect((await run('hostsync validate')).code).toBe(0);
    expect((await run('hostsync validate --fix')).code).toBe(0);
  });

  it('after a rollback: sync says DEST is held and where the ref is; the `hostsync rollback --to` it prints moves DEST forward', async () => {
    const head = await fx.repo.head();
    const back = await run('hostsync rollback');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/^rolled \S+ back from [0-9a-f]{12} to [0-9a-f]{12} \(generation \d+\): 1 file changed$/m);
    expect((await run('hostsync history')).code).toBe(0);

    const held = await run('hostsync sync');
    expect(held.code, held.stderr).toBe(0);
    // Not "in sync (main → …)": main is elsewhere.
    expect(held.stdout).not.toMatch(/in sync/);
    expect(held.stdout).toContain(`main is at ${head.slice(0, 12)}`);
    const dev = await run('hostsync dev-update --check-only');
    expect(dev.code, dev.stderr).toBe(0);
    expect(dev.stdout).toMatch(new RegExp(`sync\\s+held at [0-9a-f]{12} after a rollback; main is at ${head.slice(0, 12)}`));
    expect(dev.stdout).not.toMatch(/in sync \(main/);

    const forward = [...new Set([...hintsIn(held.stdout), ...hintsIn(held.stderr)])].filter((hint) => hint.startsWith('hostsync rollback --to'));
    expect(forward).toEqual([`hostsync rollback --to ${head.slice(0, 12)}`]);
    const moved = await run(forward[0]!);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/^rolled \S+ forward from [0-9a-f]{12} to [0-9a-f]{12} /m);
    await fx.expectSameAsCommit(head);
    const json = await run('hostsync rollback --check-only --json');
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ format: 1, command: 'rollback', ok: true, generation: null, direction: 'back', checkOnly: true });
  });

  it('the other hints and the help examples that need no host of their own', async () => {
    const head = await fx.repo.head();
    expect((await run(`hostsync sync --ref ${head}`)).code).toBe(0);
    expect((await run('hostsync sync --check-only')).code).toBe(0);
    expect((await run('hostsync rollback --check-only')).code).toBe(3);
    expect((await run('hostsync rollback --to 1a2b3c4d')).code).toBe(1); // no such generation: says so, not a usage error
    expect((await run('hostsync dev-update --no-rebuild')).code).toBe(0);
    expect((await run('hostsync dev-update')).code).toBe(0);
    expect((await run('hostsync history --json')).code).toBe(0);
    await fx.repo.branch('feature/new-bridge');
    expect((await run('hostsync dev-update --ref feature/new-bridge --check-only')).code).toBe(0);
    // diff exits 0 when nothing differs (3 when something does, like --check-only).
    expect((await run('hostsync diff')).code).toBe(0);
    expect((await run('hostsync diff --ref feature/new-bridge')).code).toBe(0);
    expect((await run('hostsync diff --drift')).code).toBe(0);
    expect((await run('hostsync history --file flake.nix')).code).toBe(0);
    expect((await run(`hostsync restore flake.nix --to ${head.slice(0, 12)}`)).code).toBe(0); // already that version
    expect((await run('hostsync restore flake.nix --to 1a2b3c4d')).code).toBe(1); // no such generation: says so
    for (const line of ['hostsync --help', 'hostsync sync --help', 'hostsync help', 'hostsync help sync', 'hostsync version', 'hostsync completion bash']) {
      const result = await run(line);
      expect(result.code, `${line}: ${result.stderr}`).toBe(0);
      expect(result.stdout).not.toBe('');
    }
    const installed = await run('hostsync install-units --prefix ./units --bin /run/current-system/sw/bin/hostsync');
    expect(installed.code, installed.stderr).toBe(0);
    expect([0, 3]).toContain((await run('hostsync install-units --dry-run')).code);
  });

  it('without the default config file, says so instead of "Missing repository" (exit 2)', async () => {
    const missing = join(fx.tmp, 'etc-hostsync', 'absent.json');
    const result = await run('hostsync validate', { HOSTSYNC_CONFIG: missing });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`hostsync: No config file at ${missing}; pass --config FILE, or --dest DIR (or write ${missing}: docs/getting-started.md).\n`);
    const sync = await run('hostsync sync', { HOSTSYNC_CONFIG: missing });
    expect(sync.stderr).toMatch(/No config file at .*; pass --config FILE, or --repo OWNER\/NAME and --dest DIR/);
  });
});

/** Hints that cannot run here as printed, and why. */
const EXEMPT: Readonly<Record<string, string>> = {
  'hostsync sync --repo acme/hypervisor --ref main --dest /etc/hypervisor': 'the example writes /etc/hypervisor',
  'hostsync validate --dest /etc/hypervisor --preset nixos-hypervisor': 'the example reads /etc/hypervisor',
  'hostsync history --dest /etc/hypervisor --json': 'the example reads /etc/hypervisor (run here as `hostsync history --json`)',
  'hostsync install-units': "writes this host's /etc/systemd/system (test/systemd runs it under --prefix)",
};

/** `${…}`, hex SHAs (7 or more digits) and upper-case placeholders become X: the shape of a hint. */
function shape(line: string): string[] {
  return line
    .replace(/\$\{[^}]*\}/g, 'X')
    .split(' > ')[0]!
    .trim()
    .split(/\s+/)
    .map((word) => (/^[0-9a-f]{7,40}$/.test(word) || /^[A-Z][A-Z/]+$/.test(word) || /^X+$/.test(word) ? 'X' : word));
}

/** Whether a command line that ran has the hint's shape (X stands for any one word). */
function covers(hint: string, line: string): boolean {
  const a = shape(hint);
  const b = shape(line);
  return a.length === b.length && a.every((word, i) => word === 'X' || word === b[i]);
}

/** `hostsync …` command lines quoted in src/ (comments left out). */
function sourceHints(): Map<string, string[]> {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const file = join(dir, name);
      return statSync(file).isDirectory() ? walk(file) : file.endsWith('.ts') ? [file] : [];
    });
  const hints = new Map<string, string[]>();
  for (const file of walk(join(ROOT, 'src'))) {
    const code = readFileSync(file, 'utf8').split('\n').filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join('\n');
    for (const match of code.matchAll(/(?:\\`|'|`)hostsync ((?:[^'`\\$]|\$\{[^}]*\})*)(?:\\`|'|`)/g)) {
      const hint = `hostsync ${match[1]!}`.trim();
      // A command line: a command (or a placeholder for one) or an option after `hostsync`.
      const first = hint.split(/\s+/)[1] ?? '';
      const commandLike = first.startsWith('-') || first.startsWith('${') || /^[A-Z]+$/.test(first) || COMMANDS.some((command) => command.name === first);
      if (!commandLike || /:\s/.test(hint)) continue; // prose ("hostsync X: keep a directory …")
      hints.set(hint, [...(hints.get(hint) ?? []), file.slice(ROOT.length)]);
    }
  }
  return hints;
}

describe('every hint in src/ is one the scenario ran', () => {
  it('finds the hints (the grep works)', () => {
    const hints = [...sourceHints().keys()];
    expect(hints).toEqual(expect.arrayContaining(['hostsync validate', 'hostsync dev-update --fix', 'hostsync history']));
    expect(hints.some((hint) => hint.startsWith('hostsync rollback --to $'))).toBe(true);
  });

  it('each one ran as printed above, or is exempt with a reason', () => {
    const missing = [...sourceHints()].filter(([hint]) => EXEMPT[hint] === undefined && !ran.some((line) => covers(hint, line))).map(([hint, files]) => `${hint} (${[...new Set(files)].join(', ')})`);
    expect(missing, `hints no test ran as printed:\n  ${missing.join('\n  ')}`).toEqual([]);
  });
});
