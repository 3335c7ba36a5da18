/**
 * The workloads: each prepares its state with the link unthrottled (not measured), then measures
 * hostsync and its peers run by run, alternating who goes first, on the same server.
 *
 * Steady state: a real timer polls minutes after the last apply. hostsync distrusts files changed
 * in the 2 s before a scan (racy-git protection) and git re-hashes index entries as new as the
 * index, so after every apply the bench waits until {@link SETTLE_MS} have passed and runs one
 * unmeasured `hostsync sync` and one `git status` before the next measured run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeGitHub, LoggedRequest } from '../support/github-server.js';
import { compareTrees, extractGitArchive, type TestRepo } from '../support/repo.js';
import { archiveInto } from './fixtures.js';
import { measureCommands, type Command } from './measure.js';
import type { WorkloadName } from './options.js';
import { maxConcurrent, ratios, readPhases, summarize, type RunRecord, type ToolResult, type WorkloadResult } from './report.js';
import { gitClone, gitFetch, gitReset, gitStatus, hostsyncSync, tarballDownload, type ToolContext } from './tools.js';

/** Time after an apply before the next measured run: hostsync's 2 s racy margin, plus slack. */
export const SETTLE_MS = 2_200;

export interface Link {
  readonly latencyMs: number;
  readonly bandwidth: number;
}

export interface BenchContext {
  readonly server: FakeGitHub;
  readonly tools: ToolContext;
  /** Folder for destinations, clones and state dirs. */
  readonly scratch: string;
  readonly log: (message: string) => void;
  /** When each logged request ended (performance.now()), for requests in flight. */
  readonly requestEnds: WeakMap<LoggedRequest, number>;
}

/** Record when each request of the server's log ends, to count the requests in flight. */
export function trackRequestEnds(server: FakeGitHub): WeakMap<LoggedRequest, number> {
  const ends = new WeakMap<LoggedRequest, number>();
  const log = server.requests;
  const push = log.push.bind(log);
  log.push = (...items: LoggedRequest[]): number => {
    const now = performance.now();
    for (const item of items) ends.set(item, now);
    return push(...items);
  };
  return ends;
}

export function setLink(server: FakeGitHub, link: Link): void {
  server.latencyMs = link.latencyMs;
  server.bandwidthBytesPerSec = link.bandwidth;
}

/** Run `fn` with the link unthrottled (preparation is not measured), then restore it. */
async function unthrottled<T>(ctx: BenchContext, fn: () => Promise<T>): Promise<T> {
  const saved = { latencyMs: ctx.server.latencyMs, bandwidth: ctx.server.bandwidthBytesPerSec };
  setLink(ctx.server, { latencyMs: 0, bandwidth: 0 });
  try {
    return await fn();
  } finally {
    setLink(ctx.server, saved);
  }
}

/** Measure one run of `commands`, with the wire statistics of exactly this run. */
async function measureRun(ctx: BenchContext, commands: readonly Command[], hostsync: boolean, expectCommit?: string): Promise<RunRecord> {
  ctx.server.resetLog();
  const t0 = performance.now();
  const m = await measureCommands(commands, ctx.scratch);
  await sleep(10); // let the last 'finish' events reach the log
  const requests = [...ctx.server.requests];
  const intervals = requests.map((r) => {
    const end = ctx.requestEnds.get(r) ?? 0;
    return { start: end - r.durationMs, end };
  });
  let filesHashed: number | null = null;
  let strategy: string | null = null;
  let innerMs: number | null = null;
  let phases: RunRecord['phases'] = null;
  let scan: RunRecord['scan'] = null;
  let warnings: string[] = [];
  if (hostsync) {
    const out = m.outputs[m.outputs.length - 1];
    const json = JSON.parse(out?.stdout ?? '{}') as { filesHashed?: number; strategy?: string; source?: string; durationMs?: number; commit?: string; phases?: { name: string; ms: number; counts?: Record<string, number> }[] };
    if (expectCommit !== undefined && json.commit !== expectCommit) throw new Error(`hostsync synced ${json.commit ?? '?'}, expected ${expectCommit}.`);
    filesHashed = json.filesHashed ?? null;
    strategy = json.strategy === undefined ? null : `${json.source ?? '?'}/${json.strategy}`;
    innerMs = json.durationMs ?? null;
    ({ phases, scan, warnings } = readPhases(json, out?.stderr ?? ''));
  }
  return {
    wallMs: m.wallMs,
    cpuMs: m.cpuMs,
    wireBytes: requests.reduce((sum, r) => sum + r.bytesSent, 0),
    requests: requests.length,
    quota: requests.reduce((sum, r) => sum + r.quotaCost, 0),
    maxInFlight: maxConcurrent(intervals),
    serverMs: requests.reduce((sum, r) => sum + r.durationMs, 0),
    peakRssBytes: m.peakRssBytes,
    treeRssBytes: m.treeRssBytes,
    processes: m.processes,
    filesHashed,
    strategy,
    innerMs,
    phases,
    scan,
    warnings,
    timeline: requests.map((r, i) => ({
      startMs: Math.round((intervals[i]?.start ?? 0) - t0),
      endMs: Math.round((intervals[i]?.end ?? 0) - t0),
      status: r.status,
      bytes: r.bytesSent,
      path: r.path,
    })),
  };
}

