/**
 * Every way content reaches DEST leaves the stat cache filled for what it wrote, so the next poll — once
 * the racy window (100 ms on file systems with sub-second mtimes) has passed — hashes nothing: git's
 * wire protocol, REST blobs, the tarball, the git CLI clone, a rollback, and `validate --fix`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** Past the racy window, an unchanged poll: what it hashed. */
async function pollHashed(): Promise<number> {
  await sleep(300);
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
