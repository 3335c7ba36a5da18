/**
 * `npm run bench`: hostsync against git (shallow clone, fetch, reset, status) and a tarball
 * download, side by side on the same GitHub-compatible server with a simulated slow link, then
 * again unthrottled. Prints a table per link and the targets' verdicts; writes bench-results.json.
 * How to read it: docs/performance.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGitHubServer } from '../support/github-server.js';
import { createLargeTree, createSampleChain, type LargeTree, type SampleChain } from './fixtures.js';
import { LARGE_WORKLOADS, ONCE_WORKLOADS, parseBenchOptions, USAGE, type BenchOptions, type WorkloadName } from './options.js';
import { evaluateTargets, renderMarkdown, renderTable, type ModeResult, type TargetResult, type ToolResult, type WorkloadResult } from './report.js';
import { HOSTSYNC_BIN } from './tools.js';
import {
  firstInstall,
  PEERS,
  prepareSteady,
  SETTLE_MS,
  setLink,
  trackRequestEnds,
  unchangedPoll,
  updates,
  verifyDest,
  workloadResult,
  type BenchContext,
  type Link,
  type SteadyPair,
} from './workloads.js';

const TOKEN = 'ghp_benchTokenValue0123456789abcdefABCDEF';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LARGE_FILES = 20_000;
const HUGE_FILES = 100_000;
const BIG_FILE_BYTES = 50 * 1024 * 1024;

const TITLES: Record<WorkloadName, string> = {
  'first-install': 'First install of the sample repository (~150 files, 2 MiB binary) into an empty directory',
  poll: 'Unchanged poll of the sample repository',
  'ten-edits': 'Ten text files edited',
  'typical-update': 'Typical update: 6 edited, 2 added, 1 deleted, 1 mode change, 1 folder moved, 4 KiB of the 2 MiB binary rewritten',
  'large-install': `First install of a ${LARGE_FILES.toLocaleString('en')}-file repository into an empty directory`,
  'large-poll': `Unchanged poll of a ${LARGE_FILES.toLocaleString('en')}-file repository`,
  'huge-poll': `Unchanged poll of a ${HUGE_FILES.toLocaleString('en')}-file repository`,
  'huge-edit': `One file edited in the ${HUGE_FILES.toLocaleString('en')}-file repository`,
  'large-edit': `One file edited in the ${LARGE_FILES.toLocaleString('en')}-file repository`,
  'big-file': 'A 50 MiB pseudo-random file added (the previous one deleted)',
};

const settleNote = `measured ≥ ${SETTLE_MS / 1000} s after the last apply, after one unmeasured hostsync poll and one git status (steady state of a timer)`;

const NOTES: Record<WorkloadName, readonly string[]> = {
  'first-install': ['hostsync: fresh DEST and state dir each run; git: fresh directory each run; tarball: Node fetch following the codeload redirect, piped into tar xz'],
  poll: [settleNote],
  'ten-edits': [settleNote, 'one new commit per run; DEST compared with git archive afterwards'],
  'typical-update': [settleNote, 'one new commit per run; DEST compared with git archive afterwards'],
  'large-install': ['one run: hostsync (wire protocol) and git clone --depth 1, each into a fresh directory'],
  'large-poll': [settleNote, 'DEST adopted from git archive by an unmeasured hostsync sync'],
  'huge-poll': [settleNote, 'one run; GitHub truncates recursive trees at 100,000 entries: the REST path walks subtrees, the wire protocol reads trees from the pack'],
  'huge-edit': [settleNote, 'one run (one 600-byte file rewritten)'],
  'large-edit': [settleNote, 'one new commit per run (one 600-byte file rewritten)'],
  'big-file': [settleNote, 'the sample repository again: one new commit per run adds the file (and deletes the previous one)'],
};

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function gitOutput(args: readonly string[]): string {
  try {
    return execFileSync('git', [...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The checkout's commit, with `-dirty` when src/ has uncommitted changes (what the build came from). */
function checkoutCommit(): string {
  const head = gitOutput(['rev-parse', '--short=12', 'HEAD']);
  return gitOutput(['status', '--porcelain', '--', 'src']) === '' ? head : `${head}-dirty`;
}

