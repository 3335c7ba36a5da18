/**
 * A fleet of hostsync hosts on a simulated clock: every host is a real `hostsync sync --json` run
 * in this process (`main(argv, io)` with its own DEST, state directory, config file and token),
 * started at its systemd timer's times (`OnCalendar` every `periodSec` plus a fixed
 * `RandomizedDelaySec` offset from its id), against the GitHub-compatible test server with GitHub's
 * quota (one App installation's bucket shared by every host's token), secondary limits and added
 * latency. The server's clock and every host's clock are the simulation's; waits hostsync makes
 * (`retry-after`) pass on it too. At most `concurrency` runs work at once, so the two cores of the
 * machine running it decide only how long the simulation takes, not what it measures.
 *
 * Time is virtual: it stands still while runs work and jumps to the next timer firing, push or
 * wake-up. Each run has its own time — its timer firing, moved on by the waits it makes — which is
 * what its clock and the server's answers to it (`Date`) say, so runs that overlap in real time do
 * not see each other's times. A request's place on the time line is its run's time plus how long
 * after the run's real start it was sent; its length is its real duration. Requests per minute,
 * concurrency and quota per hour are measured on that scale.
 *
 * The scenario: every host installs the first commit; a release changing 10 files is pushed and
 * rolls out in waves; then a bad release is pushed and reverted mid-rollout. Used by `npm run
 * fleet` (test/fleet/run.ts, hundreds of hosts) and by test/fleet/fleet.test.ts (12 hosts in CI).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waveOf } from '../../src/rollout/waves.js';
import { startGitHubServer, type FakeGitHub, type LoggedRequest } from '../support/github-server.js';
import { endpointOf } from '../support/github-server/secondary-limit.js';
import { runInProcess } from '../support/io.js';
import { compareTrees, createRepo, extractGitArchive, type TestRepo } from '../support/repo.js';

const MIN = 60_000;

export interface FleetOptions {
  readonly hosts: number;
  /** In-process runs working at once (runs waiting out a `retry-after` do not count). */
  readonly concurrency: number;
  /** The timer's period (`OnCalendar=*:0/15`). */
  readonly periodSec: number;
  /** The timer's `RandomizedDelaySec` with `FixedRandomDelay=true`: each host's fixed offset is below it. */
  readonly spreadSec: number;
  readonly waves: readonly number[];
  readonly intervalSec: number;
  /** Added by the server before every answer. */
  readonly latencyMs: number;
  /** The App installation's hourly quota, shared by every host. */
  readonly quotaLimit: number;
  /** Every n-th host polls with `poll: ls-refs` (0: none); the others with `poll: auto`. */
  readonly lsRefsEvery: number;
  /** Files of the first commit. */
  readonly files: number;
  /** Minutes from the start: the release, the bad release, its revert, the end. */
  readonly scenario: { readonly releaseAt: number; readonly badAt: number; readonly revertAt: number; readonly endAt: number };
  /** GitHub's secondary limits (100 concurrent, 900 points a minute per endpoint). */
  readonly secondary: { readonly concurrent: number; readonly pointsPerMinute: number };
  /** Progress lines. */
  readonly progress?: ((line: string) => void) | undefined;
}

export const DEFAULT_FLEET: FleetOptions = {
  hosts: 300,
  concurrency: 4,
  periodSec: 900,
  spreadSec: 300,
  waves: [1, 10, 100],
  intervalSec: 1800,
  latencyMs: 40,
  quotaLimit: 12_500,
  lsRefsEvery: 3,
  files: 60,
  scenario: { releaseAt: 60, badAt: 180, revertAt: 215, endAt: 330 },
  secondary: { concurrent: 100, pointsPerMinute: 900 },
};

type RunKind = 'install' | 'update' | 'held' | 'unchanged' | 'failed';

