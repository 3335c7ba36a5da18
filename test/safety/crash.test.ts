/**
 * Crash points. A 2,000-file repository: commit A is synced, commit B changes ~1,250 paths (edits,
 * deletions, additions, mode changes, dir → file, file → symlink, symlink → dir). The real CLI
 * applying B is killed with SIGKILL at many points — during the download (before the journal
 * exists), and 0…1280 ms after the journal appears — and once more in the middle of a recovery.
 * Then hostsync runs with the API out of reach (a refused port, or a server that refuses every
 * request and shows no tree or blob was asked for): recovery runs before any network, so DEST must be
 * exactly A or exactly B (compared with `git archive` of both), with the manifest naming the same
 * commit, no journal and no temp file left; a sync with the server back must converge to B.
 *
 * DEST and the state dir live on a tmpfs (when mounting is allowed): a SIGKILL leaves the page
 * cache intact, so fsync plays no part in what is tested here, and without the disk's fsync cost
 * the whole file fits the time budget. The object store is seeded from git (as a previous
 * download would have left it) except where the download itself is the crash point.
 */
import { lstat, mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import { extractGitArchive } from '../support/repo.js';
import type { CliResult } from '../support/cli.js';
import { copyTree, diffViews, exists, gitView, mountTmpfs, pollFor, runCliWith, spawnCli, stagingLeftovers, type ScratchMount } from '../support/safety-helpers.js';
import { BIG_FILES, writeBigA, writeBigB } from '../support/safety-repo.js';

/** Time limits grow with the repository (HOSTSYNC_CRASH_FILES; 2,000 files in npm test). */
const SCALE = Math.max(1, BIG_FILES / 2000);
import { blobsOf, seedStore } from '../support/safety-store.js';

/** Nothing listens on port 1: every API request fails at once. */
const OFFLINE_API = 'http://127.0.0.1:1';

interface KillPoint {
  readonly name: string;
  /** What the kill waits for: a downloaded blob, the journal file, a file the build pass writes, or a recovery run's progress. */
  readonly after: 'download' | 'journal' | 'recovery' | { readonly written: string };
  readonly delayMs: number;
  /** Also run a sync with the server back and check it converges to B (the costliest step; a subset suffices). */
  readonly converge: boolean;
  /**
   * How the API is out of reach for the run after the kill: `refused` — `--api-url` of a port
   * nobody listens on (hostsync retries for ~9 s before giving up, so one point uses it); `wall` —
   * the test server answers every request 401 at once, and no tree or blob is asked for.
   */
  readonly offline: 'refused' | 'wall';
}

const POINTS: readonly KillPoint[] = [
  { name: 'download, first blob in', after: 'download', delayMs: 0, converge: true, offline: 'wall' },
  { name: 'download, +150 ms', after: 'download', delayMs: 150, converge: false, offline: 'wall' },
  // The apply is fast (batched durability, synchronous writes): the points sit within its first ~100 ms …
  ...[0, 2, 5, 10, 20, 40, 80].map(
    (delayMs): KillPoint => ({ name: `journal +${delayMs} ms`, after: 'journal', delayMs, converge: delayMs === 0, offline: delayMs === 0 ? 'refused' : 'wall' }),
  ),
  // … and at places of the build pass, whatever the machine's speed.
  ...['new/n000.nix', 'new/n120.nix', 'new/n240.nix'].map((written): KillPoint => ({ name: `build pass wrote ${written}`, after: { written }, delayMs: 0, converge: false, offline: 'wall' })),
  { name: 'recovery killed two thirds through, then recovered again', after: 'recovery', delayMs: 0, converge: true, offline: 'wall' },
];

interface Outcome {
  readonly point: string;
  readonly killedMidRun: boolean;
  readonly journalAtKill: boolean;
  readonly landedOn: 'A' | 'B';
  /** Files left in objects/tmp after the recovery (and after the converging sync, when run). */
  readonly objectsTmpLeft: number;
  readonly phases: string;
}

let mount: ScratchMount;
let fx: Fixture;
let commitA = '';
let commitB = '';
let viewA: Map<string, string>;
let viewB: Map<string, string>;
let snapshots = '';
let journalFile = '';
let manifestFile = '';
let missingBlobs: string[] = [];
const outcomes: Outcome[] = [];

const syncArgs = (...extra: string[]): string[] => [
  'sync',
  '--repo',
  'acme/hypervisor',
  '--dest',
  fx.dest,
  '--state-dir',
  fx.stateDir,
  // The downgrade guard costs a compare request of ~1,250 files on the test server and has
  // nothing to do with the apply; B is a descendant of A anyway.
  '--allow-downgrade',
  ...extra,
];

async function snapshot(name: string): Promise<void> {
  await copyTree(fx.dest, join(snapshots, name, 'dest'));
  await copyTree(fx.stateDir, join(snapshots, name, 'state'));
}

async function restore(name: string): Promise<void> {
  await copyTree(join(snapshots, name, 'dest'), fx.dest); // a real copy: a mode-only change chmods in place
  await copyTree(join(snapshots, name, 'state'), fx.stateDir, { hardlinks: true }); // state files are only ever replaced by rename
}

async function manifestCommit(): Promise<string> {
  return (JSON.parse(await readFile(manifestFile, 'utf8')) as { commit: string }).commit;
}

async function archiveView(commit: string): Promise<Map<string, string>> {
  const dir = await extractGitArchive(fx.repo.dir, commit);
  try {
    return await gitView(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  mount = await mountTmpfs(`${Math.min(4, Math.ceil(SCALE))}g`);
  const savedTmp = process.env['TMPDIR'];
  process.env['TMPDIR'] = mount.dir;
  try {
    fx = await createFixture();
    commitA = await writeBigA(fx.repo);
    await seedStore(fx.repo.dir, commitA, fx.stateDir);
    await fx.sync('--allow-downgrade');
    const [key] = await readdir(join(fx.stateDir, 'dests'));
    journalFile = join(fx.stateDir, 'dests', key ?? '', 'journal.json');
    manifestFile = join(fx.stateDir, 'dests', key ?? '', 'manifest.json');
    commitB = await writeBigB(fx.repo);
    viewA = await archiveView(commitA);
    viewB = await archiveView(commitB);
    expect(diffViews(viewA, await gitView(fx.dest))).toEqual([]);
    snapshots = join(mount.dir, 'snapshots');
    // "partial": 40 blobs of B are not in the store yet, so the run downloads them first.
    const newBlobs = (await blobsOf(fx.repo.dir, commitB)).filter((blob) => /^new\/n0[0-3]\d\.nix$/.test(blob.path));
    missingBlobs = newBlobs.map((blob) => blob.sha);
    await seedStore(fx.repo.dir, commitB, fx.stateDir, (blob) => !missingBlobs.includes(blob.sha));
    await snapshot('partial');
    await seedStore(fx.repo.dir, commitB, fx.stateDir);
    await snapshot('full');
  } finally {
    if (savedTmp === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = savedTmp;
  }
}, 120_000 * SCALE);

afterAll(async () => {
  console.log(`crash points:\n${outcomes.map((o) => `  ${o.point.padEnd(52)} killed mid-run: ${o.killedMidRun}, journal at kill: ${o.journalAtKill}, DEST after recovery: ${o.landedOn}, objects/tmp left: ${o.objectsTmpLeft}, ms: ${o.phases}`).join('\n')}`);
  await fx?.close();
  await mount?.release();
}, 60_000 * SCALE);

const storeHas = (sha: string): Promise<boolean> => exists(join(fx.stateDir, 'objects', sha.slice(0, 2), sha.slice(2)));

/** Run hostsync once more with the API out of reach (see {@link KillPoint.offline}). */
async function offlineRun(how: KillPoint['offline'], args: (...extra: string[]) => string[]): Promise<CliResult> {
  if (how === 'refused') return runCliWith(args('--api-url', OFFLINE_API), { env: fx.env });
  // Requests are counted as they arrive, by a token of their own: the killed run's last requests
  // may still be on their way.
  const token = 'ghp_offlineRunToken0123456789abcdefABCDEF';
  const arrived: string[] = [];
  fx.server.faults = [{ match: (req) => String(req.headers.authorization).includes(token) && arrived.push(req.path) > 0, action: { status: 401 } }];
  try {
    const result = await runCliWith(args(), { env: { ...fx.env, GITHUB_TOKEN: token } });
    expect(arrived.length, 'the run did reach for the API').toBeGreaterThan(0);
    expect(arrived.filter((path) => /\/git\/(trees|blobs)\//.test(path)), 'no tree or blob was requested').toEqual([]);
    return result;
  } finally {
    fx.server.faults = [];
  }
}

/** Start a run of `args`, kill it once `trigger` holds plus `delayMs`; report whether it was still running. */
async function killRun(args: readonly string[], trigger: () => Promise<boolean>, delayMs: number): Promise<{ killedMidRun: boolean; journalAtKill: boolean }> {
  const run = spawnCli(args, { env: fx.env });
  let exited = false;
  void run.done.then(() => (exited = true));
  await pollFor(async () => ((await trigger()) ? true : undefined), { stop: () => exited, timeoutMs: 40_000 * SCALE });
  if (delayMs > 0) await sleep(delayMs);
  const journalAtKill = await exists(journalFile);
  run.child.kill('SIGKILL');
  const result = await run.done;
  return { killedMidRun: result.signal === 'SIGKILL', journalAtKill };
}

describe(`SIGKILL during an update of ~${Math.round(BIG_FILES * 0.5 + 250)} of ${BIG_FILES} files`, () => {
  it.each(POINTS)('$name: an offline run leaves DEST exactly A or B, and the next sync converges to B', async (point) => {
    let last = Date.now();
    const phases: string[] = [];
    const phase = (name: string): void => {
      phases.push(`${name} ${Date.now() - last}`);
      last = Date.now();
    };
    await restore(point.after === 'download' ? 'partial' : 'full');
    let killed: { killedMidRun: boolean; journalAtKill: boolean };
    if (point.after === 'download') {
      killed = await killRun(syncArgs(), async () => (await Promise.all(missingBlobs.map(storeHas))).some(Boolean), point.delayMs);
    } else if (point.after === 'journal') {
      killed = await killRun(syncArgs(), () => exists(journalFile), point.delayMs);
    } else if (typeof point.after === 'object') {
      const written = join(fx.dest, point.after.written);
      killed = await killRun(syncArgs(), () => exists(written), point.delayMs);
    } else {
      // Leave a journal behind (kill as soon as it exists), then kill the recovery itself once its
      // build pass reaches new/ (after the m…/ folders, about two thirds through).
      const first = await killRun(syncArgs(), () => exists(journalFile), 0);
      expect(first.journalAtKill).toBe(true);
      killed = await killRun(syncArgs('--api-url', OFFLINE_API), () => exists(join(fx.dest, 'new/n000.nix')), point.delayMs);
      expect(killed.journalAtKill, 'the recovery was killed before it finished').toBe(true);
    }

    // Recovery runs before any network: with the API out of reach the run fails (exit 1), after recovering.
    phase('restore+kill');
    const offline = await offlineRun(point.offline, syncArgs);
    phase('offline');
    expect(offline.code, offline.stderr).toBe(1);
    if (killed.journalAtKill) expect(offline.stderr).toMatch(/Recovered an interrupted apply: completed/);
    expect(await exists(journalFile), 'journal removed by the recovery').toBe(false);

    const view = await gitView(fx.dest);
    const fromA = diffViews(viewA, view);
    const fromB = diffViews(viewB, view);
    const landedOn = fromA.length === 0 ? 'A' : 'B';
    expect(fromA.length === 0 || fromB.length === 0, `DEST is neither A nor B: ${fromA.length} paths differ from A (${fromA.slice(0, 5).join('; ')}), ${fromB.length} from B (${fromB.slice(0, 5).join('; ')})`).toBe(true);
    // Once the journal was written the apply is finished (by the run itself, or by the recovery:
    // roll forward); before it, DEST was never touched.
    expect(landedOn).toBe(point.after !== 'download' || killed.journalAtKill ? 'B' : 'A');
    expect(await manifestCommit(), 'the manifest names the commit DEST holds').toBe(landedOn === 'A' ? commitA : commitB);
    expect((await stagingLeftovers(fx.dest, fx.stateDir)).filter((p) => p.startsWith('DEST/'))).toEqual([]);
    phase('compare');
    if (point.converge) {
      const converge = await runCliWith(syncArgs('--json'), { env: fx.env });
      expect(converge.code, converge.stderr).toBe(0);
      expect(diffViews(viewB, await gitView(fx.dest))).toEqual([]);
      expect(await manifestCommit()).toBe(commitB);
      expect((await stagingLeftovers(fx.dest, fx.stateDir)).filter((p) => p.startsWith('DEST/'))).toEqual([]);
      phase('converge');
    }
    const objectsTmpLeft = (await stagingLeftovers(fx.dest, fx.stateDir)).length;
    outcomes.push({ point: point.name, ...killed, landedOn, objectsTmpLeft, phases: phases.join(', ') });
  }, 60_000 * SCALE);

  it('killed at least 10 distinct points in the middle of a run', () => {
    expect(outcomes.filter((o) => o.killedMidRun).length).toBeGreaterThanOrEqual(10);
    expect(outcomes.filter((o) => o.journalAtKill).length).toBeGreaterThanOrEqual(7);
  });
});

describe('SIGKILL while a layout "symlink" generation is being built', () => {
  let root = '';
  let dest = '';
  let stateDir = '';
  let config = '';
  const leftovers: string[] = [];

  const slArgs = (...extra: string[]): string[] => ['sync', '--repo', 'acme/hypervisor', '--dest', dest, '--state-dir', stateDir, '--config', config, '--allow-downgrade', ...extra];
  const generationDirs = async (): Promise<string[]> => (await readdir(`${dest}.generations`).catch(() => [])).filter((name) => /^\d+-[0-9a-f]+$/.test(name));

  beforeAll(async () => {
    root = join(mount.dir, 'sl');
    dest = join(root, 'dest');
    stateDir = join(mount.dir, 'sl-state');
    config = join(mount.dir, 'sl.json');
    await mkdir(root);
    await writeFile(config, JSON.stringify({ layout: 'symlink' }));
    await copyTree(join(snapshots, 'full', 'state', 'objects'), join(stateDir, 'objects'));
    const first = await runCliWith(slArgs('--ref', commitA), { env: fx.env });
    expect(first.code, first.stderr).toBe(0);
    expect(diffViews(viewA, await gitView(await realpath(dest)))).toEqual([]);
    await seedStore(fx.repo.dir, commitB, stateDir); // the sync's clean-up dropped B's objects again
    await copyTree(root, join(snapshots, 'sl', 'root'));
    await copyTree(stateDir, join(snapshots, 'sl', 'state'));
  }, 120_000 * SCALE);

  afterAll(() => {
    console.log(`layout symlink kill points:\n${leftovers.map((line) => `  ${line}`).join('\n')}`);
  });

  it.each([
    { delayMs: 0, converge: true },
    { delayMs: 1000, converge: false },
  ])('killed $delayMs ms after the new generation folder appears: DEST is a complete generation (A or B), before and after an offline run', async ({ delayMs, converge }) => {
    await copyTree(join(snapshots, 'sl', 'root'), root);
    await copyTree(join(snapshots, 'sl', 'state'), stateDir, { hardlinks: true });
    const run = spawnCli(slArgs('--ref', commitB), { env: fx.env });
    let exited = false;
    void run.done.then(() => (exited = true));
    await pollFor(async () => ((await generationDirs()).length >= 2 ? true : undefined), { stop: () => exited, timeoutMs: 40_000 * SCALE });
    if (delayMs > 0) await sleep(delayMs);
    run.child.kill('SIGKILL');
    const killed = await run.done;

    const check = async (): Promise<'A' | 'B'> => {
      expect((await lstat(dest)).isSymbolicLink()).toBe(true);
      const view = await gitView(await realpath(dest));
      const fromA = diffViews(viewA, view);
      const fromB = diffViews(viewB, view);
      expect(fromA.length === 0 || fromB.length === 0, `DEST is not a complete generation: ${fromA.length} paths differ from A, ${fromB.length} from B (${fromB.slice(0, 5).join('; ')})`).toBe(true);
      return fromA.length === 0 ? 'A' : 'B';
    };
    const atKill = await check();
    const offline = await offlineRun('wall', (...extra) => slArgs('--ref', commitB, ...extra));
    expect(offline.code).toBe(1);
    expect(await check()).toBe(atKill);
    const partial = (await generationDirs()).length - 1;
    const tempLinks = (await readdir(root)).filter((name) => name.includes('hostsync-tmp')).length;
    let after = '';
    if (converge) {
      const again = await runCliWith(slArgs('--ref', commitB), { env: fx.env });
      expect(again.code, again.stderr).toBe(0);
      expect(await check()).toBe('B');
      after = `, after a converging sync: ${(await generationDirs()).length} generation folders, ${(await readdir(root)).filter((name) => name.includes('hostsync-tmp')).length} temp links`;
    }
    leftovers.push(`+${delayMs} ms: killed mid-run: ${killed.signal === 'SIGKILL'}, DEST: ${atKill}, other generation folders left: ${partial}, temp links beside DEST: ${tempLinks}${after}`);
  }, 60_000 * SCALE);
});
