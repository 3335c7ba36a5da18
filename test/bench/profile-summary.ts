/**
 * Summarise V8 CPU profiles (`node --cpu-prof`, e.g. from `npm run bench -- --profile <dir>`):
 * self time by package/module and the hottest functions, plus idle time (waiting on I/O).
 *
 *   node --import tsx test/bench/profile-summary.ts <file.cpuprofile | dir> [--top 15]
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Group a script URL: a node_modules package, a hostsync dist module, or a Node internal. */
export function moduleOf(url: string): string {
  if (url === '') return '(native/VM)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] ?? url;
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `hostsync:${dist[1] ?? ''}`;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

/** Self milliseconds per group, for one profile. */
export function selfTimes(profile: CpuProfile): { byModule: Map<string, number>; byFunction: Map<string, number>; totalMs: number } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [i, id] of profile.samples.entries()) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = nodes.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const special = functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)';
    const mod = special ? functionName : moduleOf(url);
    byModule.set(mod, (byModule.get(mod) ?? 0) + dt);
    const fn = special ? functionName : `${functionName || '(anonymous)'} ${mod}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
  }
  return { byModule, byFunction, totalMs: (profile.endTime - profile.startTime) / 1000 };
}

function top(map: ReadonlyMap<string, number>, n: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

async function profilesIn(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await profilesIn(full)));
    else if (entry.name.endsWith('.cpuprofile')) out.push(full);
  }
  return out.sort();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let n = 15;
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--top') n = Number(args[++i] ?? 15);
    else paths.push(args[i] ?? '');
  }
  if (paths.length === 0) {
    console.error('Usage: node --import tsx test/bench/profile-summary.ts <file.cpuprofile | dir> [--top 15]');
    process.exitCode = 2;
    return;
  }
  for (const path of paths) {
    for (const file of await profilesIn(path)) {
      const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
      const { byModule, byFunction, totalMs } = selfTimes(profile);
      console.log(`\n${file}: ${totalMs.toFixed(0)} ms profiled`);
      console.log('  self time by module:');
      for (const [name, ms] of top(byModule, n)) console.log(`    ${ms.toFixed(1).padStart(8)} ms  ${name}`);
      console.log('  hottest functions (self):');
      for (const [name, ms] of top(byFunction, n)) console.log(`    ${ms.toFixed(1).padStart(8)} ms  ${name}`);
    }
  }
}

await main();