/** Lazily built repositories and steady pairs, shared by the workloads that need them. */
class Families {
  private sample: Promise<SampleChain> | undefined;
  private samplePair: Promise<SteadyPair> | undefined;
  private large: Promise<LargeTree> | undefined;
  private largePair: Promise<SteadyPair> | undefined;
  private huge: Promise<LargeTree> | undefined;
  private hugePair: Promise<SteadyPair> | undefined;
  private sampleRestPair: Promise<SteadyPair> | undefined;
  readonly cleanups: (() => Promise<void>)[] = [];

  constructor(private readonly ctx: BenchContext) {}

  sampleChain(): Promise<SampleChain> {
    this.sample ??= (async () => {
      const chain = await createSampleChain();
      this.cleanups.push(() => chain.repo.cleanup());
      await this.ctx.server.addRepo('bench/fleet', chain.repo.dir);
      log(`sample repository: ${chain.fileCount} files and symlinks`);
      return chain;
    })();
    return this.sample;
  }

  sampleSteady(): Promise<SteadyPair> {
    this.samplePair ??= (async () => {
      const chain = await this.sampleChain();
      return prepareSteady(this.ctx, 'bench/fleet', chain.repo, await chain.repo.head(), false);
    })();
    return this.samplePair;
  }

  /** The sample repository's second DEST, kept by hostsync over the REST API. */
  sampleRestSteady(): Promise<SteadyPair> {
    this.sampleRestPair ??= (async () => {
      const chain = await this.sampleChain();
      return prepareSteady(this.ctx, 'bench/fleet', chain.repo, await chain.repo.head(), false, 'rest');
    })();
    return this.sampleRestPair;
  }

  largeTree(): Promise<LargeTree> {
    this.large ??= (async () => {
      const started = performance.now();
      const tree = await createLargeTree(LARGE_FILES);
      this.cleanups.push(() => tree.repo.cleanup());
      await this.ctx.server.addRepo('bench/monorepo', tree.repo.dir);
      log(`large repository: ${tree.files} files built in ${Math.round(performance.now() - started)} ms`);
      return tree;
    })();
    return this.large;
  }

  largeSteady(): Promise<SteadyPair> {
    this.largePair ??= (async () => {
      const started = performance.now();
      const tree = await this.largeTree();
      const pair = await prepareSteady(this.ctx, 'bench/monorepo', tree.repo, await tree.repo.head(), true);
      log(`large repository: DEST adopted and clone made in ${Math.round(performance.now() - started)} ms`);
      return pair;
    })();
    return this.largePair;
  }

  hugeTree(): Promise<LargeTree> {
    this.huge ??= (async () => {
      const started = performance.now();
      const tree = await createLargeTree(HUGE_FILES);
      this.cleanups.push(() => tree.repo.cleanup());
      await this.ctx.server.addRepo('bench/huge', tree.repo.dir);
      log(`huge repository: ${tree.files} files built in ${Math.round(performance.now() - started)} ms`);
      return tree;
    })();
    return this.huge;
  }

  hugeSteady(): Promise<SteadyPair> {
    this.hugePair ??= (async () => {
      const started = performance.now();
      const tree = await this.hugeTree();
      const pair = await prepareSteady(this.ctx, 'bench/huge', tree.repo, await tree.repo.head(), true);
      log(`huge repository: DEST adopted and clone made in ${Math.round(performance.now() - started)} ms`);
      return pair;
    })();
    return this.hugePair;
  }

}

