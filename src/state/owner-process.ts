/**
 * Which process made a file in the state dir, and whether it still runs: temp files, throwaway
 * clones and GC pins carry `<pid>-<start time>` in their names, so the next run can tell the
 * leftovers of a killed run (swept) from the work of a live one (kept). The start time (from
 * /proc/<pid>/stat, in clock ticks since boot) guards against a reused PID.
 */
import { readFileSync } from 'node:fs';

/** The kernel's start time of a running process; undefined when /proc cannot tell or it has exited (a zombie). */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return 'exited'; // field 3: state; a zombie has finished
    return fields[19]; // field 22 overall: starttime
  } catch {
    return undefined;
  }
}

let self: string | undefined;

/** `<pid>-<start time>` of this process: the tag its temp files and pins carry. */
export function processTag(): string {
  self ??= `${process.pid}-${startTimeOf(process.pid) ?? '0'}`;
  return self;
}

/** The tag of another process (a rebuild hostsync started), read from /proc. */
export function tagOfPid(pid: number): string {
  return `${pid}-${startTimeOf(pid) ?? '0'}`;
}

/** Whether the process a tag names is still running (a tag that is not ours to judge counts as alive). */
export function tagAlive(tag: string): boolean {
  const match = /^(\d+)-(\d+)$/.exec(tag);
  if (!match) return true;
  const pid = Number(match[1]);
  if (pid === process.pid) return match[2] === (startTimeOf(pid) ?? '0');
  const started = startTimeOf(pid);
  if (started !== undefined) return started === match[2];
  try {
    process.kill(pid, 0);
    return match[2] === '0';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The tag inside a name made by {@link processTag} (`<prefix><tag>.<rest>`), if any. */
export function tagIn(name: string): string | undefined {
  return /(?:^|[.-])(\d+-\d+)(?:[.-]|$)/.exec(name)?.[1];
}
