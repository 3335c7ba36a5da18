/**
 * Compare two directory trees the way git sees content: bytes, executable bit, symlink targets and
 * entry kinds. Symlinks are never followed. Directories count, so an extra empty folder differs.
 */
import { open, lstat, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import picomatch from 'picomatch';

/** Options of {@link compareTrees}. */
export interface CompareTreesOptions {
  /** Glob patterns (picomatch, dotfiles included) of repo-relative paths to skip, with their subtrees. */
  readonly ignore?: readonly string[];
}

type Kind = 'file' | 'dir' | 'symlink' | 'other';

function kindOf(info: Stats): Kind {
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isDirectory()) return 'dir';
  if (info.isFile()) return 'file';
  return 'other';
}

/** Every path under `root` (POSIX, relative), depth-first, without following symlinks. */
async function walk(root: string, skip: (path: string) => boolean): Promise<Map<string, Stats>> {
  const found = new Map<string, Stats>();
  const visit = async (rel: string): Promise<void> => {
    const names = await readdir(rel === '' ? root : join(root, rel));
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (skip(path)) continue;
      const info = await lstat(join(root, path));
      found.set(path, info);
      if (info.isDirectory()) await visit(path);
    }
  };
  await visit('');
  return found;
}

/** True when both files hold the same bytes (streamed in chunks, never whole files in memory). */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const size = 1 << 16;
    const ba = Buffer.alloc(size);
    const bb = Buffer.alloc(size);
    for (;;) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, size, null), fb.read(bb, 0, size, null)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

const isExec = (info: Stats): boolean => (info.mode & 0o100) !== 0;

/**
 * List the differences between `expectedDir` and `actualDir` as human-readable lines, sorted by
 * path; an empty list means the trees are identical.
 */
export async function compareTrees(
  expectedDir: string,
  actualDir: string,
  opts: CompareTreesOptions = {},
): Promise<string[]> {
  const patterns = opts.ignore ?? [];
  const matcher = patterns.length > 0 ? picomatch([...patterns], { dot: true }) : undefined;
  const skip = (path: string): boolean => matcher?.(path) ?? false;
  const [expected, actual] = await Promise.all([walk(expectedDir, skip), walk(actualDir, skip)]);
  const paths = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  const diffs: string[] = [];
  for (const path of paths) {
    const want = expected.get(path);
    const got = actual.get(path);
    if (want === undefined) {
      if (got !== undefined) diffs.push(`extra ${kindOf(got)}: ${path}`);
      continue;
    }
    if (got === undefined) {
      diffs.push(`missing ${kindOf(want)}: ${path}`);
      continue;
    }
    const wantKind = kindOf(want);
    const gotKind = kindOf(got);
    if (wantKind !== gotKind) {
      diffs.push(`type differs: ${path} (expected ${wantKind}, got ${gotKind})`);
      continue;
    }
    if (wantKind === 'symlink') {
      const [a, b] = await Promise.all([readlink(join(expectedDir, path)), readlink(join(actualDir, path))]);
      if (a !== b) diffs.push(`symlink target differs: ${path} (expected '${a}', got '${b}')`);
    } else if (wantKind === 'file') {
      if (want.size !== got.size) {
        diffs.push(`content differs: ${path} (expected ${want.size} bytes, got ${got.size} bytes)`);
      } else if (!(await sameBytes(join(expectedDir, path), join(actualDir, path)))) {
        diffs.push(`content differs: ${path} (same size ${want.size}, different bytes)`);
      }
      if (isExec(want) !== isExec(got)) {
        const mode = (info: Stats): string => (isExec(info) ? '100755' : '100644');
        diffs.push(`exec bit differs: ${path} (expected ${mode(want)}, got ${mode(got)})`);
      }
    }
  }
  return diffs;
}
