/** Table tests of the pure evaluation of the state, disk, attribute, file and host checks. */
import { describe, expect, it } from 'vitest';
import { evaluateAttributes, evaluateExecutable, resolveAccount, resolveWanted, withExecBits, type AttributeSample } from '../../src/checks/attributes.js';
import { evaluateSpace } from '../../src/checks/disk.js';
import { evaluateJson, evaluateRequired, type RequiredSample } from '../../src/checks/files.js';
import { parseAccountFile } from '../../src/checks/probe.js';
import { evaluateState, type StateFacts } from '../../src/checks/state.js';
import { evaluateCommand, evaluateDevice, evaluateNix, evaluateTools, parseNixFeatures } from '../../src/checks/system.js';
import type { FileFacts } from '../../src/checks/types.js';
import type { GitMode } from '../../src/model.js';

const SHA = '1234567890abcdef1234567890abcdef12345678';
const f = (kind: FileFacts['kind'], mode: number, uid = 0, gid = 0): FileFacts => ({ kind, mode, uid, gid });

describe('evaluateState', () => {
  const base: StateFacts = { lock: { state: 'free' }, journal: { state: 'none' }, manifestError: undefined, commit: SHA, missingObjects: 0, stateDir: '/var/lib/hostsync' };
  const cases: [string, Partial<StateFacts>, string, boolean, RegExp][] = [
    ['all well, lock free', {}, 'pass', false, /No interrupted apply; applied commit 1234567890ab.*lock is free/],
    ['lock held by this run', { lock: { state: 'self' } }, 'pass', false, /held by this run/],
    ['lock held by another run', { lock: { state: 'other', pid: 42 } }, 'warn', false, /PID 42/],
    ['stale lock file', { lock: { state: 'stale', file: '/s/k.lock' } }, 'warn', true, /stale.*--fix removes it/],
    ['interrupted journal', { journal: { state: 'interrupted', commit: SHA, startedAt: 'T', ops: 3 } }, 'fail', true, /interrupted.*--fix finishes it/],
    ['journal with a live holder is an apply in progress', { journal: { state: 'interrupted', commit: SHA, startedAt: 'T', ops: 3 }, lock: { state: 'other', pid: 7 } }, 'warn', false, /in progress/],
    ['unreadable journal', { journal: { state: 'unreadable', message: 'The apply journal /j is unreadable' } }, 'fail', false, /\/j is unreadable/],
    ['unreadable manifest', { manifestError: 'The manifest /m is unreadable' }, 'fail', false, /\/m/],
    ['blobs missing from the store', { missingObjects: 2 }, 'warn', false, /lacks 2 blob/],
    ['nothing applied yet', { commit: undefined }, 'pass', false, /nothing applied yet/],
  ];
  it.each(cases)('%s', (_name, facts, status, fixable, message) => {
    const result = evaluateState({ ...base, ...facts });
    expect(result.status).toBe(status);
    expect(result.fixable).toBe(fixable);
    expect(result.message).toMatch(message);
  });
});

describe('evaluateSpace', () => {
  const GiB = 1024 ** 3;
  const cases: [string, [number, number][], { minFreeBytes: number; minFreePercent: number }, string][] = [
    ['plenty', [[10 * GiB, 100 * GiB], [10 * GiB, 100 * GiB]], { minFreeBytes: 100 * 2 ** 20, minFreePercent: 0 }, 'pass'],
    ['DEST low', [[50 * 2 ** 20, 100 * GiB], [10 * GiB, 100 * GiB]], { minFreeBytes: 100 * 2 ** 20, minFreePercent: 0 }, 'fail'],
    ['percent low', [[2 * GiB, 100 * GiB], [2 * GiB, 100 * GiB]], { minFreeBytes: 0, minFreePercent: 5 }, 'fail'],
    ['exactly at the limit', [[100 * 2 ** 20, GiB], [100 * 2 ** 20, GiB]], { minFreeBytes: 100 * 2 ** 20, minFreePercent: 0 }, 'pass'],
  ];
  it.each(cases)('%s', (_name, samples, threshold, status) => {
    const labels = ['DEST', 'state dir'];
    const result = evaluateSpace(
      samples.map(([freeBytes, totalBytes], i) => ({ label: labels[i] ?? 'x', path: `/fs${i}`, space: { freeBytes, totalBytes } })),
      threshold,
    );
    expect(result.status).toBe(status);
    expect(result.fixable).toBe(false);
  });
  it('names the filesystem that is low', () => {
    const result = evaluateSpace([{ label: 'state dir', path: '/var/lib/hostsync', space: { freeBytes: 1024, totalBytes: GiB } }], { minFreeBytes: 2 ** 20, minFreePercent: 0 });
    expect(result.message).toContain('state dir (/var/lib/hostsync): 1.0 KiB free of 1.0 GiB');
    expect(result.paths).toEqual(['/var/lib/hostsync']);
  });
});

