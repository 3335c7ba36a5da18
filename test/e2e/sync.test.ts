/**
 * End to end: the real CLI against the GitHub-compatible server; DEST compared with `git archive`.
 */
import { mkdir, readdir, readFile, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { blobRequests, createFixture, TOKEN, type Fixture } from '../support/fixture.js';

let fx: Fixture;

beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

async function writeVariedTree(fixture: Fixture): Promise<string> {
  const { repo } = fixture;
  await repo.write('README.md', '# hypervisor\n');
  await repo.write('empty', '');
  await repo.write('scripts/deploy.sh', '#!/bin/sh\necho deploy\n');
  await repo.chmod('scripts/deploy.sh', true);
  await repo.write('name with spaces.txt', 'spaces\n');
  await repo.write('ünïcødé/日本.nix', '{ }\n');
  await repo.write('windows.txt', 'line one\r\nline two\r\n');
  await repo.write('assets/firmware.bin', pseudoRandomBytes(2 * 1024 * 1024, 7));
  await repo.write('a/b/c/d/deep.nix', 'deep\n');
  await repo.symlink('current', 'hosts/alpha');
  await repo.symlink('dangling', '../outside/nowhere');
  await repo.write('hosts/alpha/configuration.nix', '{ alpha }\n');
  await repo.write('hosts/beta/configuration.nix', '{ beta }\n');
  return repo.commit('varied tree');
}

describe('hostsync sync', () => {
  it('makes a fresh DEST equal to git archive of the commit, then keeps it equal through edits, deletions, moves, mode and type changes', async () => {
    const first = await writeVariedTree(fx);
    const result = await fx.sync('--ref', 'main');
    expect(result['commit']).toBe(first);
    await fx.expectSameAsCommit(first);

    const { repo } = fx;
    await repo.write('README.md', '# hypervisor v2\n');
    await repo.remove('hosts/beta');
    await repo.move('assets/firmware.bin', 'assets/moved/firmware.bin');
    await repo.chmod('scripts/deploy.sh', false);
    await repo.remove('current');
    await repo.write('current/now-a-dir.nix', 'dir now\n'); // symlink → directory
    await repo.remove('a/b/c');
    await repo.write('a/b/c', 'file where a folder was\n'); // directory → file
    await repo.remove('windows.txt');
    await repo.symlink('windows.txt', 'README.md'); // file → symlink
    const second = await repo.commit('second');
    fx.server.resetLog();
    const update = await fx.sync('--ref', 'main');
    await fx.expectSameAsCommit(second);
    const changes = update['changes'] as Record<string, string[]>;
    expect(changes['modified']).toEqual(['README.md']);
    expect(changes['modeChanged']).toEqual(['scripts/deploy.sh']);
    expect(changes['typeChanged']).toEqual(expect.arrayContaining(['a/b/c', 'current', 'windows.txt']));
    expect(changes['deleted']).toEqual(expect.arrayContaining(['assets/firmware.bin', 'hosts/beta/configuration.nix', 'a/b/c/d/deep.nix']));
    expect(changes['added']).toEqual(expect.arrayContaining(['assets/moved/firmware.bin', 'current/now-a-dir.nix']));
    // The moved 2 MiB file is copied locally, never downloaded again.
    const firmwareSha = (await repo.git('rev-parse', `${second}:assets/moved/firmware.bin`)).trim();
    expect(blobRequests(fx.server).some((path) => path.includes(firmwareSha))).toBe(false);
    expect(update['bytesDownloaded']).toBeLessThan(1024);
  });

  /** API requests of the last run(s) in the server log. */
  const apiRequests = (): string[] => fx.server.requests.filter((r) => r.kind === 'api').map((r) => r.path);

  it.each(['rest', 'auto'] as const)('syncs only --path into DEST (transport %s)', async (transport) => {
    const commit = await writeVariedTree(fx);
    await fx.sync('--path', 'hosts', '--transport', transport);
    await fx.expectSameAsCommit(commit, 'hosts');
    await fx.repo.write('hosts/gamma/configuration.nix', '{ gamma }\n');
    await fx.repo.write('README.md', 'outside the path\n');
    const next = await fx.repo.commit('gamma');
    fx.server.resetLog();
    const update = await fx.sync('--path', 'hosts', '--transport', transport);
    await fx.expectSameAsCommit(next, 'hosts');
    expect((update['changes'] as Record<string, string[]>)['added']).toEqual(['gamma/configuration.nix']);
    if (transport === 'rest') expect(blobRequests(fx.server)).toHaveLength(1);
    else {
      expect(update['source']).toBe('wire');
      expect(apiRequests()).toEqual([expect.stringMatching(/\/commits\/HEAD$/)]); // the poll; tree and content came in one pack
    }
  });

  it.each(['rest', 'auto'] as const)('downloads only the ten changed blobs of a 150-file repository, within 15%% (+64 KiB) of their size on the wire (transport %s)', async (transport) => {
    for (let i = 0; i < 150; i++) await fx.repo.write(`modules/m${String(i).padStart(3, '0')}.nix`, `# module ${i}\n${'x'.repeat(200 + i * 13)}\n`);
    await fx.repo.commit('150 files');
    await fx.sync('--transport', transport);
    let changedBytes = 0;
    for (let i = 0; i < 10; i++) {
      const content = `# module ${i} edited\n${pseudoRandomBytes(3000 + i * 100, i).toString('base64')}\n`;
      changedBytes += Buffer.byteLength(content);
      await fx.repo.write(`modules/m${String(i * 7).padStart(3, '0')}.nix`, content);
    }
    const commit = await fx.repo.commit('ten edits');
    fx.server.resetLog();
    const result = await fx.sync('--transport', transport);
    await fx.expectSameAsCommit(commit);
    expect(result['bytesDownloaded']).toBe(changedBytes);
    if (transport === 'rest') expect(blobRequests(fx.server)).toHaveLength(10);
    else {
      expect(result['strategy']).toBe('pack');
      expect(apiRequests()).toHaveLength(1); // the ref: 1 quota point, nothing else
      expect(fx.server.requests.filter((r) => r.kind === 'git')).toHaveLength(1); // the fetch (the capabilities are remembered from the install)
    }
    const wire = fx.server.requests.reduce((sum, r) => sum + r.bytesSent, 0);
    expect(wire).toBeLessThanOrEqual(changedBytes * 1.15 + 64 * 1024);
  });

  it('polls an unchanged ref with one conditional request that costs no quota and downloads nothing', async () => {
    await writeVariedTree(fx);
    await fx.sync();
    fx.server.resetLog();
    const result = await fx.sync();
    expect(fx.server.requests).toHaveLength(1);
    expect(fx.server.requests[0]?.status).toBe(304);
    expect(fx.server.requests[0]?.quotaCost).toBe(0);
    expect(result['apiRequests']).toBe(1);
    expect(result['bytesDownloaded']).toBe(0);
    expect(result['pending']).toBe(false);
  });

  it('repairs drift in DEST on an unchanged poll without fetching the tree again', async () => {
    const commit = await writeVariedTree(fx);
    await fx.sync();
    await writeFile(join(fx.dest, 'README.md'), 'tampered\n');
    fx.server.resetLog();
    const result = await fx.sync();
    expect((result['changes'] as Record<string, string[]>)['modified']).toEqual(['README.md']);
    expect(fx.server.requests.filter((r) => r.path.includes('/git/trees/'))).toHaveLength(0);
    await fx.expectSameAsCommit(commit);
  });

  it('--check-only prints the plan, exits 3 and writes nothing, not even state', async () => {
    await writeVariedTree(fx);
    const result = await fx.run(['sync', '--check-only']);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/added +scripts\/deploy\.sh/);
    expect(result.stdout).toMatch(/would download \d+ blob\(s\)/);
    await expect(stat(fx.dest)).rejects.toThrow();
    await expect(stat(fx.stateDir)).rejects.toThrow();
    await fx.sync();
    const inSync = await fx.run(['sync', '--check-only']);
    expect(inSync.code).toBe(0);
  });

  it('keeps and reports unmanaged files, removes them with --prune, never touches preserved paths', async () => {
    const commit = await writeVariedTree(fx);
    await mkdir(join(fx.dest, 'hosts/alpha'), { recursive: true });
    await writeFile(join(fx.dest, 'hosts/alpha/hardware-configuration.nix'), 'generated on the host\n');
    await writeFile(join(fx.dest, 'local-notes.txt'), 'mine\n');
    const config = join(fx.tmp, 'config.json');
    await writeFile(config, JSON.stringify({ preserve: ['hosts/*/hardware-configuration.nix'] }));
    const first = await fx.sync('--config', config);
    expect(first['unmanaged']).toEqual(['local-notes.txt']);
    await fx.expectSameAsCommit(commit, undefined, fx.dest, ['local-notes.txt', 'hosts/alpha/hardware-configuration.nix']);
    await fx.sync('--config', config, '--prune');
    await expect(stat(join(fx.dest, 'local-notes.txt'))).rejects.toThrow();
    expect(await readFile(join(fx.dest, 'hosts/alpha/hardware-configuration.nix'), 'utf8')).toBe('generated on the host\n');
  });

  it('replaces a symlink planted in DEST instead of writing through it', async () => {
    await fx.repo.write('etc/app.conf', 'real\n');
    const commit = await fx.repo.commit('conf');
    const outside = join(fx.tmp, 'outside');
    await mkdir(outside);
    await mkdir(fx.dest, { recursive: true });
    await symlink(outside, join(fx.dest, 'etc'));
    await fx.sync();
    expect(await readdir(outside)).toEqual([]);
    expect((await lstat(join(fx.dest, 'etc'))).isDirectory()).toBe(true);
    await fx.expectSameAsCommit(commit);
  });

  it('skips submodules with a warning', async () => {
    await fx.repo.write('README.md', 'x\n');
    const sub = 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef';
    await fx.repo.git('update-index', '--add', '--cacheinfo', `160000,${sub},vendor/lib`);
    const commit = await fx.repo.git('commit', '-q', '-m', 'submodule').then(() => fx.repo.head());
    const result = await fx.run(['sync', '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/Skipping vendor\/lib: submodule/);
    await fx.expectSameAsCommit(commit, undefined, fx.dest, ['vendor']);
  });
});

describe('bad input', () => {
  const cases: [string, string[], RegExp][] = [
    ['no --repo', ['sync', '--dest', 'D'], /repo/i],
    ['malformed OWNER/NAME', ['sync', '--repo', 'acme', '--dest', 'D'], /Invalid repository 'acme'\. Expected format OWNER\/NAME/],
    ['unreadable config', ['sync', '--config', '/nonexistent/config.json'], /\/nonexistent\/config\.json/],
    ['unknown flag', ['sync', '--repo', 'a/b', '--dest', 'D', '--destt', 'x'], /Unknown option `--destt`/],
    ['bad concurrency', ['sync', '--repo', 'a/b', '--dest', 'D', '--concurrency', '0'], /concurrency/],
  ];
  it.each(cases)('%s: one clear line, exit 2, nothing written', async (_name, args, message) => {
    const state = join(fx.tmp, 'state-bad');
    const result = await fx.run([...args.map((a) => (a === 'D' ? join(fx.tmp, 'd') : a)), '--state-dir', state], { bare: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    await expect(stat(state)).rejects.toThrow();
    await expect(stat(join(fx.tmp, 'd'))).rejects.toThrow();
  });

  it('DEST that is a file: exit 2 naming it', async () => {
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('a');
    const file = join(fx.tmp, 'file');
    await writeFile(file, 'x');
    const result = await fx.run(['sync', '--repo', 'acme/hypervisor', '--dest', file, '--state-dir', join(fx.tmp, 's')], { bare: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file} exists and is not a directory`);
    await expect(stat(join(fx.tmp, 's'))).rejects.toThrow();
  });

  it('a bad token: exit 1, names where it came from, never its value', async () => {
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('a');
    const bad = 'ghp_wrongwrongwrongwrongwrongwrong0000';
    const result = await fx.run(['sync'], { env: { GITHUB_TOKEN: bad } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/GITHUB_TOKEN/);
    expect(result.stderr + result.stdout).not.toContain(bad);
    expect(result.stderr + result.stdout).not.toContain(TOKEN);
  });

  it('an unknown ref: exit 1 naming it, DEST untouched', async () => {
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('a');
    const result = await fx.run(['sync', '--ref', 'no-such-branch']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no-such-branch/);
    await expect(stat(fx.dest)).rejects.toThrow();
  });
});
