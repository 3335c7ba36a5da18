/**
 * The pure parts of a rollout: a host's wave from its id, the gate's verdict on a commit, the
 * poll's choice, and the host identity from /etc/machine-id or the host name.
 */
import { mkdtemp, stat, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model.js';
import { decideRollout, loadObservation, saveObservation, type GateInput, type Observation } from '../../src/rollout/gate.js';
import { hostIdentity, hostIdFromHostName, hostIdFromMachineId } from '../../src/rollout/identity.js';
import { choosePoll, loadQuotaMemo, saveQuotaMemo, type PollInput } from '../../src/rollout/poll.js';
import { openFleetRun } from '../../src/rollout/fleet.js';
import { parseConfig } from '../../src/config/parse.js';
import { percentileOf, waveOf } from '../../src/rollout/waves.js';

const ROLLOUT = { waves: [1, 10, 100], intervalSec: 1800 };
const MIN = 60_000;
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const T0 = Date.UTC(2026, 0, 1, 12);

/** A host id that falls in wave `index` of ROLLOUT. */
function hostInWave(index: number): string {
  for (let i = 0; ; i++) if (waveOf(`host-${i}`, ROLLOUT).index === index) return `host-${i}`;
}

function manifest(commit: string, ref = 'main'): Manifest {
  return { version: 1, repo: 'acme/x', ref, path: '', commit, appliedAt: new Date(T0).toISOString(), strategy: 'pack', entries: [] } as Manifest;
}

function gate(over: Partial<GateInput> & { hostId?: string }): ReturnType<typeof decideRollout> {
  return decideRollout({
    rollout: ROLLOUT,
    identity: { hostId: over.hostId ?? hostInWave(2), source: 'config', hostName: 'h' },
    previous: manifest(A),
    target: { repo: 'acme/x', path: '', ref: 'main' },
    hostSpecific: false,
    tip: B,
    observed: undefined,
    now: { ms: T0, clock: 'server' },
    ...over,
  });
}

describe('waves', () => {
  it('spreads hosts over the fleet as the percentages say, and keeps each host in its wave', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[waveOf(`hv-${i}`, ROLLOUT).index]! += 1;
    expect(counts[0]! / 20_000).toBeGreaterThan(0.007);
    expect(counts[0]! / 20_000).toBeLessThan(0.013);
    expect(counts[1]! / 20_000).toBeGreaterThan(0.08);
    expect(counts[1]! / 20_000).toBeLessThan(0.1);
    expect(waveOf('hv-17', ROLLOUT)).toEqual(waveOf('hv-17', ROLLOUT));
    expect(percentileOf('hv-17')).toBeGreaterThanOrEqual(0);
    expect(percentileOf('hv-17')).toBeLessThan(100);
  });

  it('delays wave i by i × interval, wave 0 not at all', () => {
    expect([0, 1, 2].map((i) => waveOf(hostInWave(i), ROLLOUT).delaySec)).toEqual([0, 1800, 3600]);
    expect(waveOf('anyone', { waves: [100], intervalSec: 60 })).toMatchObject({ index: 0, count: 1, delaySec: 0 });
  });
});

