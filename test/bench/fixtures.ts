/**
 * Repositories the benchmark updates run after run: the sample repository with its realistic edits
 * (ten text files; the "typical update"; a 50 MiB file), and a 20,000-file repository written
 * straight into git with `git fast-import` (no working tree, one process: a couple of seconds).
 * Every byte comes from seeded PRNGs, so two benchmark runs move the same bytes.
 */
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnGit } from '../support/git-cli.js';
import { createRepo, sampleRepo, type TestRepo } from '../support/repo.js';

/**
 * `length` pseudo-random bytes from `seed` (xorshift128, 4 bytes a step): 50 MiB in well under a
 * second, and incompressible like a real firmware image.
 */
export function seededBytes(length: number, seed: number): Buffer {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let y = 362436069;
  let z = 521288629;
  let w = 88675123 ^ seed;
  for (let i = 0; i < words.length; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    words[i] = w;
  }
  return Buffer.from(words.buffer, 0, length);
}

const WORDS = ['services', 'enable', 'package', 'config', 'options', 'networking', 'firewall', 'users', 'systemd', 'timer', 'backup', 'retention'] as const;

/** Plausible config text of about `bytes` bytes. */
export function seededText(bytes: number, seed: number): string {
  const random = seededBytes(Math.max(16, bytes), seed);
  const lines: string[] = [];
  let size = 0;
  let i = 0;
  while (size < bytes) {
    const a = WORDS[(random[i % random.length] ?? 0) % WORDS.length] ?? 'config';
    const b = WORDS[(random[(i + 1) % random.length] ?? 0) % WORDS.length] ?? 'config';
    const n = random[(i + 2) % random.length] ?? 0;
    const line = `  ${a}.${b}.setting${n} = "${b}-${n * 7}";`;
    lines.push(line);
    size += line.length + 1;
    i += 3;
  }
  return `${lines.join('\n')}\n`;
}

const TEN_EDIT_FILES = ['base', 'desktop', 'server', 'networking', 'security', 'monitoring', 'backup', 'containers'].flatMap((m) => [
  `modules/${m}/default.nix`,
  `modules/${m}/options.nix`,
  `modules/${m}/impl/main.nix`,
  `modules/${m}/impl/extra.nix`,
]);
const HOST_FILES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'].flatMap((h) =>
  ['configuration', 'hardware-configuration', 'networking', 'services', 'users'].map((f) => `hosts/${h}/${f}.nix`),
);
const SCRIPTS = ['deploy', 'rebuild', 'backup', 'rotate-logs', 'check-health', 'bootstrap', 'update-flake', 'gc'].map((s) => `scripts/${s}.sh`);
const FIRMWARE = 'assets/firmware.bin';

/** The sample repository (test/support `sampleRepo`) and the updates the workloads push to it. */
export interface SampleChain {
  readonly repo: TestRepo;
  /** Number of files and symlinks of the first commit. */
  readonly fileCount: number;
  /** Append a line to ten of the 32 module files; commit. */
  editTenFiles(): Promise<string>;
  /**
   * Six host files edited, two files added, one deleted, one script's executable bit flipped, the
   * `etc/nginx/sites*` folder renamed, 4 KiB of the 2 MiB binary rewritten; commit.
   */
  typicalUpdate(): Promise<string>;
  /** Add a new `bytes`-long pseudo-random file (and delete the one the previous call added); commit. */
  addBigFile(bytes: number): Promise<string>;
}

