import { describe, expect, it } from 'vitest';
import type { GitMode, LocalEntry, ManifestEntry, RemoteEntry } from '../../src/model.js';
import { planUpdate, withStored, type PlanInput } from '../../src/plan/plan.js';
import { remoteEntriesFromTree, unsafePathReason } from '../../src/plan/remote.js';

const sha = (n: number): string => n.toString(16).padStart(40, '0');
const remote = (path: string, mode: GitMode, n: number, size = 10): RemoteEntry => ({ path, mode, sha: sha(n), size });
const file = (path: string, n: number | undefined, exec = false): LocalEntry => ({ path, kind: 'file', mode: exec ? '100755' : '100644', sha: n === undefined ? undefined : sha(n), size: 10 });
const link = (path: string, n: number): LocalEntry => ({ path, kind: 'symlink', mode: '120000', sha: sha(n), size: 5 });
const dir = (path: string): LocalEntry => ({ path, kind: 'dir', mode: '040000', size: 0 });
const managed = (path: string, mode: GitMode, n: number): ManifestEntry => ({ path, mode, sha: sha(n) });

function plan(overrides: Partial<PlanInput>) {
  return planUpdate({ remote: [], local: new Map(), previous: [], stored: new Set(), isPreserved: () => false, prune: false, ...overrides });
}
const localOf = (...entries: LocalEntry[]) => new Map(entries.map((e) => [e.path, e]));

describe('planUpdate', () => {
  const cases: [string, Partial<PlanInput>, [string, string][]][] = [
    ['fresh install adds dirs and files', { remote: [remote('a', '040000', 1), remote('a/b', '100644', 2)] }, [['a', 'added'], ['a/b', 'added']]],
    ['identical content: nothing', { remote: [remote('x', '100644', 2)], local: localOf(file('x', 2)) }, []],
    ['content differs: modified', { remote: [remote('x', '100644', 3)], local: localOf(file('x', 2)) }, [['x', 'modified']]],
    ['exec bit only: modeChanged', { remote: [remote('x', '100755', 2)], local: localOf(file('x', 2)) }, [['x', 'modeChanged']]],
    ['symlink target differs: modified', { remote: [remote('l', '120000', 4)], local: localOf(link('l', 5)) }, [['l', 'modified']]],
    ['file becomes symlink: typeChanged', { remote: [remote('l', '120000', 4)], local: localOf(file('l', 4)) }, [['l', 'typeChanged']]],
    ['dir becomes file: typeChanged, managed children deleted', {
      remote: [remote('d', '100644', 6)],
      local: localOf(dir('d'), file('d/x', 7)),
      previous: [managed('d', '040000', 8), managed('d/x', '100644', 7)],
    }, [['d', 'typeChanged'], ['d/x', 'deleted']]],
    ['unmanaged file in the way of a new file is deleted', { remote: [remote('d', '100644', 6)], local: localOf(dir('d'), file('d/mine', undefined)) }, [['d', 'typeChanged'], ['d/mine', 'deleted']]],
    ['managed file gone upstream: deleted', { local: localOf(file('old', 1)), previous: [managed('old', '100644', 1)] }, [['old', 'deleted']]],
    ['unmanaged file: kept', { local: localOf(file('mine', undefined)) }, []],
    ['unmanaged with prune: deleted', { local: localOf(file('mine', undefined)), prune: true }, [['mine', 'deleted']]],
    ['preserved path is left alone', { remote: [remote('hw.nix', '100644', 2)], local: localOf(file('hw.nix', 9)), isPreserved: (p) => p === 'hw.nix' }, []],
    ['submodule: an empty folder, as git checks it out', { remote: [remote('vendor', '160000', 3)] }, [['vendor', 'added']]],
    ['submodule already there: its content left alone', { remote: [remote('vendor', '160000', 3)], local: localOf(dir('vendor'), file('vendor/x', 4)) }, []],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(plan(input).changes.map((c) => [c.path, c.kind])).toEqual(expected);
  });

  it('reports only the top-most unmanaged path', () => {
    const result = plan({ local: localOf(dir('junk'), file('junk/a', undefined), dir('junk/sub'), file('junk/sub/b', undefined), file('loose', undefined)) });
    expect(result.unmanaged).toEqual(['junk', 'loose']);
  });

  it('takes content from the store, then from another local path, then the network', () => {
    const result = plan({
      remote: [remote('a', '100644', 1, 100), remote('b', '100644', 2, 200), remote('c', '100644', 3, 300), remote('c2', '100644', 3, 300)],
      local: localOf(file('moved-from', 2)),
      stored: new Set([sha(1)]),
    });
    expect(result.localCopies).toEqual([{ sha: sha(2), path: 'moved-from' }]);
    expect(result.fetch.map((f) => f.sha)).toEqual([sha(3)]);
    expect(result.downloadBytes).toBe(300);
  });

  it('withStored gives what planning again with the store known gives', () => {
    const input = {
      remote: [remote('a', '100644', 1, 100), remote('b', '100644', 2, 200), remote('c', '100644', 3, 300), remote('c2', '100644', 3, 300), remote('d', '100755', 4, 7), remote('l', '120000', 5, 3)],
      local: localOf(file('moved-from', 2), file('a', 9), file('d', 4)),
      previous: [managed('gone', '100644', 6)],
    };
    for (const held of [[], [1], [2], [3], [1, 2, 3, 4, 5], [7]]) {
      const stored = new Set(held.map(sha));
      expect(withStored(plan(input), stored)).toEqual(plan({ ...input, stored }));
    }
  });

  it('flags a preserved path standing where the commit needs a file', () => {
    const result = plan({ remote: [remote('hosts', '100644', 1)], local: localOf(dir('hosts'), file('hosts/hw.nix', undefined)), isPreserved: (p) => p === 'hosts/hw.nix' });
    expect(result.conflicts).toEqual(['hosts/hw.nix']);
  });

  it('is deterministic: same input, same output, sorted', () => {
    const input = { remote: [remote('z', '100644', 1), remote('a', '100644', 2), remote('m', '040000', 3)] };
    expect(plan(input)).toEqual(plan({ remote: [...input.remote].reverse() }));
    expect(plan(input).changes.map((c) => c.path)).toEqual(['a', 'm', 'z']);
  });
});

