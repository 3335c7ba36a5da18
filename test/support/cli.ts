/**
 * Run the real CLI (`node bin/hostsync.js`, the compiled build) as a child process, with a clean
 * environment: tests never inherit a developer's GITHUB_TOKEN or XDG dirs.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The CLI tests spawn: this checkout's build, or HOSTSYNC_TEST_BIN (another build — e.g. an older
 * commit's, to show a regression test fails there).
 */
export const BIN = process.env['HOSTSYNC_TEST_BIN'] ?? fileURLToPath(new URL('../../bin/hostsync.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/**
 * The code cache of spawned runs (src/boot/code-cache.ts): one for the whole suite, in /tmp, so tests
 * neither write /var/cache/hostsync nor compile the CLI again in every spawn.
 */
export const TEST_CODE_CACHE = join(tmpdir(), `hostsync-test-code-cache-${process.getuid?.() ?? 'user'}`);

/** Run hostsync with `args`; resolves when it exits (never rejects on a non-zero exit). */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', NO_COLOR: '1', CACHE_DIRECTORY: TEST_CODE_CACHE, ...options.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Parse the single JSON document a `--json` run prints. */
export function parseJson(result: CliResult): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}
