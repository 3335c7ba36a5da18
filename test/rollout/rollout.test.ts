/**
 * Fleets end to end, against the GitHub-compatible server with its clock under the test's control:
 * rollout waves (held back with exit 0, applied at the wave's delay, a revert mid-rollout), the
 * quota a run costs (`quotaPoints`, `poll`), per-host refs with alternatives over REST and ls-refs,
 * and the fleet's back-off on a secondary limit.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refProblem } from '../../src/config/validate.js';
import { waveOf } from '../../src/rollout/waves.js';
import { parseJson } from '../support/cli.js';
import { createFixture, type Fixture, type FixtureOptions } from '../support/fixture.js';
import { FAST_TIMING } from '../support/io.js';

const ROLLOUT = { waves: [1, 10, 100], interval: '30m' };
const MIN = 60_000;

let fx: Fixture;
/** The server's clock: the test moves it. */
let clock = 0;

async function open(options: FixtureOptions = {}): Promise<void> {
  clock = Date.parse('2026-03-02T10:00:00Z');
  fx = await createFixture({ now: () => clock, ...options });
}

afterEach(async () => {
  await fx?.close();
});

/** A host id of wave `index` under ROLLOUT. */
function hostInWave(index: number): string {
  for (let i = 0; ; i++) if (waveOf(`hv-${i}`, { waves: ROLLOUT.waves, intervalSec: 1800 }).index === index) return `hv-${i}`;
}

interface Host {
  readonly id: string;
  readonly dest: string;
  readonly stateDir: string;
  readonly config: string;
  /** `sync --json` on this host: the exit code and the document. */
  sync(...args: string[]): Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }>;
}

/** A host of its own (DEST, state, config file) on the fixture's server. */
async function host(id: string, config: Record<string, unknown> = { ref: 'main', rollout: ROLLOUT }): Promise<Host> {
  const root = join(fx.tmp, id);
  await mkdir(root, { recursive: true });
  const file = join(root, 'config.json');
  await writeFile(file, JSON.stringify({ repo: 'acme/hypervisor', dest: join(root, 'dest'), stateDir: join(root, 'state'), hostId: id, ...config }));
  return {
    id,
    dest: join(root, 'dest'),
    stateDir: join(root, 'state'),
    config: file,
    async sync(...args) {
      // This host's clock is the server's: as on a fleet whose clocks NTP keeps.
      const run = await fx.run(['sync', '--json', '--config', file, ...args], { bare: true, timing: { ...FAST_TIMING, now: () => clock } });
      return { code: run.code, json: parseJson(run), stderr: run.stderr };
    },
  };
}

async function tenFiles(tag: string): Promise<string> {
  for (let i = 0; i < 10; i++) await fx.repo.write(`hosts/h${i}.nix`, `{ release = "${tag}"; n = ${i}; }\n`);
  return fx.repo.commit(tag);
}