/** One contender of a workload: how to build its commands for a run. */
interface Contender {
  readonly tool: string;
  readonly hostsync: boolean;
  readonly commands: (run: number) => Promise<readonly Command[]> | readonly Command[];
  /** After the run (not measured): check the result, clean up. */
  readonly after?: (run: number) => Promise<void>;
}

/** Run every contender `runs` times, rotating who goes first; optional hook between runs. */
async function rounds(
  ctx: BenchContext,
  label: string,
  runs: number,
  contenders: readonly Contender[],
  hooks: { readonly before?: (run: number) => Promise<string | undefined>; readonly between?: () => Promise<void> } = {},
): Promise<ToolResult[]> {
  const records = contenders.map(() => [] as RunRecord[]);
  for (let run = 0; run < runs; run++) {
    const expect = await hooks.before?.(run);
    const order = contenders.map((_, i) => (i + run) % contenders.length);
    const said: string[] = [];
    for (const index of order) {
      const c = contenders[index];
      if (c === undefined) continue;
      const record = await measureRun(ctx, await c.commands(run), c.hostsync, c.hostsync ? expect : undefined);
      await c.after?.(run);
      records[index]?.push(record);
      said.push(`${c.tool} ${Math.round(record.wallMs)} ms`);
    }
    ctx.log(`  ${label} run ${run + 1}/${runs}: ${said.join(', ')}`);
    // After the last run the next workload settles the pair itself, if it uses it again.
    if (run < runs - 1) await hooks.between?.();
  }
  return contenders.map((c, i) => {
    const runsOf = records[i] ?? [];
    return { tool: c.tool, hostsync: c.hostsync, runs: runsOf, summary: summarize(runsOf) };
  });
}

export function workloadResult(name: WorkloadName, title: string, notes: readonly string[], tools: readonly ToolResult[]): WorkloadResult {
  return { name, title, notes, tools, ratios: ratios(tools) };
}

async function freshDir(ctx: BenchContext, name: string): Promise<string> {
  return mkdtemp(join(ctx.scratch, `${name}-`));
}

// ---------------------------------------------------------------------------------------------

export const PEERS = {
  clone: 'git clone --depth 1',
  tarball: 'tarball GET + tar xz',
  fetch: 'git fetch --depth 1',
  fetchReset: 'git fetch --depth 1 + reset --hard',
  fetchStatus: 'git fetch --depth 1 + git status',
  status: 'git status',
} as const;

const HOSTSYNC = 'hostsync sync';
/** hostsync on GitHub's REST API alone (per-blob downloads, tarball), beside the default wire protocol. */
export const HOSTSYNC_REST = 'hostsync sync --transport rest';

