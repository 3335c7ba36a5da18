/**
 * Run commands the way a timer does — whole processes, start-up included — and measure them:
 * wall time from the first spawn to the last exit, and peak RSS of every process of the tree.
 *
 * Peak RSS, without `/usr/bin/time` (CI installs nothing but npm packages):
 * - every 5 ms the tree under each spawned command is walked through
 *   `/proc/<pid>/task/<pid>/children` and each process's `VmHWM` (its own high-water mark, so a
 *   late sample still sees an earlier peak) and `VmRSS` are read from `/proc/<pid>/status`;
 * - Node children also load `rss-probe.mjs`, which writes `process.resourceUsage().maxRSS` at exit,
 *   so the last milliseconds of hostsync (saving state) cannot be missed.
 * `peakRssBytes` is the largest high-water mark of any one process; `treeRssBytes` the largest sum
 * of the resident sets alive at one sample (git runs a few processes at once). A child living less
 * than one sample interval can be missed; the git helpers that matter live as long as the transfer.
 *
 * CPU time (user + system) is less noisy than wall time on a shared box: each command's root
 * process is sampled from `/proc/<pid>/stat` (its own time plus that of the children it has
 * reaped, so git's helpers count), and Node roots report their exact own time at exit.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** One process to run. */
export interface Command {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** What one run of one or more commands (in sequence) cost. */
export interface Measurement {
  readonly wallMs: number;
  readonly peakRssBytes: number;
  readonly treeRssBytes: number;
  /** User + system CPU time of the commands and their children. */
  readonly cpuMs: number;
  /** Distinct processes seen in the trees. */
  readonly processes: number;
  /** Output of each command, in order. */
  readonly outputs: readonly { readonly stdout: string; readonly stderr: string }[];
}

const SAMPLE_MS = 5;
/** Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK); 100 on Linux). */
const CLOCK_TICKS = 100;
const PROBE = pathToFileURL(fileURLToPath(new URL('./rss-probe.mjs', import.meta.url))).href;

function readStatus(pid: number): { hwm: number; rss: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  // A zombie has no Vm* lines any more: nothing to read.
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
  if (!hwm || !rss) return undefined;
  return { hwm: Number(hwm[1]) * 1024, rss: Number(rss[1]) * 1024 };
}

/** utime + stime + cutime + cstime of a process, in ms; undefined once it is gone. */
function readCpuMs(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  return (ticks * 1000) / CLOCK_TICKS;
}

function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1')
      .split(' ')
      .filter((s) => s.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Peak memory of a process tree, sampled from /proc. */
class TreeSampler {
  /** pid → highest VmHWM seen. */
  readonly peaks = new Map<number, number>();
  treePeak = 0;
  /** Last CPU time read of each root. */
  readonly rootCpu = new Map<number, number>();

  sample(root: number): void {
    const cpu = readCpuMs(root);
    if (cpu !== undefined) this.rootCpu.set(root, cpu);
    const queue = [root];
    let sum = 0;
    const visited = new Set<number>();
    while (queue.length > 0) {
      const pid = queue.pop() ?? root;
      if (visited.has(pid)) continue;
      visited.add(pid);
      const status = readStatus(pid);
      if (status === undefined) continue;
      this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, status.hwm));
      sum += status.rss;
      queue.push(...readChildren(pid));
    }
    this.treePeak = Math.max(this.treePeak, sum);
  }
}

/** Thrown when a measured command fails: the benchmark compares only successful runs. */
export class CommandFailedError extends Error {
  constructor(command: Command, code: number | null, signal: string | null, stderr: string, stdout: string) {
    super(
      `${[command.file, ...command.args].join(' ')} (in ${command.cwd}) exited with ${code ?? signal}:\n${stderr.slice(-2000)}${stdout === '' ? '' : `\nstdout: ${stdout.slice(-1000)}`}`,
    );
    this.name = 'CommandFailedError';
  }
}

let probeCounter = 0;

async function runOne(command: Command, sampler: TreeSampler, scratch: string): Promise<{ stdout: string; stderr: string; probeRss: number; cpuMs: number }> {
  const isNode = command.file === process.execPath;
  probeCounter += 1;
  const probeFile = join(scratch, `rss-${process.pid}-${probeCounter}`);
  const args = isNode ? ['--import', PROBE, ...command.args] : [...command.args];
  const env = isNode ? { ...command.env, BENCH_RSS_FILE: probeFile } : { ...command.env };
  const child = spawn(command.file, args, { cwd: command.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  const tick = (): void => {
    if (pid !== undefined) sampler.sample(pid);
  };
  tick();
  const timer = setInterval(tick, SAMPLE_MS);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  }).finally(() => clearInterval(timer));
  let probeRss = 0;
  let cpuMs = pid === undefined ? 0 : (sampler.rootCpu.get(pid) ?? 0);
  if (isNode) {
    const [rss = 0, cpuMicros = 0] = (await readFile(probeFile, 'utf8').catch(() => '')).split(' ').map(Number);
    probeRss = rss || 0;
    cpuMs = Math.max(cpuMs, (cpuMicros || 0) / 1000);
    await rm(probeFile, { force: true });
  }
  if (code !== 0) throw new CommandFailedError(command, code, signal, stderr, stdout);
  return { stdout, stderr, probeRss, cpuMs };
}

/**
 * Run `commands` one after the other (stopping at the first failure, which rejects) and measure
 * the whole sequence. `scratch` is a folder for the probes' files.
 */
export async function measureCommands(commands: readonly Command[], scratch: string): Promise<Measurement> {
  const sampler = new TreeSampler();
  const outputs: { stdout: string; stderr: string }[] = [];
  let probePeak = 0;
  let cpuMs = 0;
  const started = performance.now();
  for (const command of commands) {
    const result = await runOne(command, sampler, scratch);
    outputs.push({ stdout: result.stdout, stderr: result.stderr });
    probePeak = Math.max(probePeak, result.probeRss);
    cpuMs += result.cpuMs;
  }
  const wallMs = performance.now() - started;
  const sampledPeak = Math.max(0, ...sampler.peaks.values());
  return {
    wallMs,
    peakRssBytes: Math.max(sampledPeak, probePeak),
    treeRssBytes: Math.max(sampler.treePeak, probePeak),
    cpuMs,
    processes: Math.max(sampler.peaks.size, commands.length),
    outputs,
  };
}