describe('the gate', () => {
  it('takes the first install, a changed ref and a per-host ref at once', () => {
    expect(gate({ previous: undefined })).toMatchObject({ state: 'first-install', apply: true });
    expect(gate({ previous: manifest(A, 'release') })).toMatchObject({ state: 'ref-changed', apply: true });
    expect(gate({ hostSpecific: true })).toMatchObject({ state: 'host-ref', apply: true });
    expect(gate({ tip: A })).toMatchObject({ state: 'current', apply: true, record: undefined });
  });

  it('applies in wave 0 at once, and starts the clock of later waves at the first sighting', () => {
    expect(gate({ hostId: hostInWave(0) })).toMatchObject({ state: 'due', apply: true, firstSeenMs: T0, applyAtMs: T0 });
    const first = gate({ hostId: hostInWave(1) });
    expect(first).toMatchObject({ state: 'waiting', apply: false, firstSeenMs: T0, applyAtMs: T0 + 30 * MIN });
    expect(first.record).toEqual({ ref: 'main', commit: B, firstSeenMs: T0, clock: 'server' });
  });

  it('applies once the commit has been seen for the wave delay, timed from the first sighting', () => {
    const observed: Observation = { ref: 'main', commit: B, firstSeenMs: T0, clock: 'server' };
    const host = hostInWave(2);
    expect(gate({ hostId: host, observed, now: { ms: T0 + 59 * MIN, clock: 'server' } })).toMatchObject({ state: 'waiting', apply: false, record: undefined });
    expect(gate({ hostId: host, observed, now: { ms: T0 + 60 * MIN, clock: 'server' } })).toMatchObject({ state: 'due', apply: true, applyAtMs: T0 + 60 * MIN });
  });

  it('restarts the clock for a newer tip: a revert is a new commit', () => {
    const sawBad: Observation = { ref: 'main', commit: B, firstSeenMs: T0, clock: 'server' };
    const revert = 'c'.repeat(40);
    const later = { ms: T0 + 50 * MIN, clock: 'server' as const };
    expect(gate({ hostId: hostInWave(2), observed: sawBad, tip: revert, now: later })).toMatchObject({ state: 'waiting', firstSeenMs: later.ms, record: { commit: revert, firstSeenMs: later.ms } });
  });

  it('never applies sooner because a clock went back: a sighting in the future restarts now', () => {
    const future: Observation = { ref: 'main', commit: B, firstSeenMs: T0 + 600 * MIN, clock: 'host' };
    expect(gate({ hostId: hostInWave(1), observed: future })).toMatchObject({ state: 'waiting', firstSeenMs: T0, applyAtMs: T0 + 30 * MIN });
  });

  it('keeps the observation in the state folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-gate-'));
    try {
      expect(await loadObservation(dir)).toBeUndefined();
      await saveObservation(join(dir, 'dest'), { ref: 'main', commit: B, firstSeenMs: T0, clock: 'server' });
      expect(await loadObservation(join(dir, 'dest'))).toEqual({ ref: 'main', commit: B, firstSeenMs: T0, clock: 'server' });
      await writeFile(join(dir, 'dest', 'rollout.json'), '{ not json');
      expect(await loadObservation(join(dir, 'dest'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the poll', () => {
  const base: PollInput = { poll: 'auto', transport: 'auto', gitUrl: undefined, alternatives: 1, memo: undefined, nowMs: T0 };
  const reset = T0 / 1000 + 1800;
  it.each<[string, Partial<PollInput>, 'rest' | 'ls-refs']>([
    ['auto, nothing known', {}, 'rest'],
    ['auto, plenty of quota', { memo: { limit: 12_500, remaining: 9000, reset } }, 'rest'],
    ['auto, quota low', { memo: { limit: 12_500, remaining: 1249, reset } }, 'ls-refs'],
    ['auto, quota low but reset passed', { memo: { limit: 12_500, remaining: 10, reset: T0 / 1000 - 1 } }, 'rest'],
    ['auto, quota spent', { memo: { limit: 5000, remaining: 0, reset } }, 'ls-refs'],
    ['auto, alternatives', { alternatives: 2 }, 'ls-refs'],
    ['rest, alternatives', { poll: 'rest', alternatives: 2 }, 'rest'],
    ['rest, quota low', { poll: 'rest', memo: { limit: 5000, remaining: 1, reset } }, 'rest'],
    ['ls-refs', { poll: 'ls-refs' }, 'ls-refs'],
    ['transport git', { transport: 'git' }, 'ls-refs'],
    ['transport rest', { transport: 'rest', alternatives: 3 }, 'rest'],
    ['a git URL', { gitUrl: 'https://git.example.com/x.git' }, 'ls-refs'],
  ])('%s', (_name, over, via) => {
    expect(choosePoll({ ...base, ...over }).via).toBe(via);
  });

  it('remembers the quota a run saw, per state directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-quota-'));
    try {
      expect(await loadQuotaMemo(dir)).toBeUndefined();
      await saveQuotaMemo(dir, { limit: 12_500, remaining: 42, reset, resource: 'core' });
      expect(await loadQuotaMemo(dir)).toEqual({ limit: 12_500, remaining: 42, reset });
      // What the memo already says is not written again (an unchanged poll's 304); a change is.
      const before = (await stat(join(dir, 'quota.json'))).ino;
      await saveQuotaMemo(dir, { limit: 12_500, remaining: 42, reset, resource: 'core' }, { limit: 12_500, remaining: 42, reset });
      expect((await stat(join(dir, 'quota.json'))).ino).toBe(before);
      await saveQuotaMemo(dir, { limit: 12_500, remaining: 41, reset, resource: 'core' }, { limit: 12_500, remaining: 42, reset });
      expect(await loadQuotaMemo(dir)).toEqual({ limit: 12_500, remaining: 41, reset });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('host identity', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostsync-identity-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes the configured hostId first', async () => {
    expect(await hostIdentity('hv-17', { machineIdFile: join(dir, 'none'), hostname: () => 'box' })).toEqual({ hostId: 'hv-17', source: 'config', hostName: 'box' });
  });

  it('derives one from /etc/machine-id without revealing it', async () => {
    const file = join(dir, 'machine-id');
    await writeFile(file, '4c2a1d0e9b8f7a6c5d4e3f2a1b0c9d8e\n');
    const identity = await hostIdentity(undefined, { machineIdFile: file, hostname: () => 'box' });
    expect(identity).toEqual({ hostId: hostIdFromMachineId('4c2a1d0e9b8f7a6c5d4e3f2a1b0c9d8e'), source: 'machine-id', hostName: 'box' });
    expect(identity.hostId).toMatch(/^[0-9a-f]{16}$/);
    expect('4c2a1d0e9b8f7a6c5d4e3f2a1b0c9d8e').not.toContain(identity.hostId);
  });

  it('falls back to the host name without a usable machine id', async () => {
    const file = join(dir, 'uninitialized');
    await writeFile(file, 'uninitialized\n');
    expect(await hostIdentity(undefined, { machineIdFile: file, hostname: () => 'HV-17.rack1' })).toEqual({ hostId: 'hv-17.rack1', source: 'hostname', hostName: 'HV-17.rack1' });
    expect(await hostIdentity(undefined, { machineIdFile: join(dir, 'missing'), hostname: () => 'box' })).toMatchObject({ hostId: 'box', source: 'hostname' });
    expect(hostIdFromHostName('my host!')).toBe('my-host-');
    expect(hostIdFromHostName('...')).toBe('unnamed-host');
  });
});

describe('a ref naming the host', () => {
  it('stops with exit 2 when the host name cannot be part of a ref, and says what to do', async () => {
    const parsed = parseConfig({ flags: {}, file: { path: '/etc/hostsync/config.json', data: { repo: 'acme/x', dest: '/srv/x', stateDir: '/nonexistent/state', ref: 'canary/%H|main' } }, env: {}, token: undefined, home: '/root', isRoot: true, cwd: '/' });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const run = openFleetRun(parsed.config, { log: () => undefined, now: () => T0, identity: { hostname: () => 'box.lock', machineIdFile: '/nonexistent' } });
    await expect(run).rejects.toMatchObject({
      exitCode: 2,
      message: "The ref alternative 'canary/%H' becomes 'canary/box.lock' on this host, and git ref names cannot end with '.lock'. Set hostId to a plain name and use %I, or change the ref.",
    });
  });
});
