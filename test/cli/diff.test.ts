/**
 * `hostsync diff`, end to end in-process: what a sync would change, read from the test server as a
 * sync reads it, printed exactly as `git diff` prints the same change between the two commits
 * (text, a deleted and a new file, a mode change, a symlink target, a binary file); `--drift`
 * shows hand edits against the applied commit with the server gone; big files are summarised;
 * exit 0 when nothing differs, 3 when something does; DEST and the state stay as they were.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, symlink, unlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hunks, isText } from '../../src/pipeline/diff.js';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;
let v1: string;
beforeEach(async () => {
  fx = await createFixture();
  await fx.repo.write('a.txt', 'one\ntwo\nthree\nfour\nfive\nsix\nseven\n');
  await fx.repo.write('keep/old.txt', 'to be deleted\n');
  await fx.repo.write('run.sh', '#!/bin/sh\necho hi\n');
  await fx.repo.symlink('current', 'a.txt');
  await fx.repo.write('blob.bin', Buffer.from([0, 1, 2, 3, 0, 255]));
  await fx.repo.write('no-newline.txt', 'a\nb');
  v1 = await fx.repo.commit('v1');
  expect((await fx.run(['sync'])).code).toBe(0);
});
afterEach(async () => {
  await fx.close();
});

/** `git diff` between two commits, as a person would type it: a/ b/ prefixes, 7-digit abbreviations, no renames. */
const gitDiff = (from: string, to: string): Promise<string> =>
  fx.repo.git('-c', 'core.abbrev=7', 'diff', '--no-color', '--no-ext-diff', '--no-renames', '--src-prefix=a/', '--dst-prefix=b/', from, to).then((text) => `${text}\n`);

/** Every file under a directory with its content: to show nothing was written. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[join(entry.parentPath, entry.name)] = (await readFile(join(entry.parentPath, entry.name))).toString('base64');
  }
  return out;
}

describe('hostsync diff', () => {
  it('prints what a sync would change exactly as git diff does, writes nothing, and exits 3; 0 once in sync', async () => {
    await fx.repo.write('a.txt', 'one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\n');
    await fx.repo.remove('keep/old.txt');
    await fx.repo.write('new/file.txt', 'fresh\n');
    await fx.repo.chmod('run.sh', true);
    await fx.repo.remove('current');
    await fx.repo.symlink('current', 'new/file.txt');
    await fx.repo.write('blob.bin', Buffer.from([0, 9, 9, 9]));
    await fx.repo.write('no-newline.txt', 'a\nc');
    const v2 = await fx.repo.commit('v2');
    const before = await snapshot(fx.dest);
    const manifest = await snapshot(fx.stateDir).then((files) => Object.entries(files).filter(([name]) => name.endsWith('manifest.json')));

    const result = await fx.run(['diff']);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toBe(await gitDiff(v1, v2));
    expect(result.stderr).toMatch(new RegExp(`^info: pending: 7 files differ between ${fx.dest} and acme/hypervisor@HEAD ${v2.slice(0, 12)}$`, 'm'));
    expect(await snapshot(fx.dest)).toEqual(before);
    expect(Object.entries(await snapshot(fx.stateDir)).filter(([name]) => name.endsWith('manifest.json'))).toEqual(manifest);

    expect((await fx.run(['sync'])).code).toBe(0);
    const clean = await fx.run(['diff']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe('');
    expect(clean.stderr).toMatch(/^info: in sync: /m);
  });

  it('--drift shows hand edits against the applied commit, offline, as git diff shows the same edits', async () => {
    await writeFile(join(fx.dest, 'a.txt'), 'one\ntwo\nthree\nfour\nfive\nsix\nseven\nedited by hand\n');
    await rm(join(fx.dest, 'keep', 'old.txt'));
    await chmod(join(fx.dest, 'run.sh'), 0o755);
    await unlink(join(fx.dest, 'current'));
    await symlink('run.sh', join(fx.dest, 'current'));
    await writeFile(join(fx.dest, 'stray.txt'), 'not managed\n');
    // The same edits as a commit, for git to diff.
    await fx.repo.write('a.txt', 'one\ntwo\nthree\nfour\nfive\nsix\nseven\nedited by hand\n');
    await fx.repo.remove('keep/old.txt');
    await fx.repo.chmod('run.sh', true);
    await fx.repo.remove('current');
    await fx.repo.symlink('current', 'run.sh');
    const edited = await fx.repo.commit('the hand edits');
    await fx.server.close(); // offline

    const result = await fx.run(['diff', '--drift', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toBe(await gitDiff(v1, edited));
    expect(result.stderr).toMatch(/^info: drift: 4 files differ in .* as applied; 1 unmanaged path\(s\) kept/m);
    const json = await fx.run(['diff', '--drift', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    const document = JSON.parse(json.stdout) as { format: number; command: string; mode: string; files: { path: string; status: string; content: string }[]; unmanaged: string[] };
    expect(document).toMatchObject({ format: 1, command: 'diff', ok: true, exitCode: 3, mode: 'drift', unmanaged: ['stray.txt'] });
    expect(document.files.map((file) => `${file.status} ${file.path} ${file.content}`)).toEqual([
      'modified a.txt text',
      'modified current text',
      'deleted keep/old.txt text',
      'modeChanged run.sh mode',
    ]);
  });

  it('summarises files too big to show', async () => {
    await fx.repo.write('big.bin', randomBytes(2 * 1024 * 1024).toString('hex').slice(0, 2 * 1024 * 1024));
    await fx.repo.commit('big');
    const result = await fx.run(['diff']);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/^new file mode 100644\nindex 0000000\.\.[0-9a-f]{7}\n# content not shown: nothing → 2\.0 MiB \(over 1\.0 MiB; compare the files directly\)$/m);
  });

  it('--drift before the first sync says what to run', async () => {
    const result = await fx.run(['diff', '--drift', '--dest', join(fx.tmp, 'elsewhere'), '--state-dir', fx.stateDir], { bare: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Nothing was ever applied to .*elsewhere.*Run 'hostsync diff' to see what a sync would place\./);
  });
});

describe('pure parts', () => {
  it.each([
    ['', 'a\n', ['@@ -0,0 +1 @@', '+a']],
    ['a\n', '', ['@@ -1 +0,0 @@', '-a']],
    ['a\nb', 'a\nc', ['@@ -1,2 +1,2 @@', ' a', '-b', '\\ No newline at end of file', '+c', '\\ No newline at end of file']],
    ['same\n', 'same\n', []],
    // git's "function name": the nearest line above the hunk that starts with a letter.
    ['int main\n  a\n  b\n  c\n  d\n', 'int main\n  a\n  b\n  c\n  D\n', ['@@ -2,4 +2,4 @@ int main', '   a', '   b', '   c', '-  d', '+  D']],
  ])('hunks(%j, %j)', (before, after, expected) => {
    expect(hunks(before, after)).toEqual(expected);
  });

  it.each([
    [Buffer.from('plain text\n'), true],
    [Buffer.from([0x61, 0, 0x62]), false],
    [Buffer.from([0xff, 0xfe, 0x41]), false],
    [Buffer.from('ünïcødé\n'), true],
  ])('isText(%j) = %s', (data, text) => expect(isText(data)).toBe(text));
});
