/**
 * hostsync in-process: `main(argv, io)` with memory streams, a given environment and retries that
 * do not wait, so a test sees exactly what the CLI prints and the exit code it ends with, without
 * starting a process. Tests whose subject is the process itself (signals, SIGKILL crash points,
 * journald, the single executable) spawn `bin/hostsync.js` instead (./cli.ts).
 */
import { main } from '../../src/cli/main.js';
import type { CliIO, Timing } from '../../src/cli/io.js';
import { createRedactor } from '../../src/redact.js';
import type { CliResult } from './cli.js';

/** A stream that keeps what is written. */
export interface MemoryStream {
  write(text: string): boolean;
  readonly isTTY: boolean;
  readonly columns: number;
  text(): string;
}

export function memoryStream(isTTY = false): MemoryStream {
  const chunks: string[] = [];
  return {
    isTTY,
    columns: 100,
    write(text: string) {
      chunks.push(String(text));
      return true;
    },
    text: () => chunks.join(''),
  };
}

/** Retries without back-off: the behaviour is the same, the waiting is not. */
export const FAST_TIMING: Timing = { retryMinMs: 0, retryMaxMs: 0, sleep: async () => undefined };

export interface InProcessOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly isRoot?: boolean;
  readonly timing?: Timing;
  /** Abort the run (as SIGINT/SIGTERM would). */
  readonly signal?: AbortSignal;
}

/** An IO for one in-process run: a clean environment (PATH, HOME, NO_COLOR) plus `env`. */
export function testIO(options: InProcessOptions = {}): CliIO & { stdout: MemoryStream; stderr: MemoryStream } {
  return {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', NO_COLOR: '1', ...options.env },
    cwd: options.cwd ?? process.cwd(),
    stdout: memoryStream(),
    stderr: memoryStream(),
    isRoot: options.isRoot ?? process.getuid?.() === 0,
    redact: createRedactor(),
    signal: options.signal ?? new AbortController().signal,
    timing: options.timing ?? FAST_TIMING,
  };
}

/** Run `hostsync <args>` in-process; resolves like a spawned run (never rejects on a non-zero exit). */
export async function runInProcess(args: readonly string[], options: InProcessOptions = {}): Promise<CliResult> {
  const io = testIO(options);
  const code = await main(['node', 'hostsync', ...args], io);
  return { code, signal: null, stdout: io.stdout.text(), stderr: io.stderr.text() };
}
