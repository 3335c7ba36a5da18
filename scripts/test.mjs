#!/usr/bin/env node
// `npm test` after the build: the type check (tsc --noEmit) and vitest side by side. tsc is mostly
// single-threaded; run first, it left a core idle for ~11 s on the 2-core machines CI uses. Its output
// is shown after vitest's; the exit code is non-zero when either fails. Arguments go to vitest.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The packages' own command-line entry points (what node_modules/.bin links to).
const tscBin = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const vitestBin = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

const tsc = spawn(process.execPath, [tscBin, '-p', 'tsconfig.json', '--noEmit'], { stdio: ['ignore', 'pipe', 'pipe'] });
let tscOutput = '';
tsc.stdout.setEncoding('utf8').on('data', (chunk) => (tscOutput += chunk));
tsc.stderr.setEncoding('utf8').on('data', (chunk) => (tscOutput += chunk));
const tscDone = new Promise((resolve) => tsc.on('close', (code) => resolve(code ?? 1)));

const vitest = spawn(process.execPath, [vitestBin, 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const child of [tsc, vitest]) child.on('error', (error) => {
  process.stderr.write(`scripts/test.mjs: could not start ${child.spawnargs.join(' ')}: ${error.message}\n`);
  process.exitCode = 1;
});
// Stopped (Ctrl-C, or CI's SIGTERM to this process alone): stop both, and fail.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {
  tsc.kill(signal);
  vitest.kill(signal);
  process.exit(signal === 'SIGINT' ? 130 : 143);
});
const vitestCode = await new Promise((resolve) => vitest.on('close', (code) => resolve(code ?? 1)));
const tscCode = await tscDone;

if (tscCode !== 0) process.stderr.write(`\nType check (tsc --noEmit) failed:\n${tscOutput}`);
else process.stdout.write('\nType check (tsc --noEmit): no errors.\n');
process.exit(vitestCode !== 0 ? vitestCode : tscCode);
