/**
 * Options of `npm run bench`: a pure parse of flags and environment (flags win) into
 * `{ options, errors }`, so a typo is reported once, up front, instead of half-way through a run.
 */

/** Every workload, in the order they run. */
export const WORKLOADS = ['first-install', 'poll', 'ten-edits', 'typical-update', 'large-install', 'large-poll', 'large-edit', 'huge-poll', 'huge-edit', 'big-file'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** Workloads `--skip-large` leaves out (the 20,000-file repository and the 50 MiB file). */
export const LARGE_WORKLOADS: ReadonlySet<WorkloadName> = new Set<WorkloadName>(['large-install', 'large-poll', 'large-edit', 'huge-poll', 'huge-edit', 'big-file']);

/** Workloads measured once per pass (each is seconds to minutes per tool). */
export const ONCE_WORKLOADS: ReadonlySet<WorkloadName> = new Set<WorkloadName>(['large-install', 'huge-poll', 'huge-edit']);

export interface BenchOptions {
  /** Added by the server before it answers each request, throttled pass. @default 50 */
  readonly latencyMs: number;
  /** Shared bandwidth of all response bodies, bytes/s, throttled pass; 0 = unlimited. @default 1 MiB/s */
  readonly bandwidth: number;
  /** Measured runs per tool and workload (the median is reported). @default 3 */
  readonly runs: number;
  /** Measured runs of the 50 MiB workload, each pass (each moves 50 MiB per tool: ~50 s at 1 MiB/s). @default 1 */
  readonly largeRuns: number;
  /** Workloads to run, in canonical order. @default all */
  readonly workloads: readonly WorkloadName[];
  /**
   * Runs per tool and workload of the second pass, with the link unthrottled; 0 skips the pass.
   * One by default: it is a reference (how much of a time is the link), the targets use the first
   * pass, and three would push `npm run bench` past five minutes on a busy 2-core box.
   * @default 1
   */
  readonly unthrottledRuns: number;
  /**
   * Also run the large workloads in the unthrottled pass. They are CPU-bound (the two 20,000-file
   * ones look the same either way) or take minutes (50 MiB); left out, `npm run bench` fits in five
   * minutes. @default false
   */
  readonly unthrottledLarge: boolean;
  /** Where the JSON results go. @default bench-results.json (repository root) */
  readonly output: string;
  /** When set, hostsync runs with `--cpu-prof` into this folder (timings then include the profiler). */
  readonly profileDir: string | undefined;
  /** Another hostsync entry point to measure (e.g. a build of another commit). @default bin/hostsync.js */
  readonly hostsyncBin: string | undefined;
  readonly help: boolean;
}

export interface ParsedBenchOptions {
  readonly options: BenchOptions;
  readonly errors: readonly string[];
}

export const USAGE = `Usage: npm run bench -- [options]

  --latency-ms <n>     Delay added to every request, throttled pass (env BENCH_LATENCY_MS; default 50)
  --bandwidth <n>      Bytes per second shared by all responses, throttled pass; 0 = unlimited
                       (env BENCH_BANDWIDTH; default 1048576)
  --runs <n>           Measured runs per tool and workload; medians are reported (env BENCH_RUNS; default 3)
  --large-runs <n>     Runs of the 50 MiB workload (env BENCH_LARGE_RUNS; default 1)
  --only <names>       Comma-separated workloads (env BENCH_ONLY): ${WORKLOADS.join(', ')}
  --skip-large         Leave out ${[...LARGE_WORKLOADS].join(', ')} (env BENCH_SKIP_LARGE=1)
  --unthrottled-runs <n>  Runs per tool of the second pass, link unthrottled; 0 skips it
                       (env BENCH_UNTHROTTLED_RUNS; default 1)
  --no-unthrottled     Same as --unthrottled-runs 0
  --unthrottled-large  Also run ${[...LARGE_WORKLOADS].join(', ')} unthrottled (env BENCH_UNTHROTTLED_LARGE=1)
  --output <file>      JSON results (default bench-results.json)
  --profile <dir>      Run hostsync with --cpu-prof, profiles into <dir> (slows hostsync down)
  --hostsync <bin>     Measure another build's entry point (env BENCH_HOSTSYNC_BIN; default bin/hostsync.js)
  --help               This text`;

const DEFAULTS: BenchOptions = {
  latencyMs: 50,
  bandwidth: 1024 * 1024,
  runs: 3,
  largeRuns: 1,
  workloads: WORKLOADS,
  unthrottledRuns: 1,
  unthrottledLarge: false,
  output: 'bench-results.json',
  profileDir: undefined,
  hostsyncBin: undefined,
  help: false,
};

function readCount(name: string, raw: string, min: number, errors: string[]): number | undefined {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min) {
    errors.push(`Expected \`${name}\` to be an integer ≥ ${min}, got '${raw}'.`);
    return undefined;
  }
  return value;
}

