/**
 * Seed hostsync's object store (`<stateDir>/objects/ab/cdef…`, docs/decisions/0001) straight from
 * git, as a previous download would have left it. The crash tests use it so that a 3,000-file
 * apply does not first spend a minute in per-blob downloads from the test server (which starts a
 * git process per blob); what they test is the apply, which reads only from the store.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git, spawnGit } from './git-cli.js';

/** Blob SHAs (files and symlinks) of `commit`, with their paths. */
export async function blobsOf(repoDir: string, commit: string): Promise<{ path: string; sha: string }[]> {
  const out = await git(['ls-tree', '-r', '-z', '--full-tree', commit], { cwd: repoDir });
  const blobs: { path: string; sha: string }[] = [];
  for (const record of out.split('\0')) {
    const match = /^(\d+) (\w+) ([0-9a-f]{40})\t(.*)$/s.exec(record);
    if (match !== null && match[2] === 'blob') blobs.push({ path: match[4] ?? '', sha: match[3] ?? '' });
  }
  return blobs;
}

/** The raw contents of `shas` through one `git cat-file --batch`. */
async function readBlobs(repoDir: string, shas: readonly string[]): Promise<Map<string, Buffer>> {
  const child = spawnGit(['cat-file', '--batch'], repoDir);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const exited = new Promise<void>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git cat-file --batch exited ${code}`)))));
  child.stdin.end(`${shas.join('\n')}\n`);
  await exited;
  const all = Buffer.concat(chunks);
  const blobs = new Map<string, Buffer>();
  let at = 0;
  while (at < all.length) {
    const newline = all.indexOf(0x0a, at);
    const header = all.subarray(at, newline).toString('utf8');
    const [sha, type, size] = header.split(' ');
    if (sha === undefined || type !== 'blob' || size === undefined) throw new Error(`unexpected cat-file header: ${header}`);
    const start = newline + 1;
    blobs.set(sha, all.subarray(start, start + Number(size)));
    at = start + Number(size) + 1;
  }
  return blobs;
}

/** Put the blobs of `commit` (those passing `keep`) into the store of `stateDir`; resolves the SHAs written. */
export async function seedStore(repoDir: string, commit: string, stateDir: string, keep: (blob: { path: string; sha: string }) => boolean = () => true): Promise<string[]> {
  const shas = [...new Set((await blobsOf(repoDir, commit)).filter(keep).map((blob) => blob.sha))].sort();
  const contents = await readBlobs(repoDir, shas);
  const objects = join(stateDir, 'objects');
  await mkdir(objects, { recursive: true, mode: 0o700 });
  for (const sha of shas) {
    await mkdir(join(objects, sha.slice(0, 2)), { recursive: true, mode: 0o700 });
    await writeFile(join(objects, sha.slice(0, 2), sha.slice(2)), contents.get(sha) ?? Buffer.alloc(0), { mode: 0o600 });
  }
  return shas;
}
