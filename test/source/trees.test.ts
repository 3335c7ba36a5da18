import { describe, expect, it } from 'vitest';
import { hashObject } from '../../src/git/objects.js';
import { serializeTree } from '../../src/git/tree.js';
import type { ManifestEntry } from '../../src/model.js';
import { createTreeIndex, flattenTrees } from '../../src/source/trees.js';

const COMMIT = 'c'.repeat(40);
const blob = (n: number): string => n.toString(16).padStart(40, '0');

/** A store of tree objects built from nested descriptions; returns the root's SHA. */
function trees(): { put(entries: readonly { mode: string; name: string | Buffer; sha: string }[]): string; get(sha: string): Buffer | undefined } {
  const objects = new Map<string, Buffer>();
  return {
    put(entries) {
      const data = serializeTree(entries.map((e) => ({ mode: e.mode, name: typeof e.name === 'string' ? Buffer.from(e.name) : e.name, sha: e.sha })));
      const sha = hashObject('tree', data);
      objects.set(sha, data);
      return sha;
    },
    get: (sha) => objects.get(sha),
  };
}

describe('flattenTrees', () => {
  it('lists a commit in path order (git orders a folder as if its name ended in /)', () => {
    const t = trees();
    const sub = t.put([{ mode: '100644', name: 'b', sha: blob(2) }]);
    const root = t.put([
      { mode: '40000', name: 'a', sha: sub },
      { mode: '100644', name: 'a-c', sha: blob(3) },
      { mode: '100755', name: 'run', sha: blob(4) },
    ]);
    const flat = flattenTrees(root, '', t.get, createTreeIndex([], undefined), () => 7, COMMIT);
    expect(flat.missing).toEqual([]);
    expect(flat.entries.map((e) => [e.path, e.mode])).toEqual([
      ['a', '040000'],
      ['a-c', '100644'],
      ['a/b', '100644'],
      ['run', '100755'],
    ]);
  });

  it.each([
    ['..', /has a '\.\.' component/],
    ['.GIT', /has a '\.git' component/],
    ['back\\slash', /contains a backslash/],
    ['.hostsync-tmp-x', /reserves for its temp files/],
    ['n'.repeat(256), /has a name of 256 bytes/],
  ])('refuses a tree entry named %j, naming it', (name, reason) => {
    const t = trees();
    const root = t.put([{ mode: '100644', name, sha: blob(1) }]);
    expect(() => flattenTrees(root, '', t.get, createTreeIndex([], undefined), () => 1, COMMIT)).toThrow(reason);
  });

  it('refuses a tree that names an entry twice', () => {
    const t = trees();
    // serializeTree sorts and would keep both; build the duplicate by hand.
    const one = serializeTree([{ mode: '100644', name: Buffer.from('x'), sha: blob(1) }]);
    const data = Buffer.concat([one, one]);
    const sha = hashObject('tree', data);
    const get = (s: string): Buffer | undefined => (s === sha ? data : t.get(s));
    expect(() => flattenTrees(sha, '', get, createTreeIndex([], undefined), () => 1, COMMIT)).toThrow(/tree entry "x" appears twice/);
  });

  it('takes an unchanged folder from the host, as the very same entry objects', () => {
    const t = trees();
    const pkg = t.put([
      { mode: '100644', name: 'f1', sha: blob(1) },
      { mode: '100644', name: 'f2', sha: blob(2) },
    ]);
    const before = t.put([{ mode: '40000', name: 'pkg', sha: pkg }, { mode: '100644', name: 'top', sha: blob(3) }]);
    const manifest: ManifestEntry[] = [
      { path: 'pkg', mode: '040000', sha: pkg },
      { path: 'pkg/f1', mode: '100644', sha: blob(1), size: 10 },
      { path: 'pkg/f2', mode: '100644', sha: blob(2), size: 20 },
      { path: 'top', mode: '100644', sha: blob(3), size: 30 },
    ];
    const index = createTreeIndex(manifest, before);
    expect(index.tree(pkg)).toEqual(t.get(pkg)); // rebuilt from the listing, and it hashes right
    // The new commit changes `top` only: the pack brings the root, not `pkg`.
    const pack = trees();
    const after = pack.put([{ mode: '40000', name: 'pkg', sha: pkg }, { mode: '100644', name: 'top', sha: blob(9) }]);
    const flat = flattenTrees(after, '', pack.get, index, (sha) => index.sizeOf(sha), COMMIT);
    expect(flat.missing).toEqual([]);
    expect(flat.entries.map((e) => e.path)).toEqual(['pkg', 'pkg/f1', 'pkg/f2', 'top']);
    expect(flat.entries[1]).toBe(manifest[1]);
    expect(flat.entries[2]).toBe(manifest[2]);
    expect(flat.entries[3]).toEqual({ path: 'top', mode: '100644', sha: blob(9) });
  });

  it('places a known folder that moved under its new name (new entries, the old ones untouched)', () => {
    const t = trees();
    const pkg = t.put([{ mode: '100644', name: 'f1', sha: blob(1) }]);
    const manifest: ManifestEntry[] = [
      { path: 'old', mode: '040000', sha: pkg },
      { path: 'old/f1', mode: '100644', sha: blob(1), size: 10 },
    ];
    const index = createTreeIndex(manifest, t.put([{ mode: '40000', name: 'old', sha: pkg }]));
    const pack = trees();
    const after = pack.put([{ mode: '40000', name: 'new', sha: pkg }]);
    const flat = flattenTrees(after, '', pack.get, index, (sha) => index.sizeOf(sha), COMMIT);
    expect(flat.entries).toEqual([
      { path: 'new', mode: '040000', sha: pkg },
      { path: 'new/f1', mode: '100644', sha: blob(1), size: 10 },
    ]);
    expect(manifest[1]?.path).toBe('old/f1');
  });

  it('reports a subtree neither the pack nor the host knows as missing', () => {
    const t = trees();
    const root = t.put([{ mode: '40000', name: 'gone', sha: blob(5) }]);
    expect(flattenTrees(root, '', t.get, createTreeIndex([], undefined), () => 1, COMMIT).missing).toEqual([blob(5)]);
  });
});
