/**
 * End to end: `hostsync validate [--fix]` — the real CLI against the GitHub-compatible server;
 * DEST compared with `git archive` after repairs.
 */
import { symlink, chmod, mkdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blobRequests, createFixture, type Fixture } from '../support/fixture.js';
import { parseJson } from '../support/cli.js';
import { acquireLock } from '../../src/state/lock.js';
import { destKey, destPaths } from '../../src/state/layout.js';
import { hashBlob } from '../../src/local/hash.js';
import { createObjectStore } from '../../src/state/objects.js';
import { Readable } from 'node:stream';
import type { Manifest } from '../../src/model.js';

interface CheckJson {
  id: string;
  status: string;
  message: string;
  paths: string[];
  fixable: boolean;
  fixed: boolean;
}

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

async function writeTree(fixture: Fixture): Promise<string> {
  const { repo } = fixture;
  await repo.write('README.md', '# hypervisor\n');
  await repo.write('flake.nix', '{ outputs = _: { }; }\n');
  await repo.write('flake.lock', '{"nodes": {}, "root": "root", "version": 7}\n');
  await repo.write('scripts/deploy.sh', '#!/bin/sh\necho deploy\n');
  await repo.chmod('scripts/deploy.sh', true);
  await repo.write('hosts/alpha/configuration.nix', '{ alpha }\n');
  await repo.symlink('current', 'hosts/alpha');
  return repo.commit('tree');
}

/** `validate --json` with only --dest and --state-dir: no --repo, the manifest knows it. */
async function validate(fixture: Fixture, ...args: string[]): Promise<{ code: number | null; ok: boolean; checks: CheckJson[]; stderr: string }> {
  return validateWith(fixture, {}, ...args);
}

/** validate as another process would see it (`spawn`: the lock is held by this test's process). */
async function validateWith(fixture: Fixture, options: { spawn?: boolean }, ...args: string[]): Promise<{ code: number | null; ok: boolean; checks: CheckJson[]; stderr: string }> {
  const result = await fixture.run(['validate', '--json', '--dest', fixture.dest, '--state-dir', fixture.stateDir, ...args], { bare: true, ...options });
  const json = parseJson(result) as { ok: boolean; checks: CheckJson[] };
  return { code: result.code, ok: json.ok, checks: json.checks, stderr: result.stderr };
}

const byId = (checks: CheckJson[], id: string): CheckJson => {
  const found = checks.find((check) => check.id === id);
  if (found === undefined) throw new Error(`no check ${id} in ${JSON.stringify(checks.map((c) => c.id))}`);
  return found;
};

