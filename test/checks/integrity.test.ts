/** Table tests of the pure evaluation behind the dest, integrity and unmanaged checks. */
import { describe, expect, it } from 'vitest';
import { evaluateDest, evaluateIntegrity, evaluateUnmanaged, findDrift, findUnmanaged, type Drift } from '../../src/checks/integrity.js';
import type { LocalEntry, ManifestEntry } from '../../src/model.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const file = (path: string, sha: string, mode: '100644' | '100755' = '100644'): ManifestEntry => ({ path, mode, sha });
const dir = (path: string): ManifestEntry => ({ path, mode: '040000', sha: C });
const link = (path: string, sha: string): ManifestEntry => ({ path, mode: '120000', sha });
const local = (...entries: LocalEntry[]): Map<string, LocalEntry> => new Map(entries.map((e) => [e.path, e]));
const lf = (path: string, sha: string, mode: '100644' | '100755' = '100644'): LocalEntry => ({ path, kind: 'file', mode, sha, size: 1 });
const ld = (path: string): LocalEntry => ({ path, kind: 'dir', mode: '040000', size: 0 });
const ll = (path: string, sha: string): LocalEntry => ({ path, kind: 'symlink', mode: '120000', sha, size: 1 });
const none = (): boolean => false;

describe('evaluateDest', () => {
  const cases: [string, Parameters<typeof evaluateDest>, string, boolean][] = [
    ['missing before the first sync', ['/d', undefined, undefined], 'skip', false],
    ['missing after a sync', ['/d', undefined, A], 'fail', true],
    ['a file', ['/d', { kind: 'file', mode: 0o644, uid: 0, gid: 0 }, A], 'fail', false],
    ['a directory', ['/d', { kind: 'dir', mode: 0o755, uid: 0, gid: 0 }, A], 'pass', false],
  ];
  it.each(cases)('%s', (_name, args, status, fixable) => {
    const result = evaluateDest(...args);
    expect(result.status).toBe(status);
    expect(result.fixable).toBe(fixable);
    expect(result.message).toContain('/d');
  });
});

describe('findDrift', () => {
  const entries = [dir('bin'), file('bin/run', A, '100755'), file('README', A), link('current', B), dir('hosts'), file('hosts/a.nix', B)];
  const clean = local(ld('bin'), lf('bin/run', A, '100755'), lf('README', A), ll('current', B), ld('hosts'), lf('hosts/a.nix', B));
  const cases: [string, Map<string, LocalEntry>, Pick<Drift, 'path' | 'kind'>[]][] = [
    ['nothing differs', clean, []],
    ['content modified', local(...[...clean.values()].map((e) => (e.path === 'README' ? lf('README', B) : e))), [{ path: 'README', kind: 'modified' }]],
    ['executable bit removed', local(...[...clean.values()].map((e) => (e.path === 'bin/run' ? lf('bin/run', A, '100644') : e))), [{ path: 'bin/run', kind: 'mode' }]],
    ['executable bit added', local(...[...clean.values()].map((e) => (e.path === 'README' ? lf('README', A, '100755') : e))), [{ path: 'README', kind: 'mode' }]],
    [
      'content and mode both',
      local(...[...clean.values()].map((e) => (e.path === 'bin/run' ? lf('bin/run', B, '100644') : e))),
      [
        { path: 'bin/run', kind: 'mode' },
        { path: 'bin/run', kind: 'modified' },
      ],
    ],
    ['file deleted', local(...[...clean.values()].filter((e) => e.path !== 'README')), [{ path: 'README', kind: 'missing' }]],
    ['symlink retargeted', local(...[...clean.values()].map((e) => (e.path === 'current' ? ll('current', A) : e))), [{ path: 'current', kind: 'symlink' }]],
    ['symlink replaced by a file', local(...[...clean.values()].map((e) => (e.path === 'current' ? lf('current', B) : e))), [{ path: 'current', kind: 'type' }]],
    ['folder deleted: its files are named, not the folder', local(...[...clean.values()].filter((e) => !e.path.startsWith('hosts'))), [{ path: 'hosts/a.nix', kind: 'missing' }]],
    ['folder replaced by a file', local(...[...clean.values()].filter((e) => e.path !== 'hosts/a.nix').map((e) => (e.path === 'hosts' ? lf('hosts', A) : e))), [
      { path: 'hosts', kind: 'type' },
      { path: 'hosts/a.nix', kind: 'missing' },
    ]],
  ];
  it.each(cases)('%s', (_name, found, expected) => {
    expect(findDrift(entries, found, none).map(({ path, kind }) => ({ path, kind }))).toEqual(expected);
  });

  it('ignores preserved paths and submodules', () => {
    const withSub = [...entries, { path: 'vendor', mode: '160000' as const, sha: A }];
    expect(findDrift(withSub, local(...[...clean.values()].filter((e) => e.path !== 'README')), (p) => p === 'README')).toEqual([]);
  });

  it('reports an empty missing folder', () => {
    expect(findDrift([dir('empty')], local(), none)).toEqual([{ path: 'empty', kind: 'missing', detail: 'missing' }]);
  });
});

describe('evaluateIntegrity', () => {
  it('passes with no drift', () => {
    expect(evaluateIntegrity(A, 3, [])).toMatchObject({ status: 'pass', fixable: false, paths: [] });
  });
  it('fails naming every path and its problem, fixable', () => {
    const result = evaluateIntegrity(A, 3, [
      { path: 'x', kind: 'modified', detail: 'content modified' },
      { path: 'y', kind: 'mode', detail: 'executable bit removed' },
      { path: 'z', kind: 'missing', detail: 'missing' },
    ]);
    expect(result).toMatchObject({ status: 'fail', fixable: true, paths: ['x', 'y', 'z'] });
    expect(result.message).toContain('x (content modified), y (executable bit removed), z (missing)');
    expect(result.message).toContain(A.slice(0, 12));
  });
});

describe('findUnmanaged / evaluateUnmanaged', () => {
  const managed = new Set(['hosts', 'hosts/a.nix', 'README']);
  const cases: [string, Map<string, LocalEntry>, string[]][] = [
    ['none', local(ld('hosts'), lf('hosts/a.nix', A), lf('README', A)), []],
    ['a stray file', local(ld('hosts'), lf('hosts/a.nix', A), lf('hosts/extra.nix', A), lf('README', A)), ['hosts/extra.nix']],
    ['a stray folder is one path', local(ld('notes'), ld('notes/deep'), lf('notes/deep/x', A), lf('notes/y', A), lf('README', A)), ['notes']],
  ];
  it.each(cases)('%s', (_name, found, expected) => {
    expect(findUnmanaged(managed, found)).toEqual(expected);
  });

  it('warns, fixable only with --prune', () => {
    expect(evaluateUnmanaged(A, [], false).status).toBe('pass');
    expect(evaluateUnmanaged(A, ['x'], false)).toMatchObject({ status: 'warn', fixable: false, paths: ['x'] });
    expect(evaluateUnmanaged(A, ['x'], true)).toMatchObject({ status: 'warn', fixable: true });
    expect(evaluateUnmanaged(A, ['x'], false).message).toMatch(/--fix --prune deletes them/);
  });
});