describe('accounts', () => {
  it('parses passwd/group and resolves names and ids', () => {
    const users = parseAccountFile('root:x:0:0:root:/root:/bin/sh\n# comment\nnixbld1:x:30001:30000::/:/bin/false\nbroken\n');
    expect([...users]).toEqual([
      ['root', 0],
      ['nixbld1', 30001],
    ]);
    expect(resolveAccount('root', users)).toBe(0);
    expect(resolveAccount('1234', users)).toBe(1234);
    expect(resolveAccount('nobody', users)).toBeUndefined();
    expect(resolveWanted({ owner: 'nobody' }, { users, groups: new Map() })).toMatch(/Unknown user 'nobody'/);
    expect(resolveWanted({ owner: 'root', group: '10', mode: 0o640 }, { users, groups: new Map() })).toEqual({ mode: 0o640, uid: 0, gid: 10, owner: 'root', group: '10' });
  });
});

describe('evaluateAttributes', () => {
  const sample = (path: string, facts: FileFacts | undefined, inDest = true): AttributeSample => ({ path, rel: inDest ? path : undefined, facts });
  const cases: [string, AttributeSample[], Parameters<typeof evaluateAttributes>[1], boolean, string, number, boolean][] = [
    ['matching mode', [sample('a', f('file', 0o640))], { mode: 0o640 }, false, 'pass', 0, false],
    ['wrong mode in DEST: fixable', [sample('a', f('file', 0o644))], { mode: 0o640 }, false, 'fail', 1, true],
    ['wrong owner as non-root: not fixable', [sample('a', f('file', 0o640, 1000))], { uid: 0, owner: 'root' }, false, 'fail', 0, false],
    ['wrong owner as root: fixable', [sample('a', f('file', 0o640, 1000))], { uid: 0, owner: 'root' }, true, 'fail', 1, true],
    ['outside DEST: not fixable', [sample('/etc/x', f('file', 0o644), false)], { mode: 0o600 }, true, 'fail', 0, false],
    ['missing path', [sample('gone', undefined)], { mode: 0o600 }, true, 'fail', 0, false],
    ['symlinks are skipped', [sample('l', f('symlink', 0o777))], { mode: 0o600 }, true, 'pass', 0, false],
  ];
  it.each(cases)('%s', (_name, samples, want, isRoot, status, changes, fixable) => {
    const result = evaluateAttributes(samples, want, isRoot, 'configured');
    expect(result.outcome.status).toBe(status);
    expect(result.changes).toHaveLength(changes);
    expect(result.outcome.fixable).toBe(fixable);
  });
  it('words the difference', () => {
    const result = evaluateAttributes([sample('a', f('file', 0o644, 5, 6))], { mode: 0o600, uid: 0, gid: 0, owner: 'root', group: 'wheel' }, true, 'configured');
    expect(result.outcome.message).toContain('a (mode 0644, expected 0600, owner 5, expected root, group 6, expected wheel)');
    expect(result.changes).toEqual([{ path: 'a', mode: 0o600, uid: 0, gid: 0 }]);
  });
});

