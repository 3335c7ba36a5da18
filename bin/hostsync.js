#!/usr/bin/env node
// The installed entry point. npm ci builds the CLI (via `prepare`) into one bundle, dist/hostsync.cjs,
// which starts with a V8 code cache (src/boot/code-cache.ts); without a readable bundle, the per-file build.
import { fileURLToPath } from 'node:url';
import { runBundle } from '../dist/boot/code-cache.js';

const bundle = fileURLToPath(new URL('../dist/hostsync.cjs', import.meta.url));
if (runBundle(bundle, process.argv) === 'unreadable') {
  const { main } = await import('../dist/cli/main.js');
  await main(process.argv);
}