describe('remoteEntriesFromTree', () => {
  const tree = (path: string, type: 'blob' | 'tree' = 'blob') => ({ path, mode: (type === 'tree' ? '040000' : '100644') as GitMode, type, sha: sha(1), size: type === 'blob' ? 1 : undefined });
  it('selects --path and strips the prefix', () => {
    const entries = remoteEntriesFromTree([tree('hosts', 'tree'), tree('hosts/a'), tree('other')], 'hosts', sha(9));
    expect(entries.map((e) => e.path)).toEqual(['a']);
  });
  it.each([
    ['../x', /'\.\.' component/],
    ['/etc/passwd', /absolute/],
    ['a/../../x', /'\.\.' component/],
    ['.git/hooks/post-checkout', /'\.git' component/],
    ['x/.GIT/config', /'\.git' component/],
    ['a\\b', /backslash/],
    ['a\0b', /NUL/],
    ['a//b', /empty component/],
    ['dir/.hostsync-tmp-0123456789ab', /reserves for its temp files/],
  ])('refuses %j', (path, reason) => {
    expect(unsafePathReason(path)).toMatch(reason);
    expect(() => remoteEntriesFromTree([tree(path)], '', sha(9))).toThrow(/Refusing commit/);
  });
  it('refuses duplicates and orphans', () => {
    expect(() => remoteEntriesFromTree([tree('a'), tree('a')], '', sha(9))).toThrow(/appears twice/);
    expect(() => remoteEntriesFromTree([tree('missing/a')], '', sha(9))).toThrow(/no parent directory entry/);
  });
  it('names a --path that does not exist or is a file', () => {
    expect(() => remoteEntriesFromTree([tree('a')], 'nope', sha(9))).toThrow(/does not exist/);
    expect(() => remoteEntriesFromTree([tree('a')], 'a', sha(9))).toThrow(/is a file/);
  });
});