/** One hostsync run as the simulation saw it. */
export interface RunRecord {
  readonly host: number;
  /** Virtual start, minutes from the simulation's start. */
  readonly atMin: number;
  readonly kind: RunKind;
  readonly code: number | null;
  readonly commit: string | undefined;
  readonly previous: string | undefined;
  readonly changedFiles: number;
  readonly quotaPoints: number;
  readonly apiRequests: number;
  readonly httpRequests: number;
  readonly bytesReceived: number;
  readonly durationMs: number;
  readonly poll: string | undefined;
  readonly error: string | undefined;
}

interface Host {
  readonly index: number;
  readonly id: string;
  readonly token: string;
  readonly wave: number;
  readonly poll: 'auto' | 'ls-refs';
  readonly root: string;
  readonly dest: string;
  readonly config: string;
  readonly offsetMs: number;
  /** The run in progress: its virtual time (start, moved on by its waits) and its real start. */
  active: { now: number; realStart: number } | undefined;
  commit: string | undefined;
  skipped: number;
}

/** A request placed on the virtual time line. */
interface TimedRequest {
  readonly start: number;
  readonly end: number;
  readonly kind: LoggedRequest['kind'];
  readonly endpoint: string;
  readonly status: number;
  readonly quotaCost: number;
}

export interface Release {
  readonly name: 'release' | 'bad' | 'revert';
  readonly commit: string;
  readonly atMin: number;
}

export interface WaveArrival {
  readonly wave: number;
  readonly hosts: number;
  readonly applied: number;
  /** Minutes after the push: first and last host of the wave. */
  readonly firstMin: number | undefined;
  readonly lastMin: number | undefined;
}

export interface FleetReport {
  readonly options: FleetOptions;
  readonly hostsPerWave: readonly number[];
  readonly releases: readonly Release[];
  readonly arrivals: Readonly<Record<Release['name'], readonly WaveArrival[]>>;
  readonly runs: number;
  readonly failedRuns: readonly RunRecord[];
  readonly skippedRuns: number;
  /** Hosts whose last commit or DEST is not the final commit. */
  readonly wrongCommit: readonly string[];
  /** Hosts that applied the bad commit, by wave. */
  readonly badTakers: readonly number[];
  /** Applies of the bad commit outside [push + wave delay, revert push). */
  readonly badOutsideWindow: number;
  /** Hosts that never held the bad commit but changed files when the revert came. */
  readonly churned: readonly string[];
  /** Waves of a release whose first host came before the wave's delay, or before the last host of the wave ahead. */
  readonly outOfOrder: readonly string[];
  readonly quotaPerHour: readonly number[];
  readonly quotaRemainingMin: number;
  readonly peakApiPerMinute: number;
  readonly peakApiPerEndpointMinute: { readonly endpoint: string; readonly count: number };
  readonly peakGitPerMinute: number;
  readonly peakApiConcurrent: number;
  readonly peakAllConcurrent: number;
  readonly secondaryRefusals: number;
  /** Per-run figures by kind and poll: the cost model's inputs. */
  readonly perRun: readonly PerRun[];
  /** Every run. */
  readonly records: readonly RunRecord[];
  /** Quota points each host spent from a push until the next (or the end), by release and poll. */
  readonly perHostPerRelease: readonly { readonly release: Release['name']; readonly poll: string; readonly hosts: number; readonly mean: number; readonly max: number }[];
  readonly realSeconds: number;
}

export interface PerRun {
  readonly kind: RunKind;
  readonly poll: string;
  readonly runs: number;
  readonly quotaPoints: { readonly mean: number; readonly max: number };
  readonly apiRequests: number;
  readonly httpRequests: number;
  readonly bytesReceived: number;
  readonly durationMs: { readonly median: number; readonly p95: number };
}

