/**
 * Pure side of the benchmark: run records → medians, hostsync/peer ratios, target verdicts and the
 * printed table. No I/O, no clock.
 */

/** One measured run of one tool. Fields hostsync alone reports are null for the peers. */
export interface RunRecord {
  readonly wallMs: number;
  /** User + system CPU time of the tool's processes (less noisy than wall time on a busy box). */
  readonly cpuMs: number;
  /** Response bytes the server wrote (headers included) for this run's requests. */
  readonly wireBytes: number;
  readonly requests: number;
  /** Primary rate-limit points charged. */
  readonly quota: number;
  /** Most requests the server was answering at once. */
  readonly maxInFlight: number;
  /** Sum over the run's requests of the server's time from request to last byte (latency included). */
  readonly serverMs: number;
  readonly peakRssBytes: number;
  readonly treeRssBytes: number;
  readonly processes: number;
  readonly filesHashed: number | null;
  readonly strategy: string | null;
  /** hostsync's own `durationMs` (from lock to result): wall time minus this is start-up and exit. */
  readonly innerMs: number | null;
  /** Per-phase milliseconds from `--verbose`. */
  readonly phases: Readonly<Record<string, number>> | null;
  readonly scan: { readonly files: number; readonly hashed: number; readonly cacheHits: number } | null;
  /** hostsync's `warn:`/`error:` lines and its final `hostsync:` error on stderr (retries, fallbacks), not `info:`/`debug:`. */
  readonly warnings: readonly string[];
  /** Each request of the run: ms since the run started, when the server began and finished it. */
  readonly timeline: readonly { readonly startMs: number; readonly endMs: number; readonly status: number; readonly bytes: number; readonly path: string }[];
}

/** Medians over the runs, metric by metric. */
export interface Summary {
  readonly runs: number;
  readonly wallMs: number;
  readonly wallMinMs: number;
  readonly wallMaxMs: number;
  readonly cpuMs: number;
  readonly wireBytes: number;
  readonly requests: number;
  readonly quota: number;
  readonly maxInFlight: number;
  readonly serverMs: number;
  readonly peakRssBytes: number;
  readonly treeRssBytes: number;
  readonly filesHashed: number | null;
  readonly innerMs: number | null;
  readonly phases: Readonly<Record<string, number>> | null;
}

export interface ToolResult {
  /** Display name, e.g. `git clone --depth 1`. */
  readonly tool: string;
  readonly hostsync: boolean;
  readonly runs: readonly RunRecord[];
  readonly summary: Summary;
}

export interface Ratio {
  readonly peer: string;
  /** hostsync median / peer median. */
  readonly time: number;
  readonly bytes: number;
}

export interface WorkloadResult {
  readonly name: string;
  readonly title: string;
  readonly notes: readonly string[];
  readonly tools: readonly ToolResult[];
  readonly ratios: readonly Ratio[];
}

export interface ModeResult {
  readonly mode: 'throttled' | 'unthrottled';
  readonly latencyMs: number;
  /** Bytes/s; 0 = unlimited. */
  readonly bandwidth: number;
  readonly workloads: readonly WorkloadResult[];
}

export type Verdict = 'PASS' | 'MISS' | 'SKIP';

