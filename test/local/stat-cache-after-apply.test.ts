/**
 * Every way content reaches DEST leaves the stat cache filled for what it wrote, so the next poll —
 * even one right after the apply: the files carry a stamp older than the racy margin — hashes
 * nothing: git's wire protocol, REST blobs, the tarball, the git CLI clone, a rollback, and
 * `validate --fix`. A file changed right after an apply, in the same clock tick and to the same size,
 * is still seen.
 */
import { lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJson } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;
let version = 0;

beforeAll(async () => {
  fx = await createFixture();
});

afterAll(async () => {
  await fx.close();
});

/** A new commit touching a few files (an edit, an addition, an executable, a symlink). */
async function commitNext(): Promise<string> {
  version++;
  await fx.repo.write('flake.nix', `{ v${version} }\n`);
  await fx.repo.write(`hosts/h${version}.nix`, `{ host ${version} }\n`);
  await fx.repo.write('bin/deploy.sh', `#!/bin/sh\necho ${version}\n`);
  await fx.repo.chmod('bin/deploy.sh', true);
  if (version === 1) await fx.repo.symlink('current', 'hosts/h1.nix');
  return fx.repo.commit(`v${version}`);
}

/** An unchanged poll right away: what it hashed. */
async function pollHashed(): Promise<number> {
  const poll = parseJson(await fx.run(['sync', '--json']));
  expect(poll['blobsDownloaded']).toBe(0);
  return poll['filesHashed'] as number;
}

describe('the first poll after an apply hashes nothing', () => {
  it.each([
    ['the wire protocol (a first install)', []],
    ['REST blobs', ['--transport', 'rest']],
    ['the tarball', ['--transport', 'rest', '--force-full']],
    ['the git CLI (API quota spent)', ['--transport', 'rest', '--quota-spent']],
  ])('after %s', async (_name, flags) => {
    const commit = await commitNext();
    const spent = flags.includes('--quota-spent');
    if (spent) fx.server.rateLimit.remaining = 0;
    try {
      const result = parseJson(await fx.run(['sync', '--json', ...flags.filter((f) => f !== '--quota-spent')]));
      expect(result['commit']).toBe(commit);
      if (flags.includes('--force-full')) expect(result['strategy']).toBe('tarball');
      if (spent) expect(result['strategy']).toBe('clone');
    } finally {
      fx.server.rateLimit.remaining = fx.server.rateLimit.limit;
    }
    expect(await pollHashed()).toBe(0);
  });

  it('after a rollback', async () => {
    const rolled = await fx.run(['rollback', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(await pollHashed()).toBe(0);
  });

  it('after validate --fix', async () => {
    await writeFile(join(fx.dest, 'flake.nix'), 'edited by hand\n');
    const fixed = await fx.run(['validate', '--json', '--fix']);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(await pollHashed()).toBe(0);
  });
});

describe('the stamp an apply gives its files', () => {
  it('is older than the apply by the racy margin, and a same-size change right after it is still seen', async () => {
    const before = Date.now();
    const commit = await commitNext();
    const result = parseJson(await fx.run(['sync', '--json']));
    expect(result['commit']).toBe(commit);
    const written = await lstat(join(fx.dest, 'flake.nix'));
    expect(written.mtimeMs).toBeLessThan(before);
    expect(written.mtimeMs).toBeGreaterThan(before - 60_000);
    // Same length, different bytes, at once: only the mtime (now the present) can tell.
    const text = `{ v${version} }\n`;
    await writeFile(join(fx.dest, 'flake.nix'), text.replace('{', '['));
    const poll = parseJson(await fx.run(['sync', '--json', '--check-only']));
    expect(poll['filesHashed']).toBeGreaterThanOrEqual(1);
    const fixed = parseJson(await fx.run(['sync', '--json']));
    expect(fixed['commit']).toBe(commit);
  });
});