/** The virtual clock: the time line's `now` (the latest start or wake-up), and waits that pass on it. */
class VirtualClock {
  now: number;
  private readonly wakes: { at: number; resolve: () => void }[] = [];
  sleeping = 0;
  private poke: (() => void) | undefined;
  constructor(start: number) {
    this.now = start;
  }
  /** Resolves once the time line reaches `at`. */
  sleepUntil = (at: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.sleeping += 1;
      this.wakes.push({ at, resolve });
      this.wakes.sort((a, b) => a.at - b.at);
      this.poke?.();
    });
  nextWake(): number {
    return this.wakes[0]?.at ?? Infinity;
  }
  wakeNext(): void {
    const wake = this.wakes.shift();
    if (wake === undefined) return;
    this.now = Math.max(this.now, wake.at);
    this.sleeping -= 1;
    wake.resolve();
  }
  /** Resolves when something sleeps (or `poke` is called otherwise). */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      this.poke = () => {
        this.poke = undefined;
        resolve();
      };
    });
  }
}

/** The host's fixed timer offset, as FixedRandomDelay= derives one from the machine: a hash, uniform below the spread. */
function offsetOf(id: string, spreadMs: number): number {
  return spreadMs === 0 ? 0 : createHash('sha256').update(`timer\0${id}`).digest().readUInt32BE(0) % spreadMs;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
}

/** The most intervals overlapping at any instant. */
function peakOverlap(intervals: readonly { start: number; end: number }[]): number {
  const edges: [number, number][] = [];
  for (const { start, end } of intervals) edges.push([start, 1], [Math.max(end, start + 1), -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, delta] of edges) {
    now += delta;
    peak = Math.max(peak, now);
  }
  return peak;
}

/** The busiest minute of `times` (virtual ms). */
function peakPerMinute(times: readonly number[]): number {
  const perMinute = new Map<number, number>();
  for (const at of times) perMinute.set(Math.floor(at / MIN), (perMinute.get(Math.floor(at / MIN)) ?? 0) + 1);
  return Math.max(0, ...perMinute.values());
}

/** Content of file `i` at a release. */
function fileText(i: number, release: string): string {
  return `# host group ${i}\n{ release = "${release}"; bridges = [ ${Array.from({ length: 8 }, (_, k) => `"br${i}-${k}"`).join(' ')} ]; }\n`;
}

