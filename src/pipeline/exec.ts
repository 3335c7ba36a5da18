/**
 * The one edge through which hostsync runs outside commands (rebuild, hooks, `command` checks):
 * `/bin/sh -c COMMAND` in its own process group, output streamed line by line, the last lines
 * kept for error messages, and on timeout the whole group killed (SIGTERM, then SIGKILL), so a
 * `nixos-rebuild` that forked helpers leaves nothing behind. Tests pass a fake of the same type.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { errorMessage } from '../errors.js';
export { childEnv } from '../child-env.js';

/** Which stream a line came from. */
export type ExecStream = 'stdout' | 'stderr';

export interface ExecOptions {
  /** The child's whole environment (nothing is inherited beyond it). */
  readonly env: Readonly<Record<string, string>>;
  /** Kill the process group after this many milliseconds. */
  readonly timeoutMs: number;
  /** Called for every complete line of output, without its line ending. */
  readonly onLine?: ((line: string, stream: ExecStream) => void) | undefined;
  /** Working directory. @default the current directory */
  readonly cwd?: string | undefined;
  /** Stop the whole process group (SIGTERM, then SIGKILL) when this aborts: hostsync is being stopped. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the PID (= process group) once the command runs, to record it. */
  readonly onStart?: ((pid: number) => void) | undefined;
  /** Written to the command's stdin, which is then closed. @default no stdin (/dev/null) */
  readonly input?: string | undefined;
}

export interface ExecResult {
  /** Exit code; null when the process was killed by a signal or could not start. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines of output (both streams, in arrival order), for messages. */
  readonly lastLines: readonly string[];
  readonly timedOut: boolean;
  /** Why the command could not be started at all (a missing shell or working directory). */
  readonly startError?: string | undefined;
}

/** Run a shell command. Never rejects: failures are in the result. */
export type Exec = (command: string, options: ExecOptions) => Promise<ExecResult>;

export interface CreateExecOptions {
  /** @default '/bin/sh' */
  readonly shell?: string | undefined;
  /** Milliseconds between SIGTERM and SIGKILL on timeout. @default 5000 */
  readonly killGraceMs?: number | undefined;
  /** Lines kept for `lastLines`. @default 20 */
  readonly keepLines?: number | undefined;
}

/** Longest line passed to `onLine`; longer output is cut into pieces of this size. */
const MAX_LINE = 16 * 1024;
/** After the shell exits, how long to wait for descendants holding its pipes before giving up on them. */
const DRAIN_MS = 2000;

/** Create the real exec edge. */
export function createExec(options: CreateExecOptions = {}): Exec {
  const shell = options.shell ?? '/bin/sh';
  const graceMs = options.killGraceMs ?? 5000;
  const keep = options.keepLines ?? 20;
  return (command, run) =>
    new Promise<ExecResult>((resolve) => {
      const lastLines: string[] = [];
      const emit = (line: string, stream: ExecStream): void => {
        lastLines.push(line);
        if (lastLines.length > keep) lastLines.shift();
        run.onLine?.(line, stream);
      };
      let child;
      try {
        // detached: the shell leads a new process group, so a timeout can kill everything it started.
        child = spawn(shell, ['-c', command], { env: { ...run.env }, cwd: run.cwd, detached: true, stdio: [run.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      } catch (error) {
        resolve({ code: null, signal: null, lastLines: [], timedOut: false, startError: errorMessage(error) });
        return;
      }
      if (run.input !== undefined && child.stdin !== null) {
        // A command that does not read its stdin closes the pipe early: that is its choice, not an error.
        child.stdin.on('error', () => undefined);
        child.stdin.end(run.input);
      }
      const flushers = [splitLines(child.stdout, (line) => emit(line, 'stdout')), splitLines(child.stderr, (line) => emit(line, 'stderr'))];
      let timedOut = false;
      let killTimer: NodeJS.Timeout | undefined;
      let drainTimer: NodeJS.Timeout | undefined;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let settled = false;
      const killGroup = (signal: NodeJS.Signals): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, signal);
        } catch {
          // the group is already gone
        }
      };
      const stop = (): void => {
        killGroup('SIGTERM');
        killTimer ??= setTimeout(() => killGroup('SIGKILL'), graceMs);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, run.timeoutMs);
      run.signal?.addEventListener('abort', stop, { once: true });
      if (run.signal?.aborted === true) stop();
      if (child.pid !== undefined) run.onStart?.(child.pid);
      const finish = (result: ExecResult): void => {
        if (settled) return;
        settled = true;
        run.signal?.removeEventListener('abort', stop);
        clearTimeout(timer);
        clearTimeout(killTimer);
        clearTimeout(drainTimer);
        for (const flush of flushers) flush();
        resolve(result);
      };
      child.once('error', (error) => finish({ code: null, signal: null, lastLines, timedOut, startError: errorMessage(error) }));
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        // A daemon the command left behind may hold the pipes open forever: stop waiting for them.
        drainTimer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish({ ...exit!, lastLines, timedOut });
        }, DRAIN_MS);
      });
      child.once('close', (code, signal) => finish({ code: exit?.code ?? code, signal: exit?.signal ?? signal, lastLines, timedOut }));
    });
}

/** Feed `stream` to `onLine` line by line (UTF-8 safe across chunks); returns a flush for the tail. */
function splitLines(stream: Readable | null, onLine: (line: string) => void): () => void {
  if (stream === null) return () => undefined;
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let flushed = false;
  const take = (text: string): void => {
    pending += text;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline).replace(/\r$/, ''));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    while (pending.length > MAX_LINE) {
      onLine(pending.slice(0, MAX_LINE));
      pending = pending.slice(MAX_LINE);
    }
  };
  stream.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
  stream.on('error', () => undefined);
  return () => {
    if (flushed) return;
    flushed = true;
    take(decoder.end());
    if (pending !== '') onLine(pending.replace(/\r$/, ''));
    pending = '';
  };
}