/** First install: hostsync into an empty DEST with a fresh state dir (also over REST), a shallow clone, a tarball. */
export async function firstInstall(ctx: BenchContext, repoName: string, repo: TestRepo, runs: number, label: string, options: { readonly rest: boolean; readonly tarball: boolean } = { rest: true, tarball: true }): Promise<ToolResult[]> {
  const commit = await repo.head();
  const dirs: string[] = [];
  const fresh = async (name: string): Promise<string> => {
    const dir = await freshDir(ctx, name);
    dirs.push(dir);
    return dir;
  };
  const cleanup = async (): Promise<void> => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  };
  let firstDest = '';
  const install = (tool: string, transport: 'rest' | undefined): Contender => ({
    tool,
    hostsync: true,
    commands: async (run) => {
      const dir = await fresh('first');
      firstDest = join(dir, 'dest');
      return [hostsyncSync(ctx.tools, repoName, firstDest, join(dir, 'state'), `${label}-${run}${transport ?? ''}`, transport)];
    },
    after: async (run) => {
      if (run === 0) await expectSameAsCommit(repo, commit, firstDest);
      await cleanup();
    },
  });
  return rounds(ctx, label, runs, [
    install(HOSTSYNC, undefined),
    ...(options.rest ? [install(HOSTSYNC_REST, 'rest')] : []),
    { tool: PEERS.clone, hostsync: false, commands: async () => [gitClone(ctx.tools, repoName, join(await fresh('clone'), 'work'))], after: cleanup },
    ...(options.tarball ? [{ tool: PEERS.tarball, hostsync: false, commands: async () => [tarballDownload(ctx.tools, repoName, commit, join(await fresh('tarball'), 'work'))], after: cleanup }] : []),
  ]);
}

/** A long-lived hostsync DEST and a long-lived shallow clone of the same repository. */
export interface SteadyPair {
  readonly repoName: string;
  readonly repo: TestRepo;
  readonly dest: string;
  readonly stateDir: string;
  readonly clone: string;
  /** performance.now() after hostsync's last apply (git's racy index is refreshed by `git status`). */
  lastApply: number;
  /** Settled since the last apply: racy window over, warm-up poll and git status done. */
  settled: boolean;
  /** The transport of this pair's hostsync (undefined: the default). */
  readonly transport: 'rest' | undefined;
}

/**
 * Install DEST and the clone (link unthrottled, not measured). With `adopt`, DEST starts as
 * `git archive` of the commit and hostsync adopts it (hashing, no download): a 20,000-file
 * per-blob first install would take minutes on the fake server and 20,000 quota points.
 */
export async function prepareSteady(ctx: BenchContext, repoName: string, repo: TestRepo, commit: string, adopt: boolean, transport?: 'rest'): Promise<SteadyPair> {
  const root = await freshDir(ctx, 'steady');
  const dest = join(root, 'dest');
  const stateDir = join(root, 'state');
  const clone = join(root, 'clone');
  const install = [hostsyncSync(ctx.tools, repoName, dest, stateDir, undefined, transport)];
  const cloneAndFetch = [gitClone(ctx.tools, repoName, clone), gitFetch(ctx.tools, clone)];
  let lastApply = 0;
  await unthrottled(ctx, async () => {
    if (adopt) {
      await archiveInto(repo.dir, commit, dest);
      lastApply = performance.now();
      await measureCommands(cloneAndFetch, ctx.scratch);
      // Adopting files older than the racy margin caches them all: the warm-up poll hashes nothing.
      const wait = lastApply + SETTLE_MS - performance.now();
      if (wait > 0) await sleep(wait);
      await measureCommands(install, ctx.scratch);
    } else {
      await measureCommands(install, ctx.scratch);
      lastApply = performance.now();
      await measureCommands(cloneAndFetch, ctx.scratch);
    }
  });
  return { repoName, repo, dest, stateDir, clone, lastApply, settled: false, transport };
}

/** Wait out the racy window since the last apply, then one unmeasured poll and `git status`. */
export async function settle(ctx: BenchContext, pair: SteadyPair): Promise<void> {
  // Measured polls and git status leave a settled pair settled: nothing to wait for again.
  if (pair.settled) return;
  const wait = pair.lastApply + SETTLE_MS - performance.now();
  if (wait > 0) await sleep(wait);
  await measureCommands([hostsyncSync(ctx.tools, pair.repoName, pair.dest, pair.stateDir, undefined, pair.transport)], ctx.scratch);
  await measureCommands([gitStatus(ctx.tools, pair.clone)], ctx.scratch);
  pair.settled = true;
}