/** Run the simulation. */
export async function simulateFleet(options: FleetOptions): Promise<FleetReport> {
  const realStart = performance.now();
  const progress = options.progress ?? (() => undefined);
  const tmp = await mkdtemp(join(tmpdir(), 'hostsync-fleet-'));
  const repo: TestRepo = await createRepo();
  const start = Date.parse('2026-06-01T08:00:00Z');
  const clock = new VirtualClock(start);
  const rollout = { waves: options.waves, intervalSec: options.intervalSec };
  const hosts: Host[] = [];
  for (let i = 0; i < options.hosts; i++) {
    const id = `hv-${String(i).padStart(4, '0')}`;
    const root = join(tmp, id);
    hosts.push({
      index: i,
      id,
      token: `ghs_fleet${String(i).padStart(6, '0')}installationTokenForTests`,
      wave: waveOf(id, rollout).index,
      poll: options.lsRefsEvery > 0 && i % options.lsRefsEvery === options.lsRefsEvery - 1 ? 'ls-refs' : 'auto',
      root,
      dest: join(root, 'dest'),
      config: join(root, 'config.json'),
      offsetMs: offsetOf(id, options.spreadSec * 1000),
      active: undefined,
      commit: undefined,
      skipped: 0,
    });
  }
  const byToken = new Map(hosts.map((h) => [h.token, h]));
  const server: FakeGitHub = await startGitHubServer({
    tokens: hosts.map((h) => h.token),
    // A host's request is answered at its run's time; the limits' windows run on the time line.
    now: (token) => (token === undefined ? undefined : byToken.get(token)?.active?.now) ?? clock.now,
    latencyMs: options.latencyMs,
    rateLimit: { limit: options.quotaLimit },
    secondaryLimits: { enabled: true, ...options.secondary },
    // One App installation: every host's installation token spends the same bucket.
    quotaGroupOf: () => 'installation',
  });
  const timed: TimedRequest[] = [];
  const quotaByHour = new Map<number, number>();
  let quotaRemainingMin = options.quotaLimit;
  server.onRequest = (entry) => {
    const realEnd = performance.now();
    const host = entry.token === undefined ? undefined : byToken.get(entry.token);
    const run = host?.active;
    const begin = run === undefined ? entry.at : entry.at + Math.max(0, realEnd - entry.durationMs - run.realStart);
    timed.push({ start: begin, end: begin + entry.durationMs, kind: entry.kind, endpoint: endpointOf(entry.method, entry.path), status: entry.status, quotaCost: entry.quotaCost });
    const hour = Math.floor((entry.at - start) / (60 * MIN));
    quotaByHour.set(hour, (quotaByHour.get(hour) ?? 0) + entry.quotaCost);
    quotaRemainingMin = Math.min(quotaRemainingMin, server.rateLimit.remaining);
  };

  const records: RunRecord[] = [];
  const releases: Release[] = [];
  try {
    for (let i = 0; i < options.files; i++) await repo.write(`hosts/group-${String(i).padStart(2, '0')}.nix`, fileText(i, 'initial'));
    await repo.write('flake.nix', '{ outputs = { ... }: { }; }\n');
    await repo.commit('initial');
    await server.addRepo('acme/hypervisor', repo.dir);
    for (const h of hosts) {
      await mkdir(h.root, { recursive: true });
      await writeFile(h.config, JSON.stringify({ repo: 'acme/hypervisor', ref: 'main', dest: h.dest, stateDir: join(h.root, 'state'), hostId: h.id, poll: h.poll, rollout: { waves: options.waves, interval: options.intervalSec } }));
    }

    const pushes: { at: number; run: () => Promise<void> }[] = [
      {
        at: start + options.scenario.releaseAt * MIN,
        run: async () => {
          for (let i = 0; i < 10; i++) await repo.write(`hosts/group-${String(i * 3).padStart(2, '0')}.nix`, fileText(i * 3, 'release'));
          releases.push({ name: 'release', commit: await repo.commit('release: 10 files'), atMin: options.scenario.releaseAt });
        },
      },
      {
        at: start + options.scenario.badAt * MIN,
        run: async () => {
          for (let i = 0; i < 10; i++) await repo.write(`hosts/group-${String(i * 3 + 1).padStart(2, '0')}.nix`, fileText(i * 3 + 1, 'bad'));
          releases.push({ name: 'bad', commit: await repo.commit('bad release'), atMin: options.scenario.badAt });
        },
      },
      {
        at: start + options.scenario.revertAt * MIN,
        run: async () => {
          await repo.git('revert', '--no-edit', 'HEAD');
          releases.push({ name: 'revert', commit: await repo.head(), atMin: options.scenario.revertAt });
        },
      },
    ];

    // Every timer firing of every host, in time order.
    const firings: { at: number; host: Host }[] = [];
    for (const host of hosts) {
      for (let at = start + host.offsetMs; at <= start + options.scenario.endAt * MIN; at += options.periodSec * 1000) firings.push({ at, host });
    }
    firings.sort((a, b) => a.at - b.at || a.host.index - b.host.index);

    const env = (h: Host): Record<string, string> => ({ GITHUB_API_URL: server.apiUrl, GITHUB_SERVER_URL: server.serverUrl, GITHUB_TOKEN: h.token });
    const runOne = async (h: Host, vStart: number): Promise<void> => {
      const active = { now: vStart, realStart: performance.now() };
      h.active = active;
      const sleep = async (ms: number): Promise<void> => {
        await clock.sleepUntil(active.now + ms);
        active.now += ms;
      };
      const realBegin = performance.now();
      const run = await runInProcess(['sync', '--json', '--config', h.config], {
        env: env(h),
        cwd: h.root,
        timing: { retryMinMs: 0, retryMaxMs: 0, now: () => active.now, sleep },
      });
      const realMs = performance.now() - realBegin;
      h.active = undefined;
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(run.stdout) as Record<string, unknown>;
      } catch {
        // recorded as failed below
      }
      const commit = typeof json['commit'] === 'string' ? json['commit'] : undefined;
      const previous = typeof json['previousCommit'] === 'string' ? json['previousCommit'] : undefined;
      const changes = (json['changes'] ?? {}) as Record<string, unknown[]>;
      const changedFiles = Object.values(changes).reduce((sum, list) => sum + (Array.isArray(list) ? list.length : 0), 0);
      const holding = (json['rollout'] as { holding?: boolean } | null | undefined)?.holding === true;
      const kind: RunKind = run.code !== 0 || commit === undefined ? 'failed' : previous === undefined ? 'install' : commit !== previous ? 'update' : holding ? 'held' : 'unchanged';
      if (kind !== 'failed') h.commit = commit;
      records.push({
        host: h.index,
        atMin: (vStart - start) / MIN,
        kind,
        code: run.code,
        commit,
        previous,
        changedFiles,
        quotaPoints: Number(json['quotaPoints'] ?? 0),
        apiRequests: Number(json['apiRequests'] ?? 0),
        httpRequests: Number(json['httpRequests'] ?? 0),
        bytesReceived: Number(json['bytesReceived'] ?? 0),
        durationMs: Math.round(realMs),
        poll: (json['poll'] as { via?: string } | undefined)?.via,
        error: kind === 'failed' ? (run.stderr.trim().split('\n').pop() ?? `exit ${run.code}`) : undefined,
      });
    };

    // The dispatcher: pushes and wake-ups at their times, runs at their firings, at most `concurrency` working.
    const inFlight = new Set<Promise<void>>();
    let next = 0;
    let reported = -1;
    while (next < firings.length || inFlight.size > 0 || pushes.length > 0) {
      const firing = firings[next];
      const tRun = firing?.at ?? Infinity;
      const tWake = clock.nextWake();
      const tPush = pushes[0]?.at ?? Infinity;
      const working = inFlight.size - clock.sleeping;
      if (tPush <= Math.min(tRun, tWake) && tPush !== Infinity) {
        // Runs that started before the push finish first (or wait past it): none may see it before its time.
        if (inFlight.size - clock.sleeping > 0) {
          await Promise.race([...inFlight, clock.changed()]);
          continue;
        }
        clock.now = Math.max(clock.now, tPush);
        await pushes.shift()!.run();
        continue;
      }
      if (tWake <= tRun && tWake !== Infinity) {
        clock.wakeNext();
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (firing !== undefined && working < options.concurrency) {
        next += 1;
        clock.now = Math.max(clock.now, firing.at);
        const quarter = Math.floor((clock.now - start) / (options.periodSec * 1000));
        if (quarter !== reported) {
          reported = quarter;
          const counts = new Map<string, number>();
          for (const h of hosts) counts.set(h.commit?.slice(0, 7) ?? 'none', (counts.get(h.commit?.slice(0, 7) ?? 'none') ?? 0) + 1);
          progress(`t+${String(Math.round((clock.now - start) / MIN)).padStart(3)} min  ${records.length} runs  hosts by commit: ${[...counts].map(([c, n]) => `${c} ${n}`).join(', ')}  (${((performance.now() - realStart) / 1000).toFixed(0)} s)`);
        }
        const host = firing.host;
        // systemd does not start a service that is still running: the firing is skipped.
        if (host.active !== undefined) {
          host.skipped += 1;
          continue;
        }
        const promise: Promise<void> = runOne(host, clock.now).finally(() => inFlight.delete(promise));
        inFlight.add(promise);
        continue;
      }
      if (inFlight.size === 0 && tWake === Infinity && firing === undefined) break;
      await Promise.race([...inFlight, clock.changed()]);
    }

    // Every host must now hold the last commit, byte for byte.
    const final = await repo.head();
    const expected = await extractGitArchive(repo.dir, final);
    const wrongCommit: string[] = [];
    try {
      for (const h of hosts) {
        if (h.commit !== final || (await compareTrees(expected, h.dest)).length > 0) wrongCommit.push(h.id);
      }
    } finally {
      await rm(expected, { recursive: true, force: true });
    }
    return report(options, hosts, records, releases, timed, quotaByHour, quotaRemainingMin, wrongCommit, server.secondaryLimits.refusals, (performance.now() - realStart) / 1000);
  } finally {
    await server.close();
    await repo.cleanup();
    await rm(tmp, { recursive: true, force: true });
  }
}