async function runWorkload(name: WorkloadName, ctx: BenchContext, families: Families, modeRuns: number, options: BenchOptions, mode: string): Promise<ToolResult[]> {
  const label = `${mode}-${name}`;
  const runs = name === 'big-file' ? Math.min(options.largeRuns, modeRuns) : ONCE_WORKLOADS.has(name) ? Math.min(1, modeRuns) : modeRuns;
  switch (name) {
    case 'first-install': {
      const chain = await families.sampleChain();
      return firstInstall(ctx, 'bench/fleet', chain.repo, runs, label);
    }
    case 'poll':
      return unchangedPoll(ctx, await families.sampleSteady(), runs, label, false);
    case 'ten-edits': {
      const chain = await families.sampleChain();
      const pair = await families.sampleSteady();
      const rest = await families.sampleRestSteady();
      const tools = await updates(ctx, pair, runs, label, () => chain.editTenFiles(), rest);
      await verifyDest(pair);
      await verifyDest(rest);
      return tools;
    }
    case 'typical-update': {
      const chain = await families.sampleChain();
      const pair = await families.sampleSteady();
      const rest = await families.sampleRestSteady();
      const tools = await updates(ctx, pair, runs, label, () => chain.typicalUpdate(), rest);
      await verifyDest(pair);
      await verifyDest(rest);
      return tools;
    }
    case 'large-install': {
      const tree = await families.largeTree();
      return firstInstall(ctx, 'bench/monorepo', tree.repo, runs, label, { rest: false, tarball: false });
    }
    case 'large-poll':
      return unchangedPoll(ctx, await families.largeSteady(), runs, label, true);
    case 'large-edit': {
      const pair = await families.largeSteady();
      const tree = await families.largeTree();
      const tools = await updates(ctx, pair, runs, label, () => tree.editOneFile());
      await verifyDest(pair);
      return tools;
    }
    case 'huge-poll':
      return unchangedPoll(ctx, await families.hugeSteady(), runs, label, true);
    case 'huge-edit': {
      const pair = await families.hugeSteady();
      const tree = await families.hugeTree();
      return updates(ctx, pair, runs, label, () => tree.editOneFile());
    }
    case 'big-file': {
      // The sample repository again (big-file runs last): the 50 MiB file goes beside its ~150 files.
      const chain = await families.sampleChain();
      const pair = await families.sampleSteady();
      const tools = await updates(ctx, pair, runs, label, () => chain.addBigFile(BIG_FILE_BYTES));
      await verifyDest(pair);
      return tools;
    }
  }
}

function printTargets(targets: readonly TargetResult[]): void {
  for (const t of targets) console.log(`${t.verdict.padEnd(4)}  ${t.title}\n      ${t.detail}`);
}

