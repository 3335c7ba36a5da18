/** The real exec edge: /bin/sh -c, line streaming, last lines, environment, timeouts that kill the whole process group. */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createExec, type ExecStream } from '../../src/pipeline/exec.js';

const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
let tmp: string | undefined;
afterEach(async () => {
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  tmp = undefined;
});

/** Whether a process still runs (a zombie nobody reaped yet counts as dead). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('createExec (real processes)', () => {
  it('streams stdout and stderr line by line, keeps the last lines, reports the exit code', async () => {
    const lines: [string, ExecStream][] = [];
    const exec = createExec({ keepLines: 3 });
    const result = await exec('printf "one\\ntwo\\r\\n"; echo err >&2; printf "no newline"; exit 3', {
      env,
      timeoutMs: 10_000,
      onLine: (line, stream) => lines.push([line, stream]),
    });
    expect(result).toMatchObject({ code: 3, signal: null, timedOut: false });
    expect(lines).toContainEqual(['one', 'stdout']);
    expect(lines).toContainEqual(['two', 'stdout']);
    expect(lines).toContainEqual(['err', 'stderr']);
    expect(lines).toContainEqual(['no newline', 'stdout']);
    expect(result.lastLines).toHaveLength(3);
  });

  it('passes exactly the given environment and working directory', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'hostsync-exec-'));
    const lines: string[] = [];
    const result = await createExec()('echo "$HOSTSYNC_COMMIT:$HOME:$(pwd)"', { env: { ...env, HOSTSYNC_COMMIT: 'abc' }, timeoutMs: 10_000, cwd: tmp, onLine: (line) => lines.push(line) });
    expect(result.code).toBe(0);
    expect(lines).toEqual([`abc::${tmp}`]);
  });

  it('on timeout kills the whole process group, grandchildren included', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'hostsync-exec-'));
    const pidFile = join(tmp, 'pid');
    const started = Date.now();
    const result = await createExec({ killGraceMs: 500 })(`sh -c 'echo $$ > ${pidFile}; exec sleep 30' & wait`, { env, timeoutMs: 500 });
    expect(result.timedOut).toBe(true);
    expect(result.code).toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
    const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
    await sleep(100);
    expect(await alive(grandchild)).toBe(false);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const result = await createExec({ killGraceMs: 300 })("trap '' TERM; while :; do sleep 0.1; done", { env, timeoutMs: 300 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
  });

  it('reports a command that cannot start instead of throwing', async () => {
    const result = await createExec({ shell: '/nonexistent/sh' })('true', { env, timeoutMs: 1000 });
    expect(result.code).toBeNull();
    expect(result.startError).toMatch(/ENOENT/);
  });

  it('does not wait forever for a daemon that keeps the pipes open', async () => {
    const started = Date.now();
    const result = await createExec()('(sleep 20 &) ; echo started', { env, timeoutMs: 60_000 });
    expect(result.code).toBe(0);
    expect(result.lastLines).toEqual(['started']);
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