function report(
  options: FleetOptions,
  hosts: readonly Host[],
  records: readonly RunRecord[],
  releases: readonly Release[],
  timed: readonly TimedRequest[],
  quotaByHour: ReadonlyMap<number, number>,
  quotaRemainingMin: number,
  wrongCommit: string[],
  secondaryRefusals: number,
  realSeconds: number,
): FleetReport {
  const waves = options.waves.length;
  const hostsPerWave = Array.from({ length: waves }, (_, w) => hosts.filter((h) => h.wave === w).length);
  const applies = records.filter((r) => r.kind === 'update');
  const arrivals = {} as Record<Release['name'], WaveArrival[]>;
  const outOfOrder: string[] = [];
  for (const release of releases) {
    const rows: WaveArrival[] = [];
    for (let w = 0; w < waves; w++) {
      const delays = applies.filter((r) => r.commit === release.commit && hosts[r.host]!.wave === w).map((r) => r.atMin - release.atMin);
      rows.push({ wave: w, hosts: hostsPerWave[w]!, applied: delays.length, firstMin: delays.length === 0 ? undefined : Math.min(...delays), lastMin: delays.length === 0 ? undefined : Math.max(...delays) });
    }
    arrivals[release.name] = rows;
    for (const row of rows) {
      const delay = (row.wave * options.intervalSec) / 60;
      if (row.firstMin !== undefined && row.firstMin < delay) outOfOrder.push(`${release.name}: wave ${row.wave} first applied ${row.firstMin.toFixed(1)} min after the push, before its delay of ${delay} min`);
      const ahead = rows[row.wave - 1];
      if (row.firstMin !== undefined && ahead?.lastMin !== undefined && row.firstMin < ahead.lastMin) outOfOrder.push(`${release.name}: wave ${row.wave} began (${row.firstMin.toFixed(1)} min) before wave ${ahead.wave} ended (${ahead.lastMin.toFixed(1)} min)`);
    }
  }
  const bad = releases.find((r) => r.name === 'bad');
  const revert = releases.find((r) => r.name === 'revert');
  const badTakers = Array.from({ length: waves }, () => 0);
  let badOutsideWindow = 0;
  const tookBad = new Set<number>();
  for (const r of applies.filter((a) => a.commit === bad?.commit)) {
    tookBad.add(r.host);
    badTakers[hosts[r.host]!.wave]! += 1;
    const delay = (hosts[r.host]!.wave * options.intervalSec) / 60;
    if (bad === undefined || revert === undefined || r.atMin < bad.atMin + delay || r.atMin >= revert.atMin) badOutsideWindow += 1;
  }
  const churned = applies.filter((r) => r.commit === revert?.commit && !tookBad.has(r.host) && r.changedFiles > 0).map((r) => hosts[r.host]!.id);

  const api = timed.filter((t) => t.kind === 'api');
  const perEndpoint = new Map<string, number[]>();
  for (const t of api) perEndpoint.set(t.endpoint, [...(perEndpoint.get(t.endpoint) ?? []), t.start]);
  let peakEndpoint = { endpoint: '', count: 0 };
  for (const [endpoint, times] of perEndpoint) {
    const count = peakPerMinute(times);
    if (count > peakEndpoint.count) peakEndpoint = { endpoint, count };
  }
  const hours = Math.ceil(options.scenario.endAt / 60);
  const perRun: PerRun[] = [];
  for (const kind of ['install', 'update', 'held', 'unchanged'] as const) {
    for (const poll of ['rest', 'ls-refs']) {
      const rows = records.filter((r) => r.kind === kind && r.poll === poll);
      if (rows.length === 0) continue;
      const mean = (pick: (r: RunRecord) => number): number => rows.reduce((sum, r) => sum + pick(r), 0) / rows.length;
      perRun.push({
        kind,
        poll,
        runs: rows.length,
        quotaPoints: { mean: mean((r) => r.quotaPoints), max: Math.max(...rows.map((r) => r.quotaPoints)) },
        apiRequests: mean((r) => r.apiRequests),
        httpRequests: mean((r) => r.httpRequests),
        bytesReceived: mean((r) => r.bytesReceived),
        durationMs: { median: median(rows.map((r) => r.durationMs)), p95: p95(rows.map((r) => r.durationMs)) },
      });
    }
  }
  const perHostPerRelease: FleetReport['perHostPerRelease'][number][] = [];
  releases.forEach((release, i) => {
    const until = releases[i + 1]?.atMin ?? Infinity;
    for (const poll of ['rest', 'ls-refs']) {
      const spent = new Map<number, number>();
      for (const r of records) if (r.atMin >= release.atMin && r.atMin < until && r.poll === poll) spent.set(r.host, (spent.get(r.host) ?? 0) + r.quotaPoints);
      if (spent.size === 0) continue;
      const values = [...spent.values()];
      perHostPerRelease.push({ release: release.name, poll, hosts: spent.size, mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) });
    }
  });
  return {
    options,
    hostsPerWave,
    perHostPerRelease,
    records,
    releases,
    arrivals,
    runs: records.length,
    failedRuns: records.filter((r) => r.kind === 'failed'),
    skippedRuns: hosts.reduce((sum, h) => sum + h.skipped, 0),
    wrongCommit,
    badTakers,
    badOutsideWindow,
    churned,
    outOfOrder,
    quotaPerHour: Array.from({ length: hours }, (_, h) => quotaByHour.get(h) ?? 0),
    quotaRemainingMin,
    peakApiPerMinute: peakPerMinute(api.map((t) => t.start)),
    peakApiPerEndpointMinute: peakEndpoint,
    peakGitPerMinute: peakPerMinute(timed.filter((t) => t.kind === 'git').map((t) => t.start)),
    peakApiConcurrent: peakOverlap(api),
    peakAllConcurrent: peakOverlap(timed),
    secondaryRefusals,
    perRun,
    realSeconds,
  };
}