async function main(): Promise<void> {
  const { options, errors } = parseBenchOptions(process.argv.slice(2), process.env);
  if (options.help) {
    console.log(USAGE);
    return;
  }
  if (errors.length > 0) {
    for (const error of errors) console.error(error);
    process.exitCode = 2;
    return;
  }
  const bin = options.hostsyncBin === undefined ? HOSTSYNC_BIN : resolve(options.hostsyncBin);
  if (options.hostsyncBin === undefined && !existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error(`No build at ${join(ROOT, 'dist')}: run \`npm run build\` first (npm run bench does).`);
  if (!existsSync(bin)) throw new Error(`No hostsync entry point at ${bin}.`);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const scratch = await mkdtemp(join(tmpdir(), 'hostsync-bench-'));
  const home = join(scratch, 'home');
  await mkdir(home);
  const profileDir = options.profileDir === undefined ? undefined : resolve(options.profileDir);
  const server = await startGitHubServer({ tokens: [TOKEN] });
  const ctx: BenchContext = {
    server,
    tools: { apiUrl: server.apiUrl, serverUrl: server.serverUrl, token: TOKEN, home, profileDir, bin },
    scratch,
    log,
    requestEnds: trackRequestEnds(server),
  };
  const families = new Families(ctx);
  const links: { mode: ModeResult['mode']; link: Link; runs: number }[] = [{ mode: 'throttled', link: { latencyMs: options.latencyMs, bandwidth: options.bandwidth }, runs: options.runs }];
  if (options.unthrottledRuns > 0) links.push({ mode: 'unthrottled', link: { latencyMs: 0, bandwidth: 0 }, runs: options.unthrottledRuns });
  const results = new Map<ModeResult['mode'], WorkloadResult[]>(links.map((l) => [l.mode, []]));
  const timeline: { workload: WorkloadName; mode: ModeResult['mode']; startS: number; endS: number }[] = [];
  const loadBefore = loadavg();
  log(
    `hostsync bench: ${options.workloads.join(', ')}; throttled link ${options.latencyMs} ms + ${options.bandwidth} B/s, ${options.runs} run(s) per tool; unthrottled ${options.unthrottledRuns} run(s)${options.unthrottledLarge ? '' : ' (sample-repository workloads only)'}; big-file at most ${options.largeRuns}`,
  );
  try {
    for (const name of options.workloads) {
      for (const { mode, link, runs } of links) {
        if (mode === 'unthrottled' && LARGE_WORKLOADS.has(name) && !options.unthrottledLarge) continue;
        server.rateLimit.remaining = server.rateLimit.limit;
        setLink(server, link);
        log(`[${mode}] ${name} (at ${((performance.now() - started) / 1000).toFixed(0)} s)`);
        const startS = (performance.now() - started) / 1000;
        const tools = await runWorkload(name, ctx, families, runs, options, mode);
        results.get(mode)?.push(workloadResult(name, TITLES[name], NOTES[name], tools));
        timeline.push({ workload: name, mode, startS, endS: (performance.now() - started) / 1000 });
      }
    }
  } finally {
    await server.close();
    for (const cleanup of families.cleanups) await cleanup().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }

  const modes: ModeResult[] = links.map(({ mode, link }) => ({ mode, latencyMs: link.latencyMs, bandwidth: link.bandwidth, workloads: results.get(mode) ?? [] }));
  const names = { clone: PEERS.clone, fetch: PEERS.fetch, fetchReset: PEERS.fetchReset, fetchStatus: PEERS.fetchStatus };
  const throttled = modes.find((m) => m.mode === 'throttled');
  const targets = throttled === undefined ? [] : evaluateTargets(throttled, names);
  const unthrottledMode = modes.find((m) => m.mode === 'unthrottled');
  const totalMs = performance.now() - started;

  for (const mode of modes) {
    const link = mode.bandwidth === 0 && mode.latencyMs === 0 ? 'unthrottled link' : `${mode.latencyMs} ms per request, ${mode.bandwidth === 0 ? 'unlimited' : `${mode.bandwidth} B/s`}`;
    console.log(`\n== ${mode.mode}: ${link}; medians of whole-process runs (start-up included) ==\n`);
    console.log(renderTable(mode));
  }
  console.log(`\nUnchanged polls and updates are ${settleNote}.`);
  console.log('Wire bytes: response bytes the server wrote for the run (headers included). Peak RSS: largest of any one process of the tree; tree RSS: largest sum at one sample.');
  if (profileDir !== undefined) console.log(`hostsync ran with --cpu-prof (profiles in ${profileDir}): its times include the profiler's overhead.`);
  console.log(`\nTargets (throttled link, ratios within this run):`);
  printTargets(targets);
  console.log(`\nTotal ${(totalMs / 1000).toFixed(1)} s on ${cpus().length} CPU(s), load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} at start; hostsync built from ${checkoutCommit()}.`);

  const output = resolve(ROOT, options.output);
  const json = {
    version: 1,
    startedAt,
    totalMs,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', totalMemBytes: totalmem(), loadAverageBefore: loadBefore, loadAverageAfter: loadavg(), node: process.version, git: gitOutput(['--version']), platform: process.platform },
    hostsync: bin,
    checkout: checkoutCommit(),
    options: { ...options, profileDir: profileDir ?? null, hostsyncBin: options.hostsyncBin ?? null },
    settleMs: SETTLE_MS,
    timeline,
    method: {
      wallMs: 'spawn to exit of every process of the tool, in sequence (start-up included)',
      wireBytes: "sum of bytesSent of the server's request log for the run (response headers and bodies)",
      peakRssBytes: 'largest VmHWM of any one process of the tree (/proc polled every 5 ms; Node children also report getrusage maxRSS at exit)',
      treeRssBytes: 'largest sum of VmRSS of the processes alive at one sample',
      maxInFlight: 'most requests the server was handling at once (from the request log)',
    },
    modes,
    targets,
    targetsUnthrottled: unthrottledMode === undefined ? [] : evaluateTargets(unthrottledMode, names),
    markdown: Object.fromEntries(modes.map((m) => [m.mode, renderMarkdown(m)])),
  };
  await writeFile(output, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`Results: ${output}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