/** Unchanged polls (after {@link settle}): hostsync against `git fetch` (and `git status`). */
export async function unchangedPoll(ctx: BenchContext, pair: SteadyPair, runs: number, label: string, withStatus: boolean): Promise<ToolResult[]> {
  await settle(ctx, pair);
  const contenders: Contender[] = [
    { tool: HOSTSYNC, hostsync: true, commands: (run) => [hostsyncSync(ctx.tools, pair.repoName, pair.dest, pair.stateDir, `${label}-${run}`)] },
    ...(withStatus ? [{ tool: PEERS.fetchStatus, hostsync: false, commands: () => [gitFetch(ctx.tools, pair.clone), gitStatus(ctx.tools, pair.clone)] }] : []),
    { tool: PEERS.fetch, hostsync: false, commands: () => [gitFetch(ctx.tools, pair.clone)] },
    ...(withStatus ? [{ tool: PEERS.status, hostsync: false, commands: () => [gitStatus(ctx.tools, pair.clone)] }] : []),
  ];
  return rounds(ctx, label, runs, contenders);
}

/**
 * Updates: before each run `push` commits a change; hostsync syncs, git fetches and resets; both
 * must land on the new commit. Then the pair settles before the next run.
 */
export async function updates(ctx: BenchContext, pair: SteadyPair, runs: number, label: string, push: () => Promise<string>, restPair?: SteadyPair): Promise<ToolResult[]> {
  await settle(ctx, pair);
  if (restPair !== undefined) await settle(ctx, restPair);
  let expected = '';
  const checkClone = async (): Promise<void> => {
    const head = await measureCommands([{ file: 'git', args: ['rev-parse', 'HEAD'], cwd: pair.clone, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } }], ctx.scratch);
    const sha = head.outputs[0]?.stdout.trim();
    if (sha !== expected) throw new Error(`The clone is at ${sha ?? '?'} after fetch + reset, expected ${expected}.`);
  };
  return rounds(
    ctx,
    label,
    runs,
    [
      {
        tool: HOSTSYNC,
        hostsync: true,
        commands: (run) => [hostsyncSync(ctx.tools, pair.repoName, pair.dest, pair.stateDir, `${label}-${run}`)],
        // The racy window starts at hostsync's apply; git's index is refreshed by the warm-up git status.
        after: () => {
          pair.lastApply = performance.now();
          pair.settled = false;
          return Promise.resolve();
        },
      },
      ...(restPair === undefined
        ? []
        : [
            {
              tool: HOSTSYNC_REST,
              hostsync: true,
              commands: (run: number) => [hostsyncSync(ctx.tools, restPair.repoName, restPair.dest, restPair.stateDir, `${label}-${run}-rest`, 'rest')],
              after: () => {
                restPair.lastApply = performance.now();
                restPair.settled = false;
                return Promise.resolve();
              },
            },
          ]),
      { tool: PEERS.fetchReset, hostsync: false, commands: () => [gitFetch(ctx.tools, pair.clone), gitReset(ctx.tools, pair.clone)], after: checkClone },
    ],
    {
      before: async () => {
        expected = await push();
        return expected;
      },
      between: async () => {
        await settle(ctx, pair);
        if (restPair !== undefined) await settle(ctx, restPair);
      },
    },
  );
}

/** Check `dest` against `git archive` of `commit` (not measured). */
async function expectSameAsCommit(repo: TestRepo, commit: string, dest: string): Promise<void> {
  const expected = await extractGitArchive(repo.dir, commit);
  try {
    const diff = await compareTrees(expected, dest);
    if (diff.length > 0) throw new Error(`DEST ${dest} differs from ${commit}: ${JSON.stringify(diff.slice(0, 5))}`);
  } finally {
    await rm(expected, { recursive: true, force: true });
  }
}

/** Check DEST against `git archive` of the repository's HEAD (not measured). */
export async function verifyDest(pair: SteadyPair): Promise<void> {
  await expectSameAsCommit(pair.repo, await pair.repo.head(), pair.dest);
}