describe('evaluateExecutable', () => {
  const modes = new Map<string, GitMode>([
    ['managed-exec.sh', '100755'],
    ['managed-plain.sh', '100644'],
  ]);
  const cases: [string, AttributeSample, string, number][] = [
    ['executable', { path: 'x.sh', rel: 'x.sh', facts: f('file', 0o755) }, 'pass', 0],
    ['unmanaged, not executable: fixable', { path: 'x.sh', rel: 'x.sh', facts: f('file', 0o644) }, 'fail', 1],
    ['managed as 100755 but chmodded: fixable', { path: 'managed-exec.sh', rel: 'managed-exec.sh', facts: f('file', 0o644) }, 'fail', 1],
    ['managed as 100644: the repository must change', { path: 'managed-plain.sh', rel: 'managed-plain.sh', facts: f('file', 0o644) }, 'fail', 0],
    ['missing', { path: 'gone.sh', rel: 'gone.sh', facts: undefined }, 'fail', 0],
    ['a directory', { path: 'd', rel: 'd', facts: f('dir', 0o755) }, 'fail', 0],
  ];
  it.each(cases)('%s', (_name, sample, status, changes) => {
    const result = evaluateExecutable([sample], modes);
    expect(result.outcome.status).toBe(status);
    expect(result.changes).toHaveLength(changes);
  });
  it('adds execute where readable', () => {
    expect(withExecBits(0o644)).toBe(0o755);
    expect(withExecBits(0o600)).toBe(0o700);
    expect(withExecBits(0o640)).toBe(0o750);
  });
  it('tells how to fix a commit that has the script non-executable', () => {
    const result = evaluateExecutable([{ path: 'managed-plain.sh', rel: 'managed-plain.sh', facts: f('file', 0o644) }], modes);
    expect(result.outcome.message).toContain('git update-index --chmod=+x managed-plain.sh');
  });
});

describe('evaluateRequired', () => {
  const s = (path: string, want: 'file' | 'dir', facts: FileFacts | undefined, managed = false): RequiredSample => ({ path, want, facts, managed });
  const cases: [string, RequiredSample[], string, boolean, string[], boolean][] = [
    ['all present', [s('flake.nix', 'file', f('file', 0o644)), s('hosts', 'dir', f('dir', 0o755))], 'pass', false, [], false],
    ['missing folder in DEST: created', [s('hosts/h1', 'dir', undefined)], 'fail', true, ['hosts/h1'], false],
    ['missing folder outside DEST: not fixable', [s('/var/lib/libvirt', 'dir', undefined)], 'fail', false, [], false],
    ['missing managed file: restored', [s('flake.nix', 'file', undefined, true)], 'fail', true, [], true],
    ['missing unmanaged file: not fixable', [s('secrets.nix', 'file', undefined)], 'fail', false, [], false],
    ['a folder where a file is wanted', [s('flake.nix', 'file', f('dir', 0o755))], 'fail', false, [], false],
  ];
  it.each(cases)('%s', (_name, samples, status, fixable, dirs, restore) => {
    const { outcome, repairs } = evaluateRequired(samples);
    expect(outcome.status).toBe(status);
    expect(outcome.fixable).toBe(fixable);
    expect(repairs).toEqual({ dirs, restore });
  });
});

describe('evaluateJson', () => {
  const cases: [string, string | undefined, string, RegExp][] = [
    ['valid', '{"nodes": {}}', 'pass', /1 file\(s\) parse/],
    ['missing', undefined, 'fail', /flake\.lock is missing/],
    ['broken', '{"nodes": {,}}', 'fail', /flake\.lock is not valid JSON: .* at line 1, column \d+/],
  ];
  it.each(cases)('%s', (_name, text, status, message) => {
    const result = evaluateJson([{ path: 'flake.lock', text }]);
    expect(result.status).toBe(status);
    expect(result.message).toMatch(message);
  });
});

