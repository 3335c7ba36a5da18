import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitHeader, parseCommit, serializeCommit } from '../../src/git/commit.js';
import { ObjectFormatError } from '../../src/git/errors.js';
import { createObjectHasher, decodeUtf8Strict, hashObject, type ObjectType } from '../../src/git/objects.js';
import { compareTreeEntries, entryKind, parseTree, serializeTree, type TreeEntry } from '../../src/git/tree.js';
import { git, gitBuffer } from '../support/git-cli.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { pseudoRandomBytes } from '../support/sample-content.js';

let repo: TestRepo;
beforeAll(async () => {
  repo = await createRepo();
});
afterAll(async () => {
  await repo.cleanup();
});

/** git's id for `content` as a `type` object, written into the repository (no validation). */
async function gitHash(type: ObjectType, content: Buffer): Promise<string> {
  return git(['hash-object', '--literally', '-w', '-t', type, '--stdin'], { cwd: repo.dir, input: content });
}

const blobA = hashObject('blob', Buffer.from('a\n'));
const blobB = hashObject('blob', Buffer.from('b\n'));

describe('object ids', () => {
  it.each<[ObjectType, Buffer]>([
    ['blob', Buffer.alloc(0)],
    ['blob', Buffer.from('hello\n')],
    ['blob', pseudoRandomBytes(100_000, 1)],
    ['commit', Buffer.from('not a real commit, hashed literally\n')],
    ['tag', Buffer.from('object x\n')],
  ])('hashObject(%s) equals git hash-object', async (type, content) => {
    expect(hashObject(type, content)).toBe(await gitHash(type, content));
  });

  it('hashes streamed content of known size like the whole, and refuses a wrong size', () => {
    const content = pseudoRandomBytes(70_000, 2);
    const hasher = createObjectHasher('blob', content.length);
    for (let pos = 0; pos < content.length; pos += 999) hasher.update(content.subarray(pos, pos + 999));
    expect(hasher.digest()).toBe(hashObject('blob', content));
    const short = createObjectHasher('blob', 10);
    short.update(Buffer.alloc(9));
    expect(() => short.digest()).toThrow(/9 bytes but 10 were declared/);
    expect(() => createObjectHasher('blob', 1).update(Buffer.alloc(2))).toThrow(ObjectFormatError);
  });

  it('decodes names strictly', () => {
    expect(decodeUtf8Strict(Buffer.from('ünï côdé'))).toBe('ünï côdé');
    expect(() => decodeUtf8Strict(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'path')).toThrow(/path 0x636166e9 is not valid UTF-8/);
  });
});