function readWorkloads(raw: string, errors: string[]): WorkloadName[] | undefined {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const known = new Set<string>(WORKLOADS);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0 || names.length === 0) {
    errors.push(`Unknown workload(s) in --only: '${unknown.join(', ') || raw}'. Expected some of: ${WORKLOADS.join(', ')}.`);
    return undefined;
  }
  return WORKLOADS.filter((w) => names.includes(w));
}

/** Parse `argv` (without node and script) and `env`. Pure. */
export function parseBenchOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedBenchOptions {
  const errors: string[] = [];
  let { latencyMs, bandwidth, runs, largeRuns, workloads, unthrottledRuns, unthrottledLarge, output, profileDir, hostsyncBin, help } = DEFAULTS;
  let skipLarge = false;

  const fromEnv = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const envLatency = fromEnv('BENCH_LATENCY_MS');
  if (envLatency !== undefined) latencyMs = readCount('BENCH_LATENCY_MS', envLatency, 0, errors) ?? latencyMs;
  const envBandwidth = fromEnv('BENCH_BANDWIDTH');
  if (envBandwidth !== undefined) bandwidth = readCount('BENCH_BANDWIDTH', envBandwidth, 0, errors) ?? bandwidth;
  const envRuns = fromEnv('BENCH_RUNS');
  if (envRuns !== undefined) runs = readCount('BENCH_RUNS', envRuns, 1, errors) ?? runs;
  const envLargeRuns = fromEnv('BENCH_LARGE_RUNS');
  if (envLargeRuns !== undefined) largeRuns = readCount('BENCH_LARGE_RUNS', envLargeRuns, 1, errors) ?? largeRuns;
  const envUnthrottled = fromEnv('BENCH_UNTHROTTLED_RUNS');
  if (envUnthrottled !== undefined) unthrottledRuns = readCount('BENCH_UNTHROTTLED_RUNS', envUnthrottled, 0, errors) ?? unthrottledRuns;
  const envOnly = fromEnv('BENCH_ONLY');
  if (envOnly !== undefined) workloads = readWorkloads(envOnly, errors) ?? workloads;
  hostsyncBin = fromEnv('BENCH_HOSTSYNC_BIN') ?? hostsyncBin;
  const envUnthrottledLarge = fromEnv('BENCH_UNTHROTTLED_LARGE');
  if (envUnthrottledLarge !== undefined) unthrottledLarge = envUnthrottledLarge !== '0' && envUnthrottledLarge.toLowerCase() !== 'false';
  const envSkip = fromEnv('BENCH_SKIP_LARGE');
  if (envSkip !== undefined) skipLarge = envSkip !== '0' && envSkip.toLowerCase() !== 'false';

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq !== -1 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      i += 1;
      const next = argv[i];
      if (next === undefined) {
        errors.push(`Expected a value after ${flag}.`);
        return '';
      }
      return next;
    };
    switch (flag) {
      case '--latency-ms':
        latencyMs = readCount(flag, value(), 0, errors) ?? latencyMs;
        break;
      case '--bandwidth':
        bandwidth = readCount(flag, value(), 0, errors) ?? bandwidth;
        break;
      case '--runs':
        runs = readCount(flag, value(), 1, errors) ?? runs;
        break;
      case '--large-runs':
        largeRuns = readCount(flag, value(), 1, errors) ?? largeRuns;
        break;
      case '--only':
        workloads = readWorkloads(value(), errors) ?? workloads;
        break;
      case '--skip-large':
        skipLarge = true;
        break;
      case '--unthrottled-runs':
        unthrottledRuns = readCount(flag, value(), 0, errors) ?? unthrottledRuns;
        break;
      case '--no-unthrottled':
        unthrottledRuns = 0;
        break;
      case '--unthrottled-large':
        unthrottledLarge = true;
        break;
      case '--output':
        output = value();
        break;
      case '--profile':
        profileDir = value();
        break;
      case '--hostsync':
        hostsyncBin = value();
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        errors.push(`Unknown option '${arg}'. Run \`npm run bench -- --help\` for the list.`);
    }
  }
  if (skipLarge) workloads = workloads.filter((w) => !LARGE_WORKLOADS.has(w));
  if (workloads.length === 0) errors.push('No workload left to run (--only and --skip-large exclude them all).');
  return { options: { latencyMs, bandwidth, runs, largeRuns, workloads, unthrottledRuns, unthrottledLarge, output, profileDir, hostsyncBin, help }, errors };
}