describe('evaluateTools / evaluateCommand / evaluateDevice', () => {
  it('tools', () => {
    expect(evaluateTools(new Map([['sh', '/bin/sh']]), '/bin').status).toBe('pass');
    const missing = evaluateTools(new Map([['sh', '/bin/sh'], ['nixos-rebuild', undefined]]), '/bin');
    expect(missing.status).toBe('fail');
    expect(missing.message).toContain('Not on PATH: nixos-rebuild (PATH=/bin)');
  });
  const run = (over: Partial<Parameters<typeof evaluateCommand>[1]>): Parameters<typeof evaluateCommand>[1] => ({ code: 0, signal: null, timedOut: false, lastLines: [], ...over });
  const commands: [string, Parameters<typeof evaluateCommand>[1], string, RegExp][] = [
    ['exit 0', run({}), 'pass', /succeeded/],
    ['exit 1', run({ code: 1, lastLines: ['error: flake.lock is stale'] }), 'fail', /exited with 1\. Last lines: error: flake\.lock is stale/],
    ['timed out', run({ code: null, signal: 'SIGTERM', timedOut: true }), 'fail', /timed out after 60 s/],
    ['killed', run({ code: null, signal: 'SIGKILL' }), 'fail', /killed by SIGKILL/],
    ['not started', run({ code: null, startError: 'spawn /bin/sh ENOENT' }), 'fail', /could not start/],
  ];
  it.each(commands)('command: %s', (_name, result, status, message) => {
    const outcome = evaluateCommand('nix flake metadata .', result, 60);
    expect(outcome.status).toBe(status);
    expect(outcome.message).toMatch(message);
  });
  const devices: [string, FileFacts | undefined, NodeJS.Platform, string][] = [
    ['present', f('char-device', 0o600), 'linux', 'pass'],
    ['missing', undefined, 'linux', 'fail'],
    ['a regular file', f('file', 0o644), 'linux', 'fail'],
    ['not Linux', undefined, 'darwin', 'skip'],
  ];
  it.each(devices)('device: %s', (_name, facts, platform, status) => {
    expect(evaluateDevice('/dev/kvm', facts, platform).status).toBe(status);
  });
  it('a missing /dev/kvm says how to get it', () => {
    expect(evaluateDevice('/dev/kvm', undefined, 'linux').message).toMatch(/kvm-intel or kvm-amd/);
  });
});

describe('nix', () => {
  const conf: [string, string, string[] | undefined][] = [
    ['nothing set', 'sandbox = true\n', undefined],
    ['set', 'experimental-features = nix-command flakes\n', ['nix-command', 'flakes']],
    ['extra adds', 'experimental-features = nix-command\nextra-experimental-features = flakes # comment\n', ['nix-command', 'flakes']],
    ['later replaces', 'experimental-features = flakes\nexperimental-features = nix-command\n', ['nix-command']],
    ['comments and spacing', '# experimental-features = flakes\n  experimental-features   =   ca-derivations  \n', ['ca-derivations']],
  ];
  it.each(conf)('parseNixFeatures: %s', (_name, text, features) => {
    const parsed = parseNixFeatures(text);
    expect(parsed === undefined ? undefined : [...parsed]).toEqual(features);
  });
  it('NIX_CONFIG adds to nix.conf', () => {
    expect([...(parseNixFeatures('extra-experimental-features = flakes', new Set(['nix-command'])) ?? [])]).toEqual(['nix-command', 'flakes']);
  });
  const wanted = ['nix-command', 'flakes'];
  const cases: [string, Parameters<typeof evaluateNix>[0], string][] = [
    ['no nix: skip, not pass', { nix: undefined, features: undefined, source: 'none' }, 'skip'],
    ['both enabled', { nix: '/run/current-system/sw/bin/nix', features: new Set(wanted), source: 'nix config show' }, 'pass'],
    ['flakes missing', { nix: '/bin/nix', features: new Set(['nix-command']), source: '/etc/nix/nix.conf' }, 'fail'],
    ['nothing enabled', { nix: '/bin/nix', features: undefined, source: '/etc/nix/nix.conf' }, 'fail'],
  ];
  it.each(cases)('evaluateNix: %s', (_name, facts, status) => {
    expect(evaluateNix(facts, wanted).status).toBe(status);
  });
  it('says how to enable missing features on NixOS', () => {
    expect(evaluateNix({ nix: '/bin/nix', features: new Set(['nix-command']), source: 'x' }, wanted).message).toContain('nix.settings.experimental-features = [ "nix-command" "flakes" ]');
  });
});
