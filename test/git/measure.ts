/**
 * Run in a child process (bundled by esbuild, plain node) so that its peak RSS is the git client's
 * alone: fetches through fetchPack, or reads a pack file with readPack, into a file-backed store.
 * Prints one JSON line per step: what was read, the time, and the process's peak RSS so far.
 *
 *   node measure.mjs '{"kind":"fetch","url":…,"storeDir":…,"steps":[{"wants":[…],"deepen":1}]}'
 *   node measure.mjs '{"kind":"pack","file":…,"storeDir":…}'
 */
import { createReadStream, readFileSync } from 'node:fs';
import { fetchPack } from '../../src/git/fetch-pack.js';
import { createGitHttpTransport } from '../../src/git/http-transport.js';
import { MemoryObjectStore } from '../../src/git/memory-store.js';
import { readPack } from '../../src/git/pack.js';
import { FileObjectStore } from './file-store.js';

/** One measured step. */
export interface MeasureStep {
  readonly wants: string[];
  readonly haves?: string[];
  readonly shallow?: string[];
  readonly deepen?: number;
}

/** The job, as the first argument (JSON). */
export type MeasureJob =
  | { readonly kind: 'fetch'; readonly url: string; readonly storeDir: string; readonly steps: readonly MeasureStep[] }
  | { readonly kind: 'pack'; readonly file: string; readonly storeDir: string; readonly baseCacheBytes?: number; readonly memory?: boolean };

/** What each step prints. */
export interface MeasureReport {
  readonly ms: number;
  readonly maxRssMB: number;
  readonly startRssMB: number;
  readonly objects: number;
  readonly externalBases: number;
  readonly packBytes: number;
  readonly blobs: string[];
}

const mb = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

/**
 * Peak RSS of this process. Linux's `VmHWM` belongs to the address space made by exec, while
 * getrusage's maxrss is carried over from the forking parent: spawned from a 110 MB vitest worker,
 * a child would report at least 110 MB.
 */
function peakRss(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as MeasureJob;
  const startRssMB = mb(process.memoryUsage().rss);
  const store = new FileObjectStore(job.storeDir);
  const report = (started: number, objects: number, externalBases: number, packBytes: number): void => {
    const line: MeasureReport = {
      ms: Math.round(performance.now() - started),
      maxRssMB: mb(peakRss()),
      startRssMB,
      objects,
      externalBases,
      packBytes,
      blobs: [...store.blobs],
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  if (job.kind === 'pack') {
    const started = performance.now();
    // memory: every object kept in a MemoryObjectStore instead of files (RSS then includes them all).
    const target = job.memory === true ? new MemoryObjectStore() : store;
    const summary = await readPack(createReadStream(job.file, { highWaterMark: 65515 }), {
      sink: target,
      bases: target,
      ...(job.baseCacheBytes === undefined ? {} : { baseCacheBytes: job.baseCacheBytes }),
    });
    report(started, summary.objects, summary.counts.externalBases, summary.packBytes);
    return;
  }
  const transport = createGitHttpTransport({ url: job.url });
  for (const step of job.steps) {
    const started = performance.now();
    const result = await fetchPack({ transport, sink: store, bases: store, ...step });
    report(started, result.objectCount, result.objects.externalBases, result.packBytes);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
