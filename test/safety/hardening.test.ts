/**
 * The defects a probe of the real CLI found (issue "Hardening"): each case failed on the code
 * before its fix and passes now. Runs in-process against the GitHub-compatible server; the cases
 * whose subject is the process (signals, SIGKILL) live in ./signals.test.ts.
 */
import { chmod, lstat, mkdir, readdir, readFile, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';
import { parseJson } from '../support/cli.js';
import { FAST_TIMING } from '../support/io.js';
import { mountTmpfs } from '../support/safety-helpers.js';
import { pseudoRandomBytes } from '../support/sample-content.js';

let fx: Fixture;
let cleanups: (() => Promise<unknown>)[] = [];
beforeEach(async () => {
  fx = await createFixture();
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await fx.close();
});

/** A small repository, synced once. */
async function installed(): Promise<string> {
  await fx.repo.write('flake.nix', '{ outputs = _: {}; }\n');
  await fx.repo.write('hosts/web/configuration.nix', '{ web }\n');
  await fx.repo.write('hosts/db/configuration.nix', '{ db }\n');
  const commit = await fx.repo.commit('A');
  await fx.sync();
  return commit;
}

const objectCount = async (stateDir: string): Promise<number> => {
  let count = 0;
  for (const prefix of await readdir(join(stateDir, 'objects')).catch(() => [] as string[])) {
    if (/^[0-9a-f]{2}$/.test(prefix)) count += (await readdir(join(stateDir, 'objects', prefix))).length;
  }
  return count;
};

describe('DEST and the state dir are compared as real paths, both ways', () => {
  it('a symlink to / as DEST is refused before anything is read (exit 2)', async () => {
    await installed();
    const link = join(fx.tmp, 'L');
    await symlink('/', link);
    const run = await fx.run(['sync', '--check-only', '--prune', '--dest', link, '--repo', 'acme/hypervisor', '--state-dir', fx.stateDir], { bare: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Refusing destination .*L \(really \/\): it is the root of the filesystem/);
    expect(run.stdout).toBe('');
  });

  it('DEST inside the state dir (its object store) is refused; the store keeps every object', async () => {
    await installed();
    const before = await objectCount(fx.stateDir);
    expect(before).toBeGreaterThan(0);
    const run = await fx.run(['sync', '--prune', '--dest', join(fx.stateDir, 'objects'), '--repo', 'acme/hypervisor', '--state-dir', fx.stateDir], { bare: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/it is inside the state directory/);
    expect(await objectCount(fx.stateDir)).toBe(before);
  });

  it('a state dir inside a symlinked DEST is refused; the state keeps its manifest and objects', async () => {
    await installed();
    const real = join(fx.tmp, 'real');
    await mkdir(real);
    const state = join(real, 'state');
    const link = join(fx.tmp, 'link');
    await symlink(real, link);
    const first = await fx.run(['sync', '--dest', join(fx.tmp, 'other'), '--repo', 'acme/hypervisor', '--state-dir', state], { bare: true });
    expect(first.code, first.stderr).toBe(0);
    const objects = await objectCount(state);
    const run = await fx.run(['sync', '--prune', '--dest', link, '--repo', 'acme/hypervisor', '--state-dir', state], { bare: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/the state directory .* is inside it/);
    expect(await objectCount(state)).toBe(objects);
    expect((await readdir(join(state, 'dests'))).length).toBe(1);
  });

  it('a system directory (/etc) with --prune is refused unless --allow-system-dest', async () => {
    await installed();
    const run = await fx.run(['sync', '--check-only', '--prune', '--dest', '/etc', '--repo', 'acme/hypervisor', '--state-dir', fx.stateDir], { bare: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/\/etc: it is a system directory, and with --prune it would delete everything in it.*--allow-system-dest/);
    const allowed = await fx.run(['sync', '--check-only', '--json', '--prune', '--allow-system-dest', '--dest', '/etc', '--repo', 'acme/hypervisor', '--state-dir', fx.stateDir], { bare: true });
    expect(allowed.code).toBe(3); // planned (and nothing written: --check-only)
    expect((parseJson(allowed)['changes'] as { deleted: string[] }).deleted).toContain('passwd');
  });
});

describe('content from the store is verified before it reaches DEST', () => {
  /** Damage the stored object of `path` at the applied commit. */
  async function rot(path: string): Promise<string> {
    const sha = await fx.repo.git('rev-parse', `HEAD:${path}`);
    const object = join(fx.stateDir, 'objects', sha.slice(0, 2), sha.slice(2));
    await writeFile(object, '{ tampered = true; }\n');
    return object;
  }

  it('a rotted object is never copied: after local drift the sync brings the real content again', async () => {
    await installed();
    await rot('flake.nix');
    await writeFile(join(fx.dest, 'flake.nix'), 'local drift\n');
    const result = await fx.sync();
    expect(result['changes']).toMatchObject({ modified: ['flake.nix'] });
    await fx.expectSameAsCommit(await fx.repo.head());
  });

  it('validate --fix converges: the rotted object is removed and fetched anew', async () => {
    await installed();
    await rot('flake.nix');
    await writeFile(join(fx.dest, 'flake.nix'), 'local drift\n');
    const fix = await fx.run(['validate', '--fix', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(fix.code, fix.stderr).toBe(0);
    await fx.expectSameAsCommit(await fx.repo.head());
    const again = await fx.run(['validate', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(parseJson(again)['ok']).toBe(true);
  });

  it('a rollback to a generation whose object rotted says which and how to fix it, DEST untouched', async () => {
    await installed();
    const first = await fx.repo.head();
    await fx.repo.write('flake.nix', '{ outputs = _: { v2 = 1; }; }\n');
    await fx.repo.commit('B');
    await fx.sync();
    const sha = await fx.repo.git('rev-parse', `${first}:flake.nix`);
    await writeFile(join(fx.stateDir, 'objects', sha.slice(0, 2), sha.slice(2)), 'rot\n');
    const rollback = await fx.run(['rollback', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toMatch(/lacks 1 file\(s\) of [0-9a-f]{12} \(e\.g\. flake\.nix\), or holds them damaged.*hostsync sync --ref/);
    await fx.expectSameAsCommit(await fx.repo.head());
  });
});

describe('a path longer than PATH_MAX cannot block the host', () => {
  it('such a commit is refused before anything is written, with a short message; the next commit applies', async () => {
    await installed();
    const long = Array.from({ length: 18 }, (_, i) => `${String(i).padStart(2, '0')}${'d'.repeat(240)}`).join('/');
    // git cannot check such a path out; the server answers the tree with it (GitHub's shape).
    const api = `${fx.server.apiUrl}/repos/acme/hypervisor`;
    const sha = await fx.repo.git('rev-parse', 'HEAD:flake.nix');
    const dirs = long.split('/');
    const items = dirs.map((_, i) => ({ path: dirs.slice(0, i + 1).join('/'), mode: '040000', type: 'tree', sha: 'e'.repeat(40), url: `${api}/git/trees/x` }));
    items.push({ path: `${long}/f`, mode: '100644', type: 'blob', sha, url: `${api}/git/blobs/${sha}` });
    await fx.repo.write('other.nix', 'b\n');
    await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => /\/git\/trees\//.test(r.path), times: 1, action: { status: 200, body: { sha: 'f'.repeat(40), url: `${api}/git/trees/f`, tree: items, truncated: false } } }];
    const run = await fx.run(['sync', '--transport', 'rest']); // the REST tree carries it (git's objects cannot hold a path git refuses to write)
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Refusing commit [0-9a-f]{12}: tree entry .* is \d+ bytes long, more than a path under DEST can be/);
    expect(run.stderr.length).toBeLessThan(1200); // the 4 KiB path is summarised
    expect(await readdir(join(fx.stateDir, 'dests', (await readdir(join(fx.stateDir, 'dests')))[0]!))).not.toContain('journal.json');
    const next = await fx.run(['sync']);
    expect(next.code, next.stderr).toBe(0);
    await fx.expectSameAsCommit(await fx.repo.head());
  });

  it('a journal naming such a path (left by an older version) is recovered past, not kept forever', async () => {
    const commit = await installed();
    const key = (await readdir(join(fx.stateDir, 'dests')))[0]!;
    const manifest = JSON.parse(await readFile(join(fx.stateDir, 'dests', key, 'manifest.json'), 'utf8')) as { entries: unknown[] };
    const long = Array.from({ length: 18 }, () => 'x'.repeat(250)).join('/');
    const journal = { version: 1, dest: fx.dest, startedAt: new Date().toISOString(), manifest, previous: manifest, ops: [{ path: long, before: { kind: 'absent' }, after: { kind: 'dir' } }] };
    await writeFile(join(fx.stateDir, 'dests', key, 'journal.json'), JSON.stringify(journal));
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run)['recovered']).toBe('undone');
    await fx.expectSameAsCommit(commit);
  });
});

describe('every transfer has a deadline', () => {
  it('a body trickling under lowSpeedLimit is abandoned naming the endpoint, and the whole run stops at transferTimeoutSec', async () => {
    const first = await installed();
    await fx.repo.write('big.bin', pseudoRandomBytes(64 * 1024, 7));
    await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => /\/git\/blobs\/|\/tarball\/|_codeload|\.git\//.test(r.path), action: { trickle: { bytes: 1, everyMs: 200 } } }];
    const started = Date.now();
    const run = await fx.run(['sync', '--transport', 'rest', '--low-speed-limit', '1000', '--low-speed-time-sec', '1', '--transfer-timeout-sec', '5']);
    expect(run.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    // Each slow body is named as it is given up on…
    expect(run.stderr).toMatch(/The response of http:\/\/127\.0\.0\.1:\d+\/repos\/acme\/hypervisor\/git\/blobs\/[0-9a-f]{40} arrived at \d+ bytes\/s over the last 1 s, under lowSpeedLimit \(1000 bytes\/s\)/);
    // …and the run as a whole ends at its deadline, DEST as before.
    expect(run.stderr).toMatch(/talked to 127\.0\.0\.1:\d+ for longer than transferTimeoutSec \(5 s\)\. It was checking or downloading content when the time ran out; nothing was applied/);
    await fx.expectSameAsCommit(first);
  }, 60_000);
});

describe('a state dir shared by destinations', () => {
  it("one destination's garbage collection never takes what another's run has downloaded but not applied", async () => {
    await installed();
    // Destination A: an update with several blobs; the last blob download is held back for a while.
    for (let i = 0; i < 6; i++) await fx.repo.write(`a/f${i}.nix`, `a ${i} ${'x'.repeat(200)}\n`);
    await fx.repo.commit('B');
    let held = 0;
    fx.server.faults = [{ match: (r) => /\/git\/blobs\//.test(r.path) && ++held === 6, times: 1, action: { delayMs: 2500 } }];
    const a = fx.run(['sync', '--json', '--transport', 'rest']);
    // Meanwhile destination B (same state dir) syncs, then collects garbage.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // Age every object so only pins (not the grace period) protect A's downloads.
    for (const prefix of await readdir(join(fx.stateDir, 'objects'))) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(join(fx.stateDir, 'objects', prefix))) await utimes(join(fx.stateDir, 'objects', prefix, name), new Date(0), new Date(0));
    }
    // …and forget when the store was last collected, so B's run collects it now.
    await rm(join(fx.stateDir, 'gc.json'), { force: true });
    const otherDest = join(fx.tmp, 'other');
    const b = await fx.run(['sync', '--dest', otherDest, '--repo', 'acme/hypervisor', '--state-dir', fx.stateDir, '--path', 'hosts/web'], { bare: true });
    expect(b.code, b.stderr).toBe(0);
    const result = await a;
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result)['strategy']).toBe('blobs'); // downloaded one by one, the last one held back
    await fx.expectSameAsCommit(await fx.repo.head());
  });
});

describe('drift too big to back up', () => {
  it('a 300 MiB sparse file at a managed path on a small state dir: replaced without a copy, with a warning', async () => {
    const mount = await mountTmpfs('32m', fx.tmp);
    cleanups.push(() => mount.release());
    if (!mount.mounted) return;
    const state = join(mount.dir, 'state');
    const args = ['--dest', fx.dest, '--repo', 'acme/hypervisor', '--state-dir', state];
    await fx.repo.write('disk.img', 'small\n');
    await fx.repo.commit('A');
    expect((await fx.run(['sync', ...args], { bare: true })).code).toBe(0);
    await fx.repo.write('disk.img', 'new\n');
    await fx.repo.commit('B');
    await truncate(join(fx.dest, 'disk.img'), 300 << 20);
    const run = await fx.run(['sync', ...args], { bare: true, env: { HOSTSYNC_BACKUP_LIMIT_MB: '64' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/disk\.img is 300\.0 MiB, over backupLimitMb \(64\.0 MiB\), and differs from what hostsync placed: it is replaced without a copy/);
    await fx.expectSameAsCommit(await fx.repo.head());
  });

  it('with a limit the state dir cannot hold, the failure names the full disk, not a changing file', async () => {
    const mount = await mountTmpfs('8m', fx.tmp);
    cleanups.push(() => mount.release());
    if (!mount.mounted) return;
    const state = join(mount.dir, 'state');
    const args = ['--dest', fx.dest, '--repo', 'acme/hypervisor', '--state-dir', state];
    await fx.repo.write('disk.img', 'small\n');
    const first = await fx.repo.commit('A');
    expect((await fx.run(['sync', ...args], { bare: true })).code).toBe(0);
    await fx.repo.write('disk.img', 'new\n');
    await fx.repo.commit('B');
    await writeFile(join(fx.dest, 'disk.img'), pseudoRandomBytes(16 << 20, 3));
    const run = await fx.run(['sync', ...args], { bare: true, env: { HOSTSYNC_BACKUP_LIMIT_MB: '1024' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Cannot keep a copy of .*disk\.img \(16\.0 MiB.*no space left on the device/);
    expect(run.stderr).not.toMatch(/changed while hostsync/);
    void first;
  });
});

describe('leftovers and damaged state', () => {
  it('partial objects and throwaway clones of a dead run are swept; a live run keeps its own', async () => {
    await installed();
    const tmp = join(fx.stateDir, 'objects', 'tmp');
    await mkdir(tmp, { recursive: true });
    const dead = `${'a'.repeat(40)}.999999-1.abcd`;
    const live = `${'b'.repeat(40)}.${process.pid}-${await startTime(process.pid)}.abcd`;
    await writeFile(join(tmp, dead), 'partial');
    await writeFile(join(tmp, live), 'in flight');
    await mkdir(join(fx.stateDir, 'tmp', 'clone-999999-1-XyZ123', 'objects'), { recursive: true });
    await fx.repo.write('x.nix', 'x\n');
    await fx.repo.commit('B');
    const run = await fx.run(['sync', '--verbose']);
    expect(run.code, run.stderr).toBe(0);
    expect(await readdir(tmp)).toEqual([live]);
    expect(await readdir(join(fx.stateDir, 'tmp'))).toEqual([]);
  });

  it('a truncated manifest.json heals from the history with a warning', async () => {
    await installed();
    const key = (await readdir(join(fx.stateDir, 'dests')))[0]!;
    const file = join(fx.stateDir, 'dests', key, 'manifest.json');
    await writeFile(file, (await readFile(file, 'utf8')).slice(0, 40));
    await fx.repo.remove('hosts/db');
    await fx.repo.commit('B');
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/manifest .* is unreadable.*Using generation 1/);
    await fx.expectSameAsCommit(await fx.repo.head()); // hosts/db deleted: the generation says hostsync placed it
  });
});

describe('names are bytes', () => {
  it('a committed name that is not UTF-8 is skipped with a warning, never written as U+FFFD', async () => {
    await fx.repo.write('ok.nix', 'ok\n');
    await writeFile(Buffer.concat([Buffer.from(`${fx.repo.dir}/`), Buffer.from([0x62, 0xff, 0xfe])]), 'bytes\n');
    const commit = await fx.repo.commit('A');
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Skipping b\uFFFD\uFFFD: its name is not valid UTF-8/);
    const names = await readdir(fx.dest, { encoding: 'buffer' });
    expect(names.map((name) => name.toString('hex')).sort()).toEqual([Buffer.from('ok.nix').toString('hex')]);
    void commit;
  });

  it('a stray non-UTF-8 file in DEST is reported as unmanaged, not fatal', async () => {
    await installed();
    await writeFile(Buffer.concat([Buffer.from(`${fx.dest}/`), Buffer.from([0x6a, 0xff])]), 'junk\n');
    await fx.repo.write('x.nix', 'x\n');
    await fx.repo.commit('B');
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run)['unmanaged']).toEqual(['j\\xff']);
  });
});

describe('the smaller items', () => {
  it('command checks of validate do not inherit the token', async () => {
    await installed();
    const config = join(fx.tmp, 'config.json');
    await writeFile(config, JSON.stringify({ dest: fx.dest, stateDir: fx.stateDir, checks: [{ type: 'command', command: 'test -z "$GITHUB_TOKEN$GH_TOKEN"' }] }));
    const run = await fx.run(['validate', '--json', '--config', config], { bare: true, env: { GH_TOKEN: TOKEN } });
    const checks = parseJson(run)['checks'] as { id: string; status: string }[];
    expect(checks.filter((check) => check.id.startsWith('command'))).toEqual([expect.objectContaining({ status: 'pass' })]);
  });

  it('a managed file set to mode 0000 fails validate, and the next sync puts 0644 back', async () => {
    await installed();
    await chmod(join(fx.dest, 'flake.nix'), 0o000);
    const validate = await fx.run(['validate', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(validate.code).toBe(1);
    expect(validate.stdout).toMatch(/flake\.nix \(mode 0000, expected 0644\)/);
    const result = await fx.sync();
    expect(result['changes']).toMatchObject({ modeChanged: ['flake.nix'] });
    expect((await stat(join(fx.dest, 'flake.nix'))).mode & 0o7777).toBe(0o644);
  });

  it('a submodule (gitlink) leaves an empty folder, as git checks it out', async () => {
    await fx.repo.write('a.nix', 'a\n');
    await fx.repo.git('update-index', '--add', '--cacheinfo', `160000,${'1'.repeat(40)},vendor/lib`);
    await fx.repo.git('commit', '-qm', 'with submodule');
    const result = await fx.sync();
    expect(result['skipped']).toEqual([expect.objectContaining({ path: 'vendor/lib' })]);
    expect((await lstat(join(fx.dest, 'vendor/lib'))).isDirectory()).toBe(true);
    expect(await readdir(join(fx.dest, 'vendor/lib'))).toEqual([]);
  });

  it('a 403 rate limit without x-ratelimit-reset waits a minute (not "1970", not at once)', async () => {
    await installed();
    await fx.repo.write('x.nix', 'x\n');
    await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => /\/commits\//.test(r.path), times: 1, action: { status: 403, body: { message: 'API rate limit exceeded for user ID 1.' }, headers: { 'x-ratelimit-remaining': '0' } } }];
    const waits: number[] = [];
    const run = await fx.run(['sync'], { timing: { ...FAST_TIMING, sleep: async (ms) => void waits.push(ms) } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/1970/);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(59_000);
  });

  it('blobs answering 404 after a good tree are named as such, not "Repository not found"', async () => {
    await installed();
    await fx.repo.write('x.nix', 'x\n');
    await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => /\/git\/blobs\/|\/tarball\/|\.git\//.test(r.path), action: { status: 404 } }];
    const run = await fx.run(['sync']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/GitHub answered 404 for blob [0-9a-f]{40} \(x\.nix\)|GitHub answered 404 for blob/);
    expect(run.stderr).not.toMatch(/Repository acme\/hypervisor not found/);
  });
});

/** The kernel start time of a process, as its temp files are tagged. */
async function startTime(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? '0';
}