describe('trees', () => {
  /** git mktree's tree (it sorts its input itself) for `entries`. */
  async function mktree(entries: readonly TreeEntry[]): Promise<string> {
    const input = Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${entryKind(e.mode) === 'tree' ? 'tree' : entryKind(e.mode) === 'gitlink' ? 'commit' : 'blob'} ${e.sha}\t`), e.name, Buffer.from([0])])));
    return git(['mktree', '-z', '--missing'], { cwd: repo.dir, input });
  }
  const entry = (mode: string, name: string | Buffer, sha: string): TreeEntry => ({ mode, name: Buffer.isBuffer(name) ? name : Buffer.from(name), sha });

  it('serializes in git\'s order (directories as "name/") to the id git mktree gives', async () => {
    const subtree = await mktree([entry('100644', 'x', blobA)]);
    const entries = [
      entry('100644', 'a0', blobA),
      entry('40000', 'a', subtree),
      entry('100644', 'a.b', blobB),
      entry('100644', 'a-', blobB),
      entry('100755', 'run.sh', blobA),
      entry('120000', 'link', blobB),
      entry('160000', 'vendor', blobA),
      entry('100644', 'ünï', blobA),
      entry('100644', Buffer.from([0x63, 0x61, 0x66, 0xe9]), blobB),
      entry('100644', 'Z', blobA),
    ];
    const expected = await mktree(entries);
    const ours = serializeTree(entries);
    expect(hashObject('tree', ours)).toBe(expected);
    expect(ours.equals(await gitBuffer(['cat-file', 'tree', expected], { cwd: repo.dir }))).toBe(true);
    const names = parseTree(ours).map((e) => e.name.toString('latin1'));
    expect(names.slice(0, 7)).toEqual(['Z', 'a-', 'a.b', 'a', 'a0', 'caf\xe9', 'link']);
    expect(parseTree(ours).map((e) => entryKind(e.mode))).toContain('gitlink');
  });

  it('keeps non-canonical modes as written, so old trees still hash to their ids', async () => {
    const raw = Buffer.concat([Buffer.from('040000 dir\0'), Buffer.from(blobB, 'hex'), Buffer.from('100664 old.txt\0'), Buffer.from(blobA, 'hex')]);
    const id = await gitHash('tree', raw);
    const entries = parseTree(raw);
    expect(entries.map((e) => [e.mode, entryKind(e.mode)])).toEqual([['040000', 'tree'], ['100664', 'file']]);
    expect(hashObject('tree', serializeTree(entries))).toBe(id);
  });

  it('compares a file "a" before "a.b" before a directory "a" before "a0"', () => {
    const sorted = [entry('100644', 'a0', blobA), entry('40000', 'a', blobA), entry('100644', 'a.b', blobA), entry('100644', 'a', blobB)].sort(compareTreeEntries);
    expect(sorted.map((e) => `${e.name.toString()}${e.mode === '40000' ? '/' : ''}`)).toEqual(['a', 'a.b', 'a/', 'a0']);
  });

  it.each<[string, Buffer, RegExp]>([
    ['a truncated id', Buffer.concat([Buffer.from('100644 a\0'), Buffer.alloc(19)]), /cut off/],
    ['a non-octal mode', Buffer.concat([Buffer.from('10064x a\0'), Buffer.alloc(20)]), /not octal/],
    ['an empty name', Buffer.concat([Buffer.from('100644 \0'), Buffer.alloc(20)]), /empty name/],
    ['a slash in a name', Buffer.concat([Buffer.from('100644 a/b\0'), Buffer.alloc(20)]), /containing "\/"/],
    ['no NUL', Buffer.from('100644 abc'), /no NUL/],
  ])('refuses %s', (_name, data, message) => {
    expect(() => parseTree(data)).toThrow(message);
  });

  it('refuses duplicate names, even a file and a directory that do not sort together', () => {
    expect(() => serializeTree([entry('100644', 'a', blobA), entry('100644', 'a.b', blobA), entry('40000', 'a', blobB)])).toThrow(/two entries named "a"/);
  });
});

describe('commits', () => {
  it('parses a commit git made, as git log shows it, and rebuilds it byte for byte', async () => {
    await repo.write('f', 'x\n');
    const first = await repo.commit('first');
    await repo.write('f', 'y\n');
    const second = await repo.commit('second line\n\nbody');
    const data = await gitBuffer(['cat-file', 'commit', second], { cwd: repo.dir });
    const commit = parseCommit(data);
    const [tree, parents, name, email, time] = (await repo.git('show', '-s', '--format=%T%n%P%n%an%n%ae%n%at', second)).split('\n');
    expect(commit.tree).toBe(tree);
    expect(commit.parents).toEqual([first]);
    expect(parents).toBe(first);
    expect(commit.author.name.toString()).toBe(name);
    expect(commit.author.email.toString()).toBe(email);
    expect(commit.author.timestamp).toBe(Number(time));
    expect(commit.committer.timezone).toBe('+0000');
    expect(commit.message.toString()).toBe('second line\n\nbody\n');
    expect(serializeCommit(commit).equals(data)).toBe(true);
  });

  it('keeps a multi-line gpgsig header, merges and an encoding, and rebuilds the same id', async () => {
    const tree = await repo.git('write-tree');
    const raw = Buffer.concat([
      Buffer.from(`tree ${tree}\nparent ${blobA}\nparent ${blobB}\n`),
      Buffer.from('author Ren\xe9 <r@example.invalid> 1700000000 +0100\n', 'latin1'),
      Buffer.from('committer C <c@example.invalid> 1700000001 -0230\nencoding ISO-8859-1\n'),
      Buffer.from('gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n =abcd\n -----END PGP SIGNATURE-----\n'),
      Buffer.from('gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n'),
      Buffer.from('\nsigned merge\n'),
    ]);
    const id = await gitHash('commit', raw);
    const commit = parseCommit(raw);
    expect(commit.parents).toEqual([blobA, blobB]);
    expect(() => decodeUtf8Strict(commit.author.name, 'author name')).toThrow(/not valid UTF-8/);
    expect(commit.author.name.toString('latin1')).toBe('René');
    expect(commit.committer.timezone).toBe('-0230');
    expect(commitHeader(commit, 'gpgsig')?.toString()).toBe('-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----');
    expect(commitHeader(commit, 'gpgsig-sha256')?.toString()).toContain('U1NIU0lH');
    expect(commitHeader(commit, 'encoding')?.toString()).toBe('ISO-8859-1');
    expect(commit.headers.map((h) => h.key)).toEqual(['tree', 'parent', 'parent', 'author', 'committer', 'encoding', 'gpgsig', 'gpgsig-sha256']);
    expect(hashObject('commit', serializeCommit(commit))).toBe(id);
  });

  it.each<[string, string, RegExp]>([
    ['no tree', 'author a <a> 1 +0000\ncommitter a <a> 1 +0000\n\nm', /does not start with a tree/],
    ['a bad tree id', 'tree xyz\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\n\nm', /tree "xyz"/],
    ['no committer', `tree ${blobA}\nauthor a <a> 1 +0000\n\nm`, /no committer/],
    ['a bad ident', `tree ${blobA}\nauthor nobody\ncommitter a <a> 1 +0000\n\nm`, /author line "nobody"/],
    ['two trees', `tree ${blobA}\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\ntree ${blobA}\n\nm`, /second or misplaced tree/],
  ])('refuses a commit with %s', (_name, text, message) => {
    expect(() => parseCommit(Buffer.from(text))).toThrow(message);
  });
});