describe('rollout waves', () => {
  beforeEach(async () => {
    await open();
  });

  it('holds a new commit until the wave is due (exit 0, said in --json and the metrics), then applies it', async () => {
    const first = await tenFiles('one');
    const h = await host(hostInWave(2), { ref: 'main', rollout: ROLLOUT, metricsFile: join(fx.tmp, 'hostsync.prom') });
    const install = await h.sync();
    expect(install.code, install.stderr).toBe(0);
    expect(install.json['commit']).toBe(first);
    expect(install.json['rollout']).toMatchObject({ state: 'first-install', holding: false, wave: 2, waves: 3, delaySec: 3600 });

    // The commit's committer date is in 2024: it is this host's first sighting that counts.
    const second = await tenFiles('two');
    const held = await h.sync();
    expect(held.code, held.stderr).toBe(0);
    expect(held.json['commit']).toBe(first);
    expect(held.json['pending']).toBe(false);
    expect(held.json['rollout']).toMatchObject({ state: 'waiting', holding: true, refCommit: second, firstSeenAt: new Date(clock).toISOString(), applyAt: new Date(clock + 60 * MIN).toISOString(), clock: 'server' });
    expect(held.json['quotaPoints']).toBe(1); // the 200 that showed the new commit
    expect(held.stderr).toMatch(/rollout wave 3 of 3 \(after 1h\): main moved to .* keeping .* until/);
    await fx.expectSameAsCommit(first, undefined, h.dest);
    const metrics = await readFile(join(fx.tmp, 'hostsync.prom'), 'utf8');
    expect(metrics).toMatch(/^hostsync_rollout_holding\{dest=".*"\} 1$/m);
    expect(metrics).toMatch(/^hostsync_rollout_wave\{dest=".*"\} 2$/m);
    expect(metrics).toMatch(new RegExp(`^hostsync_rollout_apply_timestamp_seconds\\{dest=".*"\\} ${(clock + 60 * MIN) / 1000}$`, 'm'));
    expect(metrics).toMatch(/^hostsync_last_run_quota_points\{dest=".*"\} 1$/m);

    clock += 30 * MIN;
    const still = await h.sync();
    expect(still.json['rollout']).toMatchObject({ state: 'waiting', holding: true });
    expect(still.json['quotaPoints']).toBe(0); // the held commit's ETag was kept: a 304

    const check = await h.sync('--check-only');
    expect(check.code).toBe(0);
    expect(check.json['rollout']).toMatchObject({ state: 'waiting', applyAt: new Date(clock + 30 * MIN).toISOString() });
    const human = await fx.run(['sync', '--check-only', '--config', h.config], { bare: true });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^waiting acme/hypervisor@main ${first.slice(0, 12)} .*: wave 3 of 3 \\(after 1h\\) takes ${second.slice(0, 12)} at `, 'm'));

    clock += 30 * MIN;
    const applied = await h.sync();
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.json['commit']).toBe(second);
    expect(applied.json['rollout']).toMatchObject({ state: 'due', holding: false });
    expect(applied.json['quotaPoints']).toBe(0);
    await fx.expectSameAsCommit(second, undefined, h.dest);
    expect(await readFile(join(fx.tmp, 'hostsync.prom'), 'utf8')).toMatch(/^hostsync_rollout_holding\{dest=".*"\} 0$/m);
  });

  it('sends a revert to the hosts that took the bad commit first; a later wave never takes the bad commit and does not churn', async () => {
    const good = await tenFiles('good');
    const early = await host(hostInWave(0));
    const late = await host(hostInWave(2));
    for (const h of [early, late]) expect((await h.sync()).json['commit']).toBe(good);

    const bad = await tenFiles('bad');
    expect((await early.sync()).json).toMatchObject({ commit: bad, rollout: { state: 'due', wave: 0 } });
    expect((await late.sync()).json).toMatchObject({ commit: good, rollout: { state: 'waiting' } });

    clock += 20 * MIN;
    await fx.repo.git('revert', '--no-edit', 'HEAD');
    const revert = await fx.repo.head();
    expect((await early.sync()).json).toMatchObject({ commit: revert, rollout: { state: 'due' } });
    await fx.expectSameAsCommit(revert, undefined, early.dest);
    expect((await late.sync()).json).toMatchObject({ commit: good, rollout: { state: 'waiting', refCommit: revert, firstSeenAt: new Date(clock).toISOString() } });

    // Past the bad commit's time for wave 2, but the ref moved on: the revert's own clock runs.
    clock += 45 * MIN;
    const waiting = await late.sync();
    expect(waiting.json).toMatchObject({ commit: good, rollout: { state: 'waiting', refCommit: revert } });

    clock += 20 * MIN;
    const taken = await late.sync();
    expect(taken.json).toMatchObject({ commit: revert, previousCommit: good, rollout: { state: 'due' } });
    expect(taken.json['changes']).toEqual({ added: [], modified: [], deleted: [], modeChanged: [], typeChanged: [] });
    await fx.expectSameAsCommit(revert, undefined, late.dest);
    const history = await fx.run(['history', '--json', '--config', late.config], { bare: true });
    expect(history.stdout).not.toContain(bad);
  });
});

describe('dev-update under a rollout', () => {
  beforeEach(async () => {
    await open();
  });

  it('does not rebuild while the wave waits, and rebuilds once it applies', async () => {
    await tenFiles('one');
    const marker = join(fx.tmp, 'rebuilt');
    const h = await host(hostInWave(1), { ref: 'main', rollout: ROLLOUT, rebuild: { command: `echo x >> ${marker}` } });
    const run = (): Promise<{ code: number | null; stdout: string; stderr: string }> => fx.run(['dev-update', '--json', '--config', h.config], { bare: true, timing: { ...FAST_TIMING, now: () => clock } });
    expect((await run()).code).toBe(0);
    expect((await readFile(marker, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
    const second = await tenFiles('two');
    const held = await run();
    expect(held.code, held.stderr).toBe(0);
    const doc = JSON.parse(held.stdout) as { steps: { name: string; status: string; sync?: Record<string, unknown> }[] };
    expect(doc.steps.find((s) => s.name === 'sync')?.sync).toMatchObject({ rollout: { state: 'waiting', holding: true } });
    expect(doc.steps.find((s) => s.name === 'rebuild')?.status).toBe('skipped');
    expect((await readFile(marker, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
    clock += 30 * MIN;
    expect((await run()).code).toBe(0);
    expect((await readFile(marker, 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
    await fx.expectSameAsCommit(second, undefined, h.dest);
    expect((await stat(h.dest)).isDirectory()).toBe(true);
  });
});

describe('quota per run', () => {
  beforeEach(async () => {
    await open();
  });

  it('costs one point for an update over the REST poll, none unchanged, none with the ls-refs poll', async () => {
    await tenFiles('one');
    const h = await host('solo', { ref: 'main' });
    expect((await h.sync()).json).toMatchObject({ quotaPoints: 1, poll: { via: 'rest' }, rollout: null });
    expect((await h.sync()).json).toMatchObject({ quotaPoints: 0, apiRequests: 1 });
    const update = await tenFiles('two');
    const rest = await h.sync();
    expect(rest.json).toMatchObject({ commit: update, quotaPoints: 1, apiRequests: 1, source: 'wire' });

    const quiet = await tenFiles('three');
    fx.server.resetLog();
    const lsRefs = await h.sync('--poll', 'ls-refs');
    expect(lsRefs.json).toMatchObject({ commit: quiet, quotaPoints: 0, apiRequests: 0, poll: { via: 'ls-refs', reason: 'poll ls-refs' } });
    expect(fx.server.requests.filter((r) => r.kind === 'api')).toEqual([]);
    await fx.expectSameAsCommit(quiet, undefined, h.dest);
  });

  it('does not ask GitHub again about a signed commit DEST already holds: an unchanged poll stays free', async () => {
    const commit = await tenFiles('one');
    fx.server.verifiedCommits.add(commit);
    const h = await host('signed', { ref: 'main', requireSigned: true });
    expect((await h.sync()).json).toMatchObject({ commit, quotaPoints: 2 }); // the poll's 200 and the commit's verification
    expect((await h.sync()).json).toMatchObject({ commit, quotaPoints: 0 });
  });

  it('polls with ls-refs once the quota the last run saw runs low', async () => {
    await tenFiles('one');
    const h = await host('frugal', { ref: 'main' });
    fx.server.rateLimit.remaining = 300; // of 5,000: 6%
    expect((await h.sync()).json).toMatchObject({ poll: { via: 'rest' }, quotaPoints: 1 });
    const update = await tenFiles('two');
    fx.server.resetLog();
    const next = await h.sync();
    expect(next.json).toMatchObject({ commit: update, quotaPoints: 0, poll: { via: 'ls-refs' } });
    expect((next.json['poll'] as { reason: string }).reason).toMatch(/^299 of 5000 API requests were left at the last run/);
    expect(fx.server.requests.filter((r) => r.kind === 'api')).toEqual([]);
  });
});

describe('per-host refs', () => {
  beforeEach(async () => {
    await open();
  });

  it.each(['auto', 'rest'] as const)('follows the host\'s canary branch while it exists, main otherwise (poll %s)', async (poll) => {
    const main = await tenFiles('main');
    const h = await host('hv-7', { ref: 'canary/%I|main', poll, rollout: ROLLOUT });
    const onMain = await h.sync();
    expect(onMain.json).toMatchObject({ ref: 'main', refPattern: 'canary/%I|main', commit: main, poll: { via: poll === 'auto' ? 'ls-refs' : 'rest' } });
    // Over REST the missing canary is one 422 at every poll; ls-refs lists both for nothing.
    expect(onMain.json['quotaPoints']).toBe(poll === 'auto' ? 0 : 2);

    await fx.repo.branch('canary/hv-7');
    await fx.repo.checkout('canary/hv-7');
    const canary = await tenFiles('canary');
    await fx.repo.checkout('main');
    const onCanary = await h.sync();
    expect(onCanary.json).toMatchObject({ ref: 'canary/hv-7', commit: canary, rollout: { state: 'ref-changed' } });
    await fx.expectSameAsCommit(canary, undefined, h.dest);
    const again = await h.sync();
    expect(again.json).toMatchObject({ ref: 'canary/hv-7', commit: canary, rollout: { state: 'current' } });
    expect(again.json['quotaPoints']).toBe(0);

    await fx.repo.git('branch', '-D', 'canary/hv-7');
    const back = await h.sync();
    expect(back.json).toMatchObject({ ref: 'main', commit: main });
    await fx.expectSameAsCommit(main, undefined, h.dest);
    expect(back.stderr).not.toMatch(/Refusing/);
  });

  it('puts the host name in for %H', async () => {
    const name = hostname();
    if (refProblem(`canary/${name}`) !== undefined) return; // a host name git cannot take: the unit tests cover the message
    await tenFiles('main');
    await fx.repo.branch(`canary/${name}`);
    await fx.repo.checkout(`canary/${name}`);
    const canary = await tenFiles('canary');
    await fx.repo.checkout('main');
    const h = await host('hv-9', { ref: 'canary/%H|main' });
    expect((await h.sync()).json).toMatchObject({ ref: `canary/${name}`, refPattern: 'canary/%H|main', commit: canary });
  });

  it('fails naming every alternative when none exists', async () => {
    await tenFiles('main');
    const h = await host('hv-8', { ref: 'canary/%I|release' });
    const run = await h.sync();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/None of the refs 'canary\/hv-8', 'release' exists in acme\/hypervisor/);
  });
});

describe('the fleet backs off when GitHub says so', () => {
  beforeEach(async () => {
    await open({ secondaryLimits: { enabled: true, pointsPerMinute: 2 } });
  });

  it('waits the retry-after of a secondary limit, jittered, on the server clock, then completes', async () => {
    const commit = await tenFiles('one');
    const h = await host('patient', { ref: 'main' });
    expect((await h.sync()).code).toBe(0);
    expect((await h.sync()).code).toBe(0);
    const waits: number[] = [];
    const run = await fx.run(['sync', '--json', '--config', h.config], {
      bare: true,
      timing: {
        ...FAST_TIMING,
        sleep: async (ms) => {
          waits.push(ms);
          clock += ms;
        },
      },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/secondary rate limit/);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(60_000);
    expect(waits[0]).toBeLessThanOrEqual(120_000);
    expect(fx.server.requests.filter((r) => r.status === 403).map((r) => r.path)).toEqual(['/repos/acme/hypervisor/commits/main']);
    await fx.expectSameAsCommit(commit, undefined, h.dest);
  });
});
