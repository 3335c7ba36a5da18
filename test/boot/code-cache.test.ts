/**
 * The CLI starts from its bundle with a V8 code cache (src/boot/code-cache.ts): a run without a usable
 * cache writes one at exit, the next run uses it; a cache V8 rejects (damaged, another Node) is
 * written anew; a directory others may write, a symlink, or a file of another user is never used.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, cp, link, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheFileName, codeCacheDir, isPrivateDir } from '../../src/boot/code-cache.js';
import { BIN } from '../support/cli.js';

const run = promisify(execFile);
const LOADER = fileURLToPath(new URL('../../dist/boot/code-cache.js', import.meta.url));

let tmp: string;
let bundle: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hostsync-code-cache-'));
  bundle = join(tmp, 'bundle.cjs');
  // A stand-in for dist/hostsync.cjs: CommonJS that starts itself and uses require.
  await writeFile(bundle, `#!/usr/bin/env node\nconst { basename } = require('node:path');\nprocess.stdout.write('ran ' + basename(__filename) + ' ' + process.argv[2] + '\\n');\n`);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** One process that runs the stand-in bundle through the loader; what it printed. */
async function start(env: Record<string, string>): Promise<{ ran: string; outcome: string }> {
  // \`node -e\` has no script in argv: put one there, as \`node bin/hostsync.js sync\` has.
  const script = `import { runBundle } from ${JSON.stringify(LOADER)}; process.argv.splice(1, 0, 'driver'); const outcome = runBundle(${JSON.stringify(bundle)}, process.argv); process.stdout.write(outcome + '\\n');`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, 'sync'], { env: { PATH: process.env['PATH'] ?? '', HOME: tmp, ...env } });
  const [ran = '', outcome = ''] = stdout.trim().split('\n');
  return { ran, outcome };
}

const cacheFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.endsWith('.v8cache'));

describe('the code cache', () => {
  it('is written by the first run (0600, in a 0700 directory) and used by the next; a damaged one is written anew', async () => {
    const dir = join(tmp, 'cache');
    expect(await start({ CACHE_DIRECTORY: dir })).toEqual({ ran: 'ran bundle.cjs sync', outcome: 'written' });
    const [file] = await cacheFiles(dir);
    expect(file).toMatch(/^hostsync-sync-[0-9a-f]{32}\.v8cache$/);
    expect((await stat(join(dir, file!))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await start({ CACHE_DIRECTORY: dir })).toEqual({ ran: 'ran bundle.cjs sync', outcome: 'used' });

    await writeFile(join(dir, file!), 'not a V8 code cache');
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('used');
  });

  it('damaged cache data (zeroed blocks after a power cut, a flipped byte) is no cache, never a crash', async () => {
    const dir = join(tmp, 'damaged');
    const env = { PATH: process.env['PATH'] ?? '', HOME: tmp, CACHE_DIRECTORY: dir };
    // The real CLI: V8 does not check its cache's bytes, so damaged data would crash it (SIGSEGV).
    const first = await run(process.execPath, [BIN, 'help', 'sync'], { env });
    const [name] = await cacheFiles(dir);
    const file = join(dir, name!);
    const good = await readFile(file);
    const zeroed = Buffer.from(good);
    zeroed.fill(0, zeroed.length >> 1);
    await writeFile(file, zeroed);
    const afterZeroed = await run(process.execPath, [BIN, 'help', 'sync'], { env });
    expect(afterZeroed.stdout).toBe(first.stdout);
    const flipped = await readFile(file); // written anew by the run above
    expect(flipped.equals(zeroed)).toBe(false);
    flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] ?? 0) ^ 0xff;
    await writeFile(file, flipped);
    const afterFlip = await run(process.execPath, [BIN, 'help', 'sync'], { env });
    expect(afterFlip.stdout).toBe(first.stdout);
  });

  it('is not used in a directory others may write, through a symlink, or from a file of another user', async () => {
    const open = join(tmp, 'open');
    await mkdir(open, { mode: 0o777 });
    await chmod(open, 0o777);
    expect(await start({ CACHE_DIRECTORY: open })).toEqual({ ran: 'ran bundle.cjs sync', outcome: 'unsafe' });
    expect(await cacheFiles(open)).toEqual([]);

    const real = join(tmp, 'real');
    await mkdir(real, { mode: 0o700 });
    await symlink(real, join(tmp, 'link'));
    expect((await start({ CACHE_DIRECTORY: join(tmp, 'link') })).outcome).toBe('unsafe');

    if (process.getuid?.() === 0) {
      const dir = join(tmp, 'foreign');
      expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
      const [file] = await cacheFiles(dir);
      await chown(join(dir, file!), 65534, 65534);
      expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    }
  });

  it('is off with HOSTSYNC_CODE_CACHE=0, and the run still happens', async () => {
    expect(await start({ HOSTSYNC_CODE_CACHE: '0', CACHE_DIRECTORY: join(tmp, 'unused') })).toEqual({ ran: 'ran bundle.cjs sync', outcome: 'off' });
  });

  it('the real CLI: a cache per command, and runs with and without it agree', async () => {
    const dir = join(tmp, 'cli');
    const env = { PATH: process.env['PATH'] ?? '', HOME: tmp, CACHE_DIRECTORY: dir };
    const first = await run(process.execPath, [BIN, '--version'], { env });
    expect(await cacheFiles(dir)).toHaveLength(1);
    const second = await run(process.execPath, [BIN, '--version'], { env });
    const none = await run(process.execPath, [BIN, '--version'], { env: { ...env, HOSTSYNC_CODE_CACHE: 'off' } });
    expect(second.stdout).toBe(first.stdout);
    expect(none.stdout).toBe(first.stdout);
    await run(process.execPath, [BIN, 'help'], { env });
    expect(await cacheFiles(dir)).toHaveLength(2);
  });
});