export interface TargetResult {
  readonly id: string;
  readonly title: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function medianOrNull(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : median(known);
}

function medianPhases(runs: readonly RunRecord[]): Record<string, number> | null {
  const names = new Set<string>();
  for (const run of runs) for (const name of Object.keys(run.phases ?? {})) names.add(name);
  if (names.size === 0) return null;
  const out: Record<string, number> = {};
  for (const name of names) out[name] = median(runs.map((run) => run.phases?.[name] ?? 0));
  return out;
}

/** Summarise the runs of one tool. */
export function summarize(runs: readonly RunRecord[]): Summary {
  const walls = runs.map((r) => r.wallMs);
  return {
    runs: runs.length,
    wallMs: median(walls),
    wallMinMs: Math.min(...walls),
    wallMaxMs: Math.max(...walls),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    wireBytes: median(runs.map((r) => r.wireBytes)),
    requests: median(runs.map((r) => r.requests)),
    quota: median(runs.map((r) => r.quota)),
    maxInFlight: median(runs.map((r) => r.maxInFlight)),
    serverMs: median(runs.map((r) => r.serverMs)),
    peakRssBytes: median(runs.map((r) => r.peakRssBytes)),
    treeRssBytes: median(runs.map((r) => r.treeRssBytes)),
    filesHashed: medianOrNull(runs.map((r) => r.filesHashed)),
    innerMs: medianOrNull(runs.map((r) => r.innerMs)),
    phases: medianPhases(runs),
  };
}

/** hostsync against each peer of a workload. */
export function ratios(tools: readonly ToolResult[]): Ratio[] {
  const hostsync = tools.find((t) => t.hostsync);
  if (hostsync === undefined) return [];
  return tools
    .filter((t) => !t.hostsync)
    .map((peer) => ({
      peer: peer.tool,
      time: hostsync.summary.wallMs / peer.summary.wallMs,
      bytes: peer.summary.wireBytes === 0 ? (hostsync.summary.wireBytes === 0 ? 1 : Number.POSITIVE_INFINITY) : hostsync.summary.wireBytes / peer.summary.wireBytes,
    }));
}

/** hostsync's `--json` phases (`[{name, ms, detail, counts?}]`) as durations by name, and the scan's counts. */
export function readPhases(json: { phases?: readonly { name: string; ms: number; counts?: Record<string, number> }[] }, stderr: string): { phases: Record<string, number>; scan: RunRecord['scan']; warnings: string[] } {
  const phases: Record<string, number> = {};
  let scan: RunRecord['scan'] = null;
  for (const phase of json.phases ?? []) {
    phases[phase.name] = (phases[phase.name] ?? 0) + phase.ms;
    const c = phase.counts;
    if (phase.name === 'scan' && c !== undefined) scan = { files: c['files'] ?? 0, hashed: c['hashed'] ?? 0, cacheHits: c['cacheHits'] ?? 0 };
  }
  const warnings = stderr.split('\n').filter((line) => /^(warn|error|hostsync):/.test(line));
  return { phases, scan, warnings };
}

/** Highest number of intervals open at once. */
export function maxConcurrent(intervals: readonly { readonly start: number; readonly end: number }[]): number {
  const events: [number, number][] = [];
  for (const { start, end } of intervals) events.push([start, 1], [end, -1]);
  // Ends before starts at the same instant: back-to-back requests are not concurrent.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, delta] of events) {
    open += delta;
    most = Math.max(most, open);
  }
  return most;
}

// ---------------------------------------------------------------------------------------------
// Targets (throttled link, ratios within the same run)

const MB = 1_000_000;

function find(mode: ModeResult, workload: string, tool?: string): ToolResult | undefined {
  const w = mode.workloads.find((x) => x.name === workload);
  return w?.tools.find((t) => (tool === undefined ? t.hostsync : t.tool === tool));
}

const fmtRatio = (r: number): string => `${r.toFixed(2)}×`;
/** Verdicts need the third decimal: 0.995× must not read as 1.00×. */
const fmtVerdictRatio = (r: number): string => `${r.toFixed(3)}×`;

/** A hostsync row of a workload: the default transport, or the one with `tool`'s name. */
function hostsyncRow(mode: ModeResult, workload: string): ToolResult | undefined {
  return find(mode, workload);
}

/** time ≤ 1.0× and bytes ≤ `maxBytes`× the peer. */
function timeAndBytes(id: string, title: string, mode: ModeResult, workload: string, peer: string, maxBytes: number): TargetResult {
  const h = hostsyncRow(mode, workload);
  const p = find(mode, workload, peer);
  if (h === undefined || p === undefined) return { id, title, verdict: 'SKIP', detail: 'workload not run' };
  const t = h.summary.wallMs / p.summary.wallMs;
  const b = p.summary.wireBytes === 0 ? 1 : h.summary.wireBytes / p.summary.wireBytes;
  return {
    id,
    title,
    verdict: t <= 1 && b <= maxBytes ? 'PASS' : 'MISS',
    detail: `time ${ms(h.summary.wallMs)} vs ${ms(p.summary.wallMs)} = ${fmtVerdictRatio(t)}; bytes ${bytes(h.summary.wireBytes)} vs ${bytes(p.summary.wireBytes)} = ${fmtVerdictRatio(b)}`,
  };
}

