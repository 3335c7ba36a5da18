/**
 * The single executable (scripts/build-binary.ts): built once for this file, then run with an
 * empty environment and a PATH without node — and, as root, in a chroot holding nothing but the
 * executable and the C libraries it links — syncing a real repository from the GitHub-compatible
 * server. Skipped, saying why, only when this node cannot make single executables.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildBinary, seaSupport } from '../../scripts/build-binary.js';
import { VERSION } from '../../src/version.js';
import { parseExposition } from '../support/prometheus.js';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';
import { jsonOf, runBinary, type BinaryResult } from './run.js';

const support = await seaSupport();
if (!support.ok) process.stderr.write(`test/binary: skipping the single-executable tests: ${support.reason}\n`);

const REPO = 'acme/hypervisor';
const chroot = '/usr/sbin/chroot';
const exists = (file: string): Promise<boolean> => stat(file).then(() => true, () => false);
/** chroot needs root; ldd lists the libraries to copy in. */
const canChroot = process.getuid?.() === 0 && (await exists(chroot)) && (await exists('/usr/bin/ldd'));

describe.skipIf(!support.ok)('single executable', () => {
  let work: string;
  let binary: string;
  /** A PATH with no node on it: an empty directory. */
  let emptyPath: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'hostsync-binary-'));
    emptyPath = join(work, 'empty-bin');
    await mkdir(emptyPath);
    binary = (await buildBinary({ out: join(work, 'hostsync') })).path;
  }, 120_000);
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  let fx: Fixture;
  beforeEach(async () => {
    fx = await createFixture();
    await fx.server.addRepo(REPO, fx.repo.dir);
  });
  afterEach(async () => {
    await fx.close();
  });

  /**
   * The environment of a bare host: PATH without node, the two settings the run needs, and the code
   * cache in the test's folder (as root it would be /var/cache/hostsync: not a test's to write).
   */
  function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
    return { PATH: emptyPath, GITHUB_API_URL: fx.server.apiUrl, GITHUB_TOKEN: TOKEN, CACHE_DIRECTORY: join(work, 'cache'), ...extra };
  }

  async function writeTree(): Promise<string> {
    await fx.repo.write('README.md', '# hypervisor\n');
    await fx.repo.write('scripts/deploy.sh', '#!/bin/sh\necho deploy\n');
    await fx.repo.chmod('scripts/deploy.sh', true);
    await fx.repo.write('hosts/alpha/configuration.nix', '{ alpha }\n');
    await fx.repo.write('firmware.bin', Buffer.alloc(300 * 1024, 7));
    await fx.repo.symlink('current', 'hosts/alpha');
    return fx.repo.commit('tree');
  }

  function expectOk(result: BinaryResult): void {
    if (result.code !== 0) throw new Error(`exit ${result.code} (${result.signal ?? 'no signal'}):\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }

  it('is one executable file that starts with an empty environment', async () => {
    const info = await stat(binary);
    expect(info.isFile()).toBe(true);
    expect(info.mode & 0o111).toBe(0o111);
    const nodes = await readdir(emptyPath);
    expect(nodes).toEqual([]); // nothing on PATH, node least of all
    // Nothing but where the code cache goes (as root /var/cache/hostsync otherwise: not a test's to write).
    const version = await runBinary(binary, ['--version'], { cwd: work, env: { CACHE_DIRECTORY: join(work, 'cache') } });
    expectOk(version);
    expect(version.stdout).toMatch(new RegExp(`^hostsync/${VERSION.replace(/\./g, '\\.')} `));
    expect(version.stderr).toBe(''); // no ExperimentalWarning about single executables
    const help = await runBinary(binary, ['sync', '--help'], { cwd: work, env: { CACHE_DIRECTORY: join(work, 'cache') } });
    expectOk(help);
    expect(help.stdout).toContain('--check-only');
  });

  it('reports usage errors like the node CLI: one line, exit 2', async () => {
    const result = await runBinary(binary, ['frobnicate'], { cwd: work, env: { CACHE_DIRECTORY: join(work, 'cache') } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("hostsync: Unknown command 'frobnicate'. Run `hostsync --help` for the list.\n");
  });

  it('syncs a repository end to end, then finds it in sync, with nothing but the executable', async () => {
    const commit = await writeTree();
    const args = ['sync', '--json', '--repo', REPO, '--ref', 'main', '--dest', fx.dest, '--state-dir', fx.stateDir];
    const first = await runBinary(binary, args, { env: bareEnv(), cwd: fx.tmp });
    expectOk(first);
    const json = jsonOf(first);
    expect(json['commit']).toBe(commit);
    expect(json['blobsDownloaded']).toBe(5); // four files and a symlink
    await fx.expectSameAsCommit(commit);

    await fx.repo.write('README.md', '# hypervisor v2\n');
    const next = await fx.repo.commit('v2');
    // Human output on a pipe: plain, no ANSI.
    const second = await runBinary(binary, args.filter((a) => a !== '--json'), { env: bareEnv(), cwd: fx.tmp });
    expectOk(second);
    expect(second.stdout).toContain(`updated ${fx.dest}`);
    expect(second.stdout + second.stderr).not.toMatch(/\x1b/);
    await fx.expectSameAsCommit(next);

    const third = await runBinary(binary, args, { env: bareEnv(), cwd: fx.tmp });
    expectOk(third);
    expect(jsonOf(third)['blobsDownloaded']).toBe(0);
    // The bundle inside ran with the run-time code cache (src/boot/sea-entry.ts): one for `sync`, 0600.
    const caches = (await readdir(join(work, 'cache'))).filter((name) => name.startsWith('hostsync-sync-'));
    expect(caches).toHaveLength(1);
    expect((await stat(join(work, 'cache', caches[0]!))).mode & 0o777).toBe(0o600);
  });

  it('writes textfile metrics, and on failure keeps the last success time', async () => {
    const commit = await writeTree();
    const metrics = join(fx.tmp, 'hostsync.prom');
    const args = ['sync', '--repo', REPO, '--dest', fx.dest, '--state-dir', fx.stateDir, '--metrics-file', metrics];
    expectOk(await runBinary(binary, args, { env: bareEnv(), cwd: fx.tmp }));
    const ok = parseExposition(await readFile(metrics, 'utf8'), { allowTimestamps: false }).samples;
    expect(ok.find((s) => s.name === 'hostsync_applied_commit_info')?.labels['commit']).toBe(commit);
    const success = ok.find((s) => s.name === 'hostsync_last_success_timestamp_seconds')!.value;
    // A ref that does not exist fails the run.
    const failed = await runBinary(binary, [...args, '--ref', 'no-such-branch'], { env: bareEnv(), cwd: fx.tmp });
    expect(failed.code).toBe(1);
    const after = parseExposition(await readFile(metrics, 'utf8'), { allowTimestamps: false }).samples;
    expect(after.find((s) => s.name === 'hostsync_last_run_outcome' && s.labels['outcome'] === 'failure')?.value).toBe(1);
    expect(after.find((s) => s.name === 'hostsync_last_success_timestamp_seconds')?.value).toBe(success);
    expect(after.find((s) => s.name === 'hostsync_applied_commit_info')?.labels['commit']).toBe(commit);
  });

  it.skipIf(!canChroot)('runs in a chroot that holds only the executable and the C libraries it links', async () => {
    const commit = await writeTree();
    const root = join(fx.tmp, 'root');
    await mkdir(join(root, 'etc'), { recursive: true });
    await copyFile(binary, join(root, 'hostsync'));
    const { stdout } = await promisify(execFile)('/usr/bin/ldd', [binary]);
    for (const lib of stdout.match(/\/\S+/g) ?? []) {
      await mkdir(join(root, dirname(lib)), { recursive: true });
      await copyFile(lib, join(root, lib));
    }
    // A minimal system's account database: os.homedir() needs HOME or this.
    await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/:/nonexistent\n');
    const files = await readdir(root, { recursive: true });
    expect(files.some((f) => /node/.test(f))).toBe(false);
    const result = await runBinary('/hostsync', ['sync', '--json', '--repo', REPO, '--dest', '/dest', '--state-dir', '/state'], {
      via: [chroot, root],
      env: { GITHUB_API_URL: fx.server.apiUrl, GITHUB_TOKEN: TOKEN },
    });
    expectOk(result);
    expect(jsonOf(result)['commit']).toBe(commit);
    await fx.expectSameAsCommit(commit, undefined, join(root, 'dest'));
  });
});