describe('hostsync validate', () => {
  it('passes on a fresh sync; names a content edit, a removed executable bit and a deleted file; --fix restores DEST to the commit offline', async () => {
    const commit = await writeTree(fx);
    await fx.sync();
    const clean = await validate(fx);
    expect(clean.code).toBe(0);
    expect(clean.checks.map((c) => [c.id, c.status])).toEqual([
      ['state', 'pass'],
      ['dest', 'pass'],
      ['integrity', 'pass'],
      ['unmanaged', 'pass'],
      ['disk-space', 'pass'],
    ]);

    await writeFile(join(fx.dest, 'README.md'), 'tampered\n');
    await chmod(join(fx.dest, 'scripts/deploy.sh'), 0o644);
    await rm(join(fx.dest, 'hosts/alpha/configuration.nix'));
    const broken = await validate(fx);
    expect(broken.code).toBe(1);
    expect(broken.ok).toBe(false);
    const integrity = byId(broken.checks, 'integrity');
    expect(integrity).toMatchObject({ status: 'fail', fixable: true, fixed: false, paths: ['README.md', 'hosts/alpha/configuration.nix', 'scripts/deploy.sh'] });
    expect(integrity.message).toContain('README.md (content modified)');
    expect(integrity.message).toContain('scripts/deploy.sh (executable bit removed)');
    expect(integrity.message).toContain('hosts/alpha/configuration.nix (missing)');

    const human = await fx.run(['validate', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/fail\s+integrity\s+3 managed path\(s\) differ/);
    expect(human.stdout).toContain('(--fix repairs this)');

    fx.server.resetLog();
    const fixed = await validate(fx, '--fix');
    expect(fixed.code).toBe(0);
    expect(byId(fixed.checks, 'integrity')).toMatchObject({ status: 'pass', fixed: true });
    expect(fx.server.requests).toHaveLength(0); // everything came from the local store
    await fx.expectSameAsCommit(commit);
    expect((await validate(fx)).code).toBe(0);
  });

  it('--fix downloads, verified, what the local store lacks (repository from the manifest)', async () => {
    const commit = await writeTree(fx);
    await fx.sync();
    await rm(join(fx.stateDir, 'objects'), { recursive: true, force: true });
    await writeFile(join(fx.dest, 'flake.nix'), 'edited on the host\n');
    const before = await validate(fx);
    expect(byId(before.checks, 'state')).toMatchObject({ status: 'warn' });
    expect(byId(before.checks, 'state').message).toMatch(/lacks \d+ blob/);
    fx.server.resetLog();
    const fixed = await fx.run(['validate', '--json', '--fix', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(fixed.code).toBe(0);
    expect(blobRequests(fx.server)).toHaveLength(1);
    await fx.expectSameAsCommit(commit);
  });

  it('reports unmanaged files as a warning; --fix keeps them, --fix --prune deletes them', async () => {
    const commit = await writeTree(fx);
    await fx.sync();
    await writeFile(join(fx.dest, 'notes.txt'), 'mine\n');
    await mkdir(join(fx.dest, 'scratch/deep'), { recursive: true });
    await writeFile(join(fx.dest, 'scratch/deep/x'), 'x\n');
    const found = await validate(fx);
    expect(found.code).toBe(0); // a warning is not a failure
    expect(byId(found.checks, 'unmanaged')).toMatchObject({ status: 'warn', fixable: false, paths: ['notes.txt', 'scratch'] });
    const kept = await validate(fx, '--fix');
    expect(byId(kept.checks, 'unmanaged').status).toBe('warn');
    expect(await readFile(join(fx.dest, 'notes.txt'), 'utf8')).toBe('mine\n');
    const pruned = await validate(fx, '--fix', '--prune');
    expect(byId(pruned.checks, 'unmanaged')).toMatchObject({ status: 'pass', fixed: true });
    await fx.expectSameAsCommit(commit);
  });

  it('runs configured checks and the nixos-hypervisor preset; --fix creates missing folders and makes scripts executable', async () => {
    await writeTree(fx);
    await fx.repo.write('hosts/bad.json', '{"broken": }\n');
    await fx.repo.commit('bad json');
    await fx.sync();
    await writeFile(join(fx.dest, 'tool.sh'), '#!/bin/sh\n');
    const config = join(fx.tmp, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        dest: fx.dest,
        stateDir: fx.stateDir,
        preset: 'nixos-hypervisor',
        checks: [
          { type: 'required', dirs: ['vms'], files: ['flake.nix'] },
          { type: 'required', id: 'nixos-host-config', dirs: ['hosts/alpha'] },
          { type: 'executable', paths: ['scripts/*.sh', 'tool.sh'] },
          { type: 'json', paths: ['hosts/bad.json'] },
          { type: 'tools', names: ['sh', 'definitely-not-installed-tool'] },
          { type: 'command', id: 'flake-check', command: 'test -f flake.nix && test -n "$HOSTSYNC_DEST"' },
          { type: 'command', id: 'needs-nix', command: 'nix flake metadata .', requires: ['nix'] },
          { type: 'disk-space', minFreeMb: 1 },
        ],
      }),
    );
    // A PATH with a shell and nothing else: nix is absent here whether or not the machine has it.
    const bin = join(fx.tmp, 'bin');
    await mkdir(bin);
    await symlink('/bin/sh', join(bin, 'sh'));
    const result = await fx.run(['validate', '--json', '--config', config], { bare: true, env: { PATH: bin } });
    expect(result.code).toBe(1);
    const { checks } = parseJson(result) as { checks: CheckJson[] };
    const status = Object.fromEntries(checks.map((c) => [c.id, c.status]));
    expect(status).toMatchObject({
      'nixos-flake': 'pass',
      'nixos-flake-lock': 'pass',
      'nixos-nix': 'skip', // no nix on this machine: skip, not pass
      'nixos-host-config': 'pass',
      required: 'fail',
      executable: 'fail',
      json: 'fail',
      tools: 'fail',
      'flake-check': 'pass',
      'needs-nix': 'skip',
      'disk-space': 'pass',
    });
    expect(['pass', 'fail']).toContain(status['nixos-kvm']);
    expect(byId(checks, 'required')).toMatchObject({ fixable: true, paths: expect.arrayContaining(['vms']) });
    expect(byId(checks, 'json').message).toMatch(/hosts\/bad\.json is not valid JSON: .* at line 1, column 12/);
    expect(byId(checks, 'tools').message).toContain('definitely-not-installed-tool');

    const fixed = await fx.run(['validate', '--json', '--fix', '--config', config], { bare: true, env: { PATH: '/usr/bin:/bin' } });
    const after = (parseJson(fixed) as { checks: CheckJson[] }).checks;
    expect(byId(after, 'required')).toMatchObject({ status: 'pass', fixed: true });
    expect(byId(after, 'executable')).toMatchObject({ status: 'pass', fixed: true });
    expect(byId(after, 'json')).toMatchObject({ status: 'fail', fixed: false });
    expect((await stat(join(fx.dest, 'vms'))).isDirectory()).toBe(true);
    expect((await stat(join(fx.dest, 'tool.sh'))).mode & 0o777).toBe(0o755);
  });

  it('config errors in checks: exit 2, every problem named, nothing looked at', async () => {
    const config = join(fx.tmp, 'config.json');
    await writeFile(config, JSON.stringify({ dest: fx.dest, stateDir: fx.stateDir, checks: [{ type: 'tool', names: ['x'] }, { type: 'json' }] }));
    const result = await fx.run(['validate', '--config', config], { bare: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unknown check type 'tool'/);
    expect(result.stderr).toMatch(/check 'json' \(checks\[1\]\) needs `paths`/);
  });

  it('before any sync: DEST-bound checks skip, exit 0', async () => {
    const result = await validate(fx);
    expect(result.code).toBe(0);
    expect(byId(result.checks, 'dest').status).toBe('skip');
    expect(byId(result.checks, 'integrity').status).toBe('skip');
  });

  it('finishes an interrupted apply with --fix', async () => {
    const commit = await writeTree(fx);
    await fx.sync();
    // Simulate a crash mid-apply: the journal says README.md goes from the tampered content to the commit's.
    const paths = destPaths(fx.stateDir, fx.dest);
    const manifest = JSON.parse(await readFile(paths.manifest, 'utf8')) as Manifest;
    const tampered = Buffer.from('half-applied\n');
    const tamperedSha = hashBlob(tampered);
    await createObjectStore(paths.objects).put(tamperedSha, tampered.length, Readable.from([tampered]), 'test');
    await writeFile(join(fx.dest, 'README.md'), tampered);
    const readme = manifest.entries.find((entry) => entry.path === 'README.md')!;
    const journal = {
      version: 1,
      dest: fx.dest,
      startedAt: new Date().toISOString(),
      manifest,
      previous: manifest,
      ops: [{ path: 'README.md', before: { kind: 'file', sha: tamperedSha, mode: '100644' }, after: { kind: 'file', sha: readme.sha, mode: '100644' } }],
    };
    await writeFile(paths.journal, JSON.stringify(journal));
    const found = await validate(fx);
    expect(byId(found.checks, 'state')).toMatchObject({ status: 'fail', fixable: true });
    expect(byId(found.checks, 'state').message).toMatch(/was interrupted/);
    const fixed = await validate(fx, '--fix');
    expect(fixed.code).toBe(0);
    expect(byId(fixed.checks, 'state')).toMatchObject({ status: 'pass', fixed: true });
    await expect(stat(paths.journal)).rejects.toThrow();
    await fx.expectSameAsCommit(commit);
  });

  it('reports a lock held by another run; --fix then exits 4 and writes nothing', async () => {
    await writeTree(fx);
    await fx.sync();
    await writeFile(join(fx.dest, 'README.md'), 'tampered\n');
    const lock = await acquireLock(destKey(fx.dest), { timeoutSec: 0, fallbackDir: fx.stateDir, what: fx.dest });
    try {
      const held = await validateWith(fx, { spawn: true });
      expect(byId(held.checks, 'state')).toMatchObject({ status: 'warn' });
      expect(byId(held.checks, 'state').message).toContain(`PID ${process.pid}`);
      const fix = await fx.run(['validate', '--fix', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true, spawn: true });
      expect(fix.code).toBe(4);
      expect(await readFile(join(fx.dest, 'README.md'), 'utf8')).toBe('tampered\n');
    } finally {
      await lock.release();
    }
  });

  it('with layout "symlink": checks the current generation; --fix restores as a new generation', async () => {
    const commit = await writeTree(fx);
    const config = join(fx.tmp, 'symlink.json');
    await writeFile(config, JSON.stringify({ layout: 'symlink', dest: fx.dest, stateDir: fx.stateDir }));
    await fx.sync('--config', config);
    const before = await realpath(fx.dest);
    await rm(join(before, 'flake.nix'));
    const found = await fx.run(['validate', '--json', '--config', config], { bare: true });
    expect(found.code).toBe(1);
    expect(byId((parseJson(found) as { checks: CheckJson[] }).checks, 'integrity').paths).toEqual(['flake.nix']);
    const fixed = await fx.run(['validate', '--json', '--fix', '--config', config], { bare: true });
    expect(fixed.code, fixed.stderr).toBe(0);
    const after = await realpath(fx.dest);
    expect(after).not.toBe(before);
    await fx.expectSameAsCommit(commit, undefined, after);
  });
});
