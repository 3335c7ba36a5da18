/**
 * Part of `npm run build`: the CLI as one CommonJS file, dist/hostsync.cjs — the same bundle the
 * single executable embeds (scripts/build-binary.ts) — which bin/hostsync.js runs with a V8 code
 * cache (src/boot/code-cache.ts, decision 0017).
 *
 * Usage: node --import tsx scripts/bundle.ts [OUT]   (default dist/hostsync.cjs)
 */
import path from 'node:path';
import { bundle, ROOT } from './build-binary.js';

const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist', 'hostsync.cjs'));
await bundle(out);
