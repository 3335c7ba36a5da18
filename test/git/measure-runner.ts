/**
 * Runs measure.ts in a child process: bundled by esbuild so the child is plain node (a TypeScript
 * loader would add its own memory to the peak RSS being measured).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { MeasureJob, MeasureReport } from './measure.js';

/** Bundle measure.ts into `outDir`; resolves the script's path. */
export async function bundleMeasure(outDir: string): Promise<string> {
  const script = join(outDir, 'measure.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'measure.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: script,
    logLevel: 'silent',
    // undici is CommonJS and requires node built-ins; an ES module bundle needs a require for that.
    banner: { js: "import { createRequire as hostsyncCreateRequire } from 'node:module'; const require = hostsyncCreateRequire(import.meta.url);" },
  });
  return script;
}

/** Run the bundled script on `job`; resolves one report per step. */
export function runMeasure(script: string, job: MeasureJob): Promise<MeasureReport[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`measure exited ${code}: ${err}`));
      else resolve(out.trim().split('\n').map((line) => JSON.parse(line) as MeasureReport));
    });
  });
}