/** Evaluate the targets of the issues (wire protocol, big repositories) against one pass. */
export function evaluateTargets(mode: ModeResult, names: Readonly<Record<'clone' | 'fetch' | 'fetchReset' | 'fetchStatus', string>>): TargetResult[] {
  const out: TargetResult[] = [];
  out.push(timeAndBytes('first-install', `first install ≤ 1.0× ${names.clone} (time), bytes ≤ 1.05×`, mode, 'first-install', names.clone, 1.05));

  const poll = find(mode, 'poll');
  const fetchPeer = find(mode, 'poll', names.fetch);
  const pollTitle = `unchanged poll ≤ 1.0× ${names.fetch}, 1 request, 0 quota, 0 files hashed`;
  if (poll === undefined || fetchPeer === undefined) out.push({ id: 'poll', title: pollTitle, verdict: 'SKIP', detail: 'workload not run' });
  else {
    const s = poll.summary;
    const t = s.wallMs / fetchPeer.summary.wallMs;
    const worst = {
      requests: Math.max(...poll.runs.map((r) => r.requests)),
      quota: Math.max(...poll.runs.map((r) => r.quota)),
      hashed: Math.max(...poll.runs.map((r) => r.filesHashed ?? 0)),
    };
    const ok = t <= 1 && worst.requests === 1 && worst.quota === 0 && worst.hashed === 0;
    out.push({ id: 'poll', title: pollTitle, verdict: ok ? 'PASS' : 'MISS', detail: `time ${ms(s.wallMs)} vs ${ms(fetchPeer.summary.wallMs)} = ${fmtVerdictRatio(t)}; worst run: ${worst.requests} request(s), ${worst.quota} quota, ${worst.hashed} file(s) hashed` });
  }

  out.push(timeAndBytes('ten-edits', `ten text files edited ≤ 1.0× ${names.fetchReset} (time), bytes ≤ 1.5×`, mode, 'ten-edits', names.fetchReset, 1.5));
  out.push(timeAndBytes('typical-update', `typical update ≤ 1.0× ${names.fetchReset} (time), bytes ≤ 1.5×`, mode, 'typical-update', names.fetchReset, 1.5));
  out.push(timeAndBytes('large-edit', `one edit in 20,000 files ≤ 1.0× ${names.fetchReset} (time), bytes ≤ 2×`, mode, 'large-edit', names.fetchReset, 2));
  out.push(timeAndBytes('large-install', `first install of 20,000 files ≤ 1.0× ${names.clone}`, mode, 'large-install', names.clone, Number.POSITIVE_INFINITY));

  const quotaTitle = 'every update costs at most the one ref request of REST quota';
  const updatesRun = ['ten-edits', 'typical-update', 'large-edit', 'huge-edit', 'big-file'].map((w) => hostsyncRow(mode, w)).filter((t): t is ToolResult => t !== undefined);
  if (updatesRun.length === 0) out.push({ id: 'quota', title: quotaTitle, verdict: 'SKIP', detail: 'no update workload run' });
  else {
    const worst = Math.max(...updatesRun.flatMap((t) => t.runs.map((r) => r.quota)));
    out.push({ id: 'quota', title: quotaTitle, verdict: worst <= 1 ? 'PASS' : 'MISS', detail: `most quota of one update run: ${worst}` });
  }

  const lp = find(mode, 'large-poll');
  const lpPeer = find(mode, 'large-poll', names.fetchStatus);
  const largeTitle = `20,000 files: unchanged poll ≤ 1.0× ${names.fetchStatus}, 0 files hashed`;
  if (lp === undefined || lpPeer === undefined) out.push({ id: 'large-poll', title: largeTitle, verdict: 'SKIP', detail: 'workload not run' });
  else {
    const t = lp.summary.wallMs / lpPeer.summary.wallMs;
    const hashed = Math.max(...lp.runs.map((r) => r.filesHashed ?? 0));
    out.push({ id: 'large-poll', title: largeTitle, verdict: t <= 1 && hashed === 0 ? 'PASS' : 'MISS', detail: `time ${ms(lp.summary.wallMs)} vs ${ms(lpPeer.summary.wallMs)} = ${fmtVerdictRatio(t)}; worst run hashed ${hashed} file(s)` });
  }

  const hp = find(mode, 'huge-poll');
  const hugeTitle = '100,000 files: cost per file of a poll no worse than at 20,000';
  if (hp === undefined || lp === undefined) out.push({ id: 'huge-poll', title: hugeTitle, verdict: 'SKIP', detail: 'workload not run' });
  else {
    const per20 = lp.summary.wallMs / 20_000;
    const per100 = hp.summary.wallMs / 100_000;
    out.push({ id: 'huge-poll', title: hugeTitle, verdict: per100 <= per20 * 1.05 ? 'PASS' : 'MISS', detail: `${(per100 * 1000).toFixed(1)} µs/file at 100,000 vs ${(per20 * 1000).toFixed(1)} µs/file at 20,000` });
  }

  const rssTitle = 'peak RSS < 100 MB in every workload';
  const rows = mode.workloads.flatMap((w) => w.tools.filter((t) => t.hostsync).map((t) => ({ w: w.name, t })));
  if (rows.length === 0) out.push({ id: 'rss', title: rssTitle, verdict: 'SKIP', detail: 'nothing run' });
  else {
    const worst = rows.map(({ w, t }) => ({ w, tool: t.tool, rss: Math.max(...t.runs.map((r) => r.peakRssBytes)) })).sort((a, b) => b.rss - a.rss)[0]!;
    out.push({ id: 'rss', title: rssTitle, verdict: worst.rss < 100 * MB ? 'PASS' : 'MISS', detail: `largest: ${mb(worst.rss)} (${worst.tool}, ${worst.w})` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rendering

export const ms = (v: number): string => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
export const mb = (v: number): string => `${(v / MB).toFixed(1)} MB`;
export function bytes(v: number): string {
  if (v < 10_000) return `${Math.round(v)} B`;
  if (v < 10 * MB) return `${(v / 1000).toFixed(1)} kB`;
  return `${(v / MB).toFixed(1)} MB`;
}

/** The tool's name, with hostsync's strategy (the most frequent over the runs). */
function toolLabel(t: ToolResult): string {
  if (!t.hostsync) return t.tool;
  const counts = new Map<string, number>();
  for (const run of t.runs) if (run.strategy !== null) counts.set(run.strategy, (counts.get(run.strategy) ?? 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  return top === undefined ? t.tool : `${t.tool} [${top[0]}]`;
}

/** A plain-text table: one row per tool, ratios on the peer rows. */
export function renderTable(mode: ModeResult): string {
  const header = ['workload', 'tool', 'time', 'min–max', 'CPU', 'wire bytes', 'reqs', 'quota', 'hashed', 'peak RSS', 'tree RSS', '× time', '× bytes'];
  const rows: string[][] = [header];
  for (const w of mode.workloads) {
    for (const [i, t] of w.tools.entries()) {
      const s = t.summary;
      const ratio = w.ratios.find((r) => r.peer === t.tool);
      rows.push([
        i === 0 ? w.name : '',
        toolLabel(t),
        ms(s.wallMs),
        s.runs > 1 ? `${ms(s.wallMinMs)}–${ms(s.wallMaxMs)}` : `(${s.runs} run)`,
        ms(s.cpuMs),
        bytes(s.wireBytes),
        String(s.requests),
        String(s.quota),
        s.filesHashed === null ? '–' : String(s.filesHashed),
        mb(s.peakRssBytes),
        mb(s.treeRssBytes),
        ratio === undefined ? '' : fmtRatio(ratio.time),
        ratio === undefined ? '' : Number.isFinite(ratio.bytes) ? fmtRatio(ratio.bytes) : '∞',
      ]);
    }
  }
  const widths = header.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = new Set([2, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const line = (r: string[]): string =>
    r
      .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0] ?? header), rule, ...rows.slice(1).map(line)].join('\n');
}

/** The same results as a Markdown table (for docs/performance.md). */
export function renderMarkdown(mode: ModeResult): string {
  const out = ['| workload | tool | time (median) | CPU | wire bytes | requests | quota | files hashed | peak RSS | time × | bytes × |', '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const w of mode.workloads) {
    for (const [i, t] of w.tools.entries()) {
      const s = t.summary;
      const ratio = w.ratios.find((r) => r.peer === t.tool);
      out.push(
        `| ${i === 0 ? w.name : ''} | ${toolLabel(t)} | ${ms(s.wallMs)} | ${ms(s.cpuMs)} | ${bytes(s.wireBytes)} | ${s.requests} | ${s.quota} | ${s.filesHashed ?? '–'} | ${mb(s.peakRssBytes)} | ${ratio === undefined ? '' : fmtRatio(ratio.time)} | ${
          ratio === undefined ? '' : Number.isFinite(ratio.bytes) ? fmtRatio(ratio.bytes) : '∞'
        } |`,
      );
    }
  }
  return out.join('\n');
}