/** The report as text: what `npm run fleet` prints. */
export function formatReport(r: FleetReport): string {
  const o = r.options;
  const lines: string[] = [];
  const min = (v: number | undefined): string => (v === undefined ? '—' : v.toFixed(1));
  lines.push(`fleet: ${o.hosts} hosts (${r.hostsPerWave.map((n, w) => `wave ${w}: ${n}`).join(', ')}), waves ${JSON.stringify(o.waves)} every ${o.intervalSec / 60} min, timer every ${o.periodSec / 60} min + fixed offset < ${o.spreadSec / 60} min, ${o.lsRefsEvery > 0 ? `1 host in ${o.lsRefsEvery} polls with ls-refs` : `no host polls with ls-refs`}, ${o.latencyMs} ms latency, quota ${o.quotaLimit}/h (one App installation)`);
  lines.push(`runs: ${r.runs} (${r.failedRuns.length} failed, ${r.skippedRuns} timer firings skipped while a run was still going), ${r.realSeconds.toFixed(0)} s real time`);
  lines.push('');
  lines.push('time for a release to reach each wave (minutes after the push: first host – last host, hosts applied / in wave)');
  for (const release of r.releases) {
    const rows = r.arrivals[release.name] ?? [];
    lines.push(`  ${release.name.padEnd(8)} ${release.commit.slice(0, 12)} at t+${release.atMin} min: ${rows.map((w) => `wave ${w.wave} ${min(w.firstMin)}–${min(w.lastMin)} (${w.applied}/${w.hosts})`).join('; ')}`);
  }
  lines.push(`  bad release taken by wave: ${r.badTakers.join(' / ')}; outside its wave's window: ${r.badOutsideWindow}; hosts that never took it but changed files for the revert: ${r.churned.length}`);
  lines.push(`  waves out of order or early: ${r.outOfOrder.length === 0 ? 'none' : r.outOfOrder.join('; ')}`);
  lines.push(`  hosts on the wrong commit at the end (commit or DEST ≠ the ref's last commit): ${r.wrongCommit.length}${r.wrongCommit.length > 0 ? ` (${r.wrongCommit.slice(0, 5).join(', ')}…)` : ''}`);
  lines.push('');
  lines.push(`quota per hour: ${r.quotaPerHour.map((q, h) => `h${h} ${q}`).join(', ')}; lowest remaining ${r.quotaRemainingMin} of ${o.quotaLimit}`);
  lines.push(`peak API requests: ${r.peakApiPerMinute}/min in all, ${r.peakApiPerEndpointMinute.count}/min to ${r.peakApiPerEndpointMinute.endpoint} (limit ${o.secondary.pointsPerMinute}); ${r.peakApiConcurrent} concurrent (limit ${o.secondary.concurrent}); secondary-limit refusals: ${r.secondaryRefusals}`);
  lines.push(`peak git requests: ${r.peakGitPerMinute}/min; all requests concurrent: ${r.peakAllConcurrent}`);
  lines.push('');
  lines.push('per run (the cost model’s inputs): kind, poll, runs, quota points mean/max, API requests, HTTP requests, bytes received, duration median/p95');
  for (const p of r.perRun) {
    lines.push(`  ${p.kind.padEnd(9)} ${p.poll.padEnd(7)} ${String(p.runs).padStart(5)}  points ${p.quotaPoints.mean.toFixed(2)}/${p.quotaPoints.max}  api ${p.apiRequests.toFixed(2)}  http ${p.httpRequests.toFixed(2)}  ${Math.round(p.bytesReceived)} B  ${p.durationMs.median}/${p.durationMs.p95} ms`);
  }
  lines.push(`quota points per host from a push to the next: ${r.perHostPerRelease.map((p) => `${p.release}/${p.poll} mean ${p.mean.toFixed(2)} max ${p.max}`).join('; ')}`);
  if (r.failedRuns.length > 0) {
    lines.push('');
    lines.push(`failed runs (first 5): ${r.failedRuns.slice(0, 5).map((f) => `hv-${String(f.host).padStart(4, '0')} at t+${f.atMin.toFixed(1)}: ${f.error}`).join(' | ')}`);
  }
  return lines.join('\n');
}

