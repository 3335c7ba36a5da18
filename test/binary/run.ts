/**
 * Run a hostsync executable directly (no `node` in front of it) with exactly the environment
 * given — nothing inherited — for the single-executable tests.
 */
import { spawn } from 'node:child_process';

export interface BinaryResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface BinaryRunOptions {
  /** The whole environment of the child. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** Run `command` with `args` before the executable (e.g. chroot). */
  readonly via?: readonly string[];
}

/** Run `executable args…`; resolves when it exits, whatever the exit code. */
export function runBinary(executable: string, args: readonly string[], options: BinaryRunOptions = {}): Promise<BinaryResult> {
  const [command, ...prefix] = options.via ?? [executable];
  const argv = options.via === undefined ? [...args] : [...prefix, executable, ...args];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command!, argv, { env: { ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Parse the JSON document of a `--json` run, or fail with what the run printed. */
export function jsonOf(result: BinaryResult): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}