/** Build the sample repository (~150 files, a 2 MiB binary, executables, symlinks). */
export async function createSampleChain(): Promise<SampleChain> {
  const { repo, fileCount } = await sampleRepo({ prefix: 'hostsync-bench-' });
  let step = 0;
  const deletable = ['tests/vm-test-0.nix', 'tests/vm-test-1.nix', 'tests/vm-test-2.nix', 'tests/vm-test-3.nix', 'tests/vm-test-4.nix', 'tests/vm-test-5.nix'];
  const executable = new Map<string, boolean>(SCRIPTS.map((s) => [s, true]));
  let sites = 'etc/nginx/sites';
  let bigFile: string | undefined;

  const append = async (path: string, line: string): Promise<void> => {
    const full = join(repo.dir, path);
    await writeFile(full, `${await readFile(full, 'utf8')}${line}\n`);
  };

  return {
    repo,
    fileCount,
    async editTenFiles() {
      step += 1;
      for (let k = 0; k < 10; k++) {
        const path = TEN_EDIT_FILES[(step * 10 + k) % TEN_EDIT_FILES.length] ?? 'README.md';
        await append(path, `# step ${step}:${seededText(60, step * 100 + k).trimEnd()}`);
      }
      return repo.commit(`Ten module edits (${step})`);
    },
    async typicalUpdate() {
      step += 1;
      for (let k = 0; k < 6; k++) {
        await append(HOST_FILES[(step * 6 + k) % HOST_FILES.length] ?? 'README.md', `# step ${step}:${seededText(80, step * 100 + k).trimEnd()}`);
      }
      const added = [`hosts/extra/step-${step}-a.nix`, `hosts/extra/step-${step}-b.nix`];
      for (const [k, path] of added.entries()) await repo.write(path, `{ ... }:\n{\n${seededText(900, step * 1000 + k)}}\n`);
      await repo.remove(deletable.shift() ?? 'LICENSE');
      deletable.push(...added);
      const script = SCRIPTS[step % SCRIPTS.length] ?? 'scripts/gc.sh';
      const exec = !(executable.get(script) ?? true);
      await repo.chmod(script, exec);
      executable.set(script, exec);
      const movedTo = sites === 'etc/nginx/sites' ? 'etc/nginx/sites-available' : 'etc/nginx/sites';
      await repo.move(sites, movedTo);
      sites = movedTo;
      const firmware = await readFile(join(repo.dir, FIRMWARE));
      const offset = (((step * 97 + 13) * 4096) % (firmware.length - 4096)) & ~4095;
      seededBytes(4096, 7000 + step).copy(firmware, offset);
      await repo.write(FIRMWARE, firmware);
      return repo.commit(`Typical update (${step})`);
    },
    async addBigFile(bytes) {
      step += 1;
      if (bigFile !== undefined) await repo.remove(bigFile);
      bigFile = `images/disk-${step}.img`;
      await repo.write(bigFile, seededBytes(bytes, 5000 + step));
      return repo.commit(`Add a ${bytes}-byte image (${step})`);
    },
  };
}

/** A repository of many small files and the one-file edits pushed to it. */
export interface LargeTree {
  readonly repo: TestRepo;
  readonly commit: string;
  readonly files: number;
  /** Rewrite one file; commit. */
  editOneFile(): Promise<string>;
}

const COMMITTER = 'Bench <bench@hostsync.invalid>';

/** Feed a `git fast-import` stream to the repository; resolves when git is done. */
async function fastImport(repo: TestRepo, write: (put: (chunk: string | Buffer) => Promise<void>) => Promise<void>): Promise<void> {
  const child = spawnGit(['fast-import', '--quiet', '--done'], repo.dir);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let failed: Error | undefined;
  child.stdin.on('error', (error) => (failed = error));
  const put = async (chunk: string | Buffer): Promise<void> => {
    if (failed !== undefined) throw failed;
    if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
  };
  await write(put);
  await put('done\n');
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import failed in ${repo.dir}: ${stderr.trim()}`);
}

function data(content: string): string {
  return `data ${Buffer.byteLength(content)}\n${content}\n`;
}

/** Path of file `i` of the large tree: 20 services × 10 packages × 100 files for 20,000. */
function largePath(i: number): string {
  const service = Math.floor(i / 1000);
  const pkg = Math.floor((i % 1000) / 100);
  return `services/svc-${String(service).padStart(2, '0')}/pkg-${pkg}/file-${String(i % 100).padStart(2, '0')}.conf`;
}

/** Build a repository of `files` small text files (150–1,200 bytes) in one commit on `main`. */
export async function createLargeTree(files: number): Promise<LargeTree> {
  const repo = await createRepo({ prefix: 'hostsync-bench-large-' });
  let time = 1_704_067_200;
  await fastImport(repo, async (put) => {
    for (let i = 0; i < files; i++) await put(`blob\nmark :${i + 1}\n${data(seededText(150 + ((i * 7919) % 1050), i))}`);
    const lines = [`commit refs/heads/main\ncommitter ${COMMITTER} ${time} +0000\n${data(`${files} files`)}`];
    for (let i = 0; i < files; i++) lines.push(`M 100644 :${i + 1} ${largePath(i)}\n`);
    await put(`${lines.join('')}\n`);
  });
  let step = 0;
  return {
    repo,
    commit: await repo.head(),
    files,
    async editOneFile() {
      step += 1;
      time += 60;
      const path = largePath((step * 7919) % files);
      await fastImport(repo, (put) => put(`commit refs/heads/main\ncommitter ${COMMITTER} ${time} +0000\n${data(`Edit ${path}`)}from refs/heads/main^0\nM 100644 inline ${path}\n${data(seededText(600, 90_000 + step))}\n`));
      return repo.head();
    },
  };
}

/** Write `git archive` of `commit` into `dest` with the system tar (20,000 files in about a second). */
export async function archiveInto(repoDir: string, commit: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  const archive = spawnGit(['archive', '--format=tar', commit], repoDir);
  archive.stdin.end();
  const tar = spawn('tar', ['-x', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  archive.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  tar.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  archive.stdout.pipe(tar.stdin);
  const [a, t] = await Promise.all([once(archive, 'close'), once(tar, 'close')]);
  if (a[0] !== 0 || t[0] !== 0) throw new Error(`git archive ${commit} | tar -x -C ${dest} failed: ${stderr.trim()}`);
}
