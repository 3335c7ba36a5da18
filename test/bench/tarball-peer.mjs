// The tarball peer of the first-install workload, run as its own process by test/bench:
// GET the tarball URL with Node (fetch follows the redirect to codeload, as curl -L does) and
// stream the body into `tar xz` — nothing is held in memory or written to a temp file.
// Usage: node tarball-peer.mjs <tarball-url> <dir>   (token from $GITHUB_TOKEN)
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const [url, dir] = process.argv.slice(2);
if (!url || !dir) throw new Error('Usage: node tarball-peer.mjs <tarball-url> <dir>');
const token = process.env.GITHUB_TOKEN;
const response = await fetch(url, {
  headers: { accept: 'application/vnd.github+json', 'user-agent': 'hostsync-bench', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  redirect: 'follow',
});
if (response.status !== 200 || response.body === null) throw new Error(`GET ${url} answered ${response.status}`);
mkdirSync(dir, { recursive: true });
const tar = spawn('tar', ['-xzf', '-', '--strip-components=1', '-C', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
const exited = new Promise((resolve, reject) => {
  tar.on('error', reject);
  tar.on('close', resolve);
});
await pipeline(Readable.fromWeb(response.body), tar.stdin);
const code = await exited;
if (code !== 0) throw new Error(`tar exited with ${code}`);
