/**
 * Pack reading on a ~20,000-object pack (15,000 source-like files, two more commits editing 13% of
 * them, packed with OFS deltas): `git index-pack` against readPack into a file store and into a
 * memory store, each in its own process. Prints one JSON object; figures go to decision 0004.
 *
 *   node --import tsx test/git/bench-pack.ts
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRepo } from '../support/repo.js';
import { packObjects } from './helpers.js';
import { bundleMeasure, runMeasure } from './measure-runner.js';

const WORDS = 'let const function return if else for while import export from type interface class new this await async value config host sync tree blob commit pack delta offset size buffer stream error'.split(' ');

/** A deterministic xorshift generator. */
function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
}

function fileText(index: number, edit: string | undefined): string {
  const next = prng(index * 7919 + 1);
  const lines: string[] = [];
  const count = 20 + Math.floor(next() * 120);
  for (let line = 0; line < count; line++) {
    const words = Array.from({ length: 3 + Math.floor(next() * 8) }, () => WORDS[Math.floor(next() * WORDS.length)] ?? '');
    lines.push(`${words.join(' ')} // ${index}:${line}`);
  }
  if (edit !== undefined) lines.splice(Math.floor(next() * lines.length), 0, edit);
  return `${lines.join('\n')}\n`;
}

/** Time and peak RSS (kB) of a command, by GNU time. */
function timed(command: string, args: readonly string[], cwd: string): Promise<{ ms: number; maxRssMB: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile('/usr/bin/time', ['-f', '%M', command, ...args], { cwd }, (error, _stdout, stderr) => {
      if (error) return reject(error);
      const kb = Number(stderr.trim().split('\n').pop());
      resolve({ ms: Math.round(performance.now() - started), maxRssMB: Math.round(kb / 102.4) / 10 });
    });
  });
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'hostsync-bench-pack-'));
  const repo = await createRepo();
  try {
    const files = 15_000;
    const pick = prng(1);
    for (const round of [undefined, 'two', 'three']) {
      for (let i = 0; i < files; i++) {
        if (round !== undefined && pick() > 0.13) continue;
        await repo.write(`pkg${i % 50}/mod${i % 500}/file${i}.ts`, fileText(i, round === undefined ? undefined : `changed in ${round} ${pick()}`));
      }
      await repo.commit(round ?? 'one');
    }
    const pack = await packObjects(repo.dir, ['HEAD'], { depth: 50 });
    const packFile = join(work, 'bench.pack');
    await writeFile(packFile, pack);
    const script = await bundleMeasure(work);
    const store = async (name: string): Promise<string> => {
      const dir = join(work, name);
      await mkdir(dir);
      return dir;
    };
    const git = await timed('git', ['index-pack', '-o', join(work, 'bench.idx'), packFile], work);
    const [file] = await runMeasure(script, { kind: 'pack', file: packFile, storeDir: await store('file') });
    const [memory] = await runMeasure(script, { kind: 'pack', file: packFile, storeDir: await store('memory'), memory: true });
    const summary = {
      packBytes: pack.length,
      objects: file?.objects,
      gitIndexPack: git,
      readPackFileStore: { ms: file?.ms, maxRssMB: file?.maxRssMB, nodeAloneMB: file?.startRssMB },
      readPackMemoryStore: { ms: memory?.ms, maxRssMB: memory?.maxRssMB },
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    await repo.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