describe('codeCacheDir and cacheFileName', () => {
  it('follows systemd, then root, then XDG', () => {
    expect(codeCacheDir({ CACHE_DIRECTORY: '/var/cache/hostsync:/var/cache/other' }, 1000, '/home/a')).toBe('/var/cache/hostsync');
    expect(codeCacheDir({}, 0, '/root')).toBe('/var/cache/hostsync');
    expect(codeCacheDir({ XDG_CACHE_HOME: '/x/cache' }, 1000, '/home/a')).toBe('/x/cache/hostsync');
    expect(codeCacheDir({ XDG_CACHE_HOME: 'relative' }, 1000, '/home/a')).toBe('/home/a/.cache/hostsync');
    expect(codeCacheDir({ HOSTSYNC_CODE_CACHE: 'off' }, 0, '/root')).toBeUndefined();
  });

  it('names the bundle file (any write moves its ctime) and the command', () => {
    const file = { dev: 1, ino: 2, size: 3, mtimeMs: 4, ctimeMs: 5 };
    expect(cacheFileName(file, 'sync')).not.toBe(cacheFileName({ ...file, ctimeMs: 6 }, 'sync'));
    expect(cacheFileName(file, 'sync')).not.toBe(cacheFileName({ ...file, ino: 7 }, 'sync'));
    expect(cacheFileName(file, 'sync')).not.toBe(cacheFileName(file, 'validate'));
    expect(cacheFileName(file, '../../etc/passwd')).toMatch(/^hostsync-other-/);
  });

  it('a rebuilt bundle never meets the old cache; a cache unused for 30 days goes when another is written, one in use is kept', async () => {
    const dir = join(tmp, 'rebuilt');
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('used');
    const [old] = await cacheFiles(dir);
    // Used two days ago: this run touches it.
    const twoDaysAgo = (Date.now() - 2 * 86_400_000) / 1000;
    await utimes(join(dir, old!), twoDaysAgo, twoDaysAgo);
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('used');
    expect((await stat(join(dir, old!))).mtimeMs).toBeGreaterThan(Date.now() - 60_000);

    await writeFile(bundle, (await readFile(bundle, 'utf8')).replace("'ran '", "'RAN '"));
    expect(await start({ CACHE_DIRECTORY: dir })).toEqual({ ran: 'RAN bundle.cjs sync', outcome: 'written' });
    expect(await cacheFiles(dir)).toHaveLength(2); // another install may still use the old one
    const longAgo = (Date.now() - 31 * 86_400_000) / 1000;
    await utimes(join(dir, old!), longAgo, longAgo);
    await writeFile(join(dir, 'hostsync-sync-0123.v8cache.999.tmp'), 'left by a killed run');
    await utimes(join(dir, 'hostsync-sync-0123.v8cache.999.tmp'), longAgo, longAgo);
    await writeFile(join(dir, 'hostsync-dev-update-0123456789abcdef0123456789abcdef.v8cache'), 'another command');
    await utimes(join(dir, 'hostsync-dev-update-0123456789abcdef0123456789abcdef.v8cache'), longAgo, longAgo);
    await writeFile(bundle, (await readFile(bundle, 'utf8')).replace("'RAN '", "'ran '"));
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    const left = await readdir(dir);
    expect(left).not.toContain(old);
    expect(left).not.toContain('hostsync-sync-0123.v8cache.999.tmp');
    expect(left).toContain('hostsync-dev-update-0123456789abcdef0123456789abcdef.v8cache'); // not this command's
  });

  it('a cache file that is a symlink, has a second name, or others may write is not used', async () => {
    const dir = join(tmp, 'files');
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    const [name] = await cacheFiles(dir);
    const file = join(dir, name!);
    const real = join(tmp, 'real-cache');
    await rename(file, real);
    await symlink(real, file);
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    await link(file, join(tmp, 'second-name'));
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    await rm(join(tmp, 'second-name'));
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('used');
    await chmod(file, 0o620);
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('written');
    expect((await start({ CACHE_DIRECTORY: dir })).outcome).toBe('used');
  });

  it('bin/hostsync.js without its bundle starts the per-file build', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const copy = join(tmp, 'install');
    await mkdir(join(copy, 'bin'), { recursive: true });
    await cp(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
    await rm(join(copy, 'dist', 'hostsync.cjs'));
    await cp(join(root, 'bin', 'hostsync.js'), join(copy, 'bin', 'hostsync.js'));
    await cp(join(root, 'package.json'), join(copy, 'package.json'));
    await symlink(join(root, 'node_modules'), join(copy, 'node_modules'));
    const { stdout } = await run(process.execPath, [join(copy, 'bin', 'hostsync.js'), '--version'], { env: { PATH: process.env['PATH'] ?? '', HOME: tmp, CACHE_DIRECTORY: join(tmp, 'install-cache') } });
    expect(stdout).toMatch(/^hostsync\/\d+\.\d+\.\d+ /);
    expect(await cacheFiles(join(tmp, 'install-cache')).catch(() => [])).toEqual([]); // no bundle, no cache
  });

  it('an unreadable bundle runs nothing and says so (bin/hostsync.js then starts the per-file build)', async () => {
    const script = `import { runBundle } from ${JSON.stringify(LOADER)}; process.stdout.write(runBundle(${JSON.stringify(join(tmp, 'missing.cjs'))}, process.argv) + '\\n');`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env['PATH'] ?? '', HOME: tmp, CACHE_DIRECTORY: join(tmp, 'cache') } });
    expect(stdout).toBe('unreadable\n');
  });

  it('isPrivateDir refuses a group-writable directory', async () => {
    const dir = join(tmp, 'group');
    await mkdir(dir, { mode: 0o770 });
    await chmod(dir, 0o770);
    expect(isPrivateDir(dir, process.getuid?.() ?? -1)).toBe(false);
    await chmod(dir, 0o750);
    expect(isPrivateDir(dir, process.getuid?.() ?? -1)).toBe(true);
  });
});