/** What must hold; each failure as a sentence (empty: all good). */
export function checkReport(r: FleetReport): string[] {
  const problems: string[] = [];
  if (r.wrongCommit.length > 0) problems.push(`${r.wrongCommit.length} host(s) on the wrong commit`);
  if (r.failedRuns.length > 0) problems.push(`${r.failedRuns.length} failed run(s)`);
  problems.push(...r.outOfOrder);
  for (const release of r.releases) {
    const missing = (r.arrivals[release.name] ?? []).filter((w) => release.name !== 'bad' && w.applied < w.hosts);
    for (const w of missing) problems.push(`${release.name}: only ${w.applied} of the ${w.hosts} hosts of wave ${w.wave} applied it`);
  }
  if (r.badOutsideWindow > 0) problems.push(`${r.badOutsideWindow} apply(s) of the bad release outside their wave's window`);
  if (r.badTakers.at(-1)! > 0) problems.push(`${r.badTakers.at(-1)} host(s) of the last wave took the bad release`);
  if (r.churned.length > 0) problems.push(`${r.churned.length} host(s) that never took the bad release changed files for the revert`);
  if (r.secondaryRefusals > 0) problems.push(`${r.secondaryRefusals} secondary-limit refusal(s)`);
  if (r.peakApiConcurrent >= r.options.secondary.concurrent) problems.push(`${r.peakApiConcurrent} concurrent API requests`);
  for (const p of r.perRun) if (p.kind === 'unchanged' && p.quotaPoints.max > 0) problems.push(`unchanged polls with poll ${p.poll} cost up to ${p.quotaPoints.max} points`);
  for (const p of r.perHostPerRelease) if (p.max > (p.poll === 'ls-refs' ? 0 : 1)) problems.push(`a host with poll ${p.poll} spent ${p.max} points on the ${p.release} release`);
  return problems;
}
