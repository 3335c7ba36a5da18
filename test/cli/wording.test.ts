/**
 * What the summaries say, end to end in-process: counts say what they count (files and symlinks;
 * folders follow their contents), and the folders a preset requires are expected, not unmanaged —
 * `validate --fix` creating `hosts/<hostname>` is not undone by `--fix --prune`.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import { parseJson } from '../support/cli.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

interface CheckJson {
  readonly id: string;
  readonly status: string;
  readonly paths: readonly string[];
}

const check = (json: Record<string, unknown>, id: string): CheckJson | undefined => (json['checks'] as CheckJson[]).find((c) => c.id === id);

describe('counts', () => {
  it('the sync summary counts files, and says so; history\'s column is files too', async () => {
    await fx.repo.write('flake.nix', '{}\n');
    await fx.repo.write('hosts/alpha/configuration.nix', '{ alpha }\n');
    await fx.repo.write('hosts/beta/configuration.nix', '{ beta }\n');
    await fx.repo.commit('one');
    const first = await fx.run(['sync']);
    expect(first.code, first.stderr).toBe(0);
    // Three files in three folders: "3 files", never a count with the folders in it.
    expect(first.stdout).toMatch(/^ {2}3 files: added 3, modified 0, deleted 0, mode 0, type 0 \(files and symlinks; folders follow their contents\)$/m);
    expect(first.stdout).toMatch(/downloaded 3 blob\(s\), /); // contents: files with the same content share one
    const history = await fx.run(['history', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(history.stdout).toMatch(/^ {2}id .* files {2}ref$/m);
    expect(history.stdout).toMatch(/ sync .* {4}3 {2}acme\/hypervisor@/);
    await fx.repo.write('hosts/alpha/configuration.nix', '{ alpha 2 }\n');
    await fx.repo.commit('two');
    const check = await fx.run(['sync', '--check-only']);
    expect(check.code).toBe(3);
    expect(check.stdout).toMatch(/— 1 file would change in /);
  });
});

describe('folders a preset requires', () => {
  it('validate --preset nixos-hypervisor --fix creates hosts/<hostname>; unmanaged does not flag it; --fix --prune keeps it', async () => {
    await fx.repo.write('flake.nix', '{}\n');
    await fx.repo.write('flake.lock', '{}\n');
    await fx.repo.write('hosts/other/configuration.nix', '{ other }\n');
    await fx.repo.commit('one');
    await fx.sync();
    const folder = join(fx.dest, 'hosts', hostname());

    const fixed = parseJson(await fx.run(['validate', '--preset', 'nixos-hypervisor', '--fix', '--json']));
    expect(check(fixed, 'nixos-host-config')?.status).toBe('pass');
    expect(existsSync(folder)).toBe(true);
    expect(check(fixed, 'unmanaged')?.status).toBe('pass');

    const again = parseJson(await fx.run(['validate', '--preset', 'nixos-hypervisor', '--json']));
    expect(check(again, 'unmanaged')).toMatchObject({ status: 'pass', paths: [] });

    const pruned = parseJson(await fx.run(['validate', '--preset', 'nixos-hypervisor', '--fix', '--prune', '--json']));
    expect(existsSync(folder)).toBe(true);
    expect(check(pruned, 'nixos-host-config')?.status).toBe('pass');
  });

  it('what lies inside a required folder is still unmanaged, and --fix --prune deletes it but not the folder', async () => {
    await fx.repo.write('a.txt', 'a\n');
    await fx.repo.commit('one');
    await fx.sync();
    const config = join(fx.tmp, 'checks.json');
    const { writeFile, mkdir } = await import('node:fs/promises');
    await writeFile(config, JSON.stringify({ checks: [{ type: 'required', id: 'vm-folder', dirs: ['hosts/vm'] }] }));
    await mkdir(join(fx.dest, 'hosts', 'vm'), { recursive: true });
    await writeFile(join(fx.dest, 'hosts', 'vm', 'stray.txt'), 'x\n');
    const found = parseJson(await fx.run(['validate', '--config', config, '--json']));
    expect(check(found, 'unmanaged')).toMatchObject({ status: 'warn', paths: ['hosts/vm/stray.txt'] });
    const pruned = parseJson(await fx.run(['validate', '--config', config, '--fix', '--prune', '--json']));
    expect(check(pruned, 'unmanaged')?.status).toBe('pass');
    expect(existsSync(join(fx.dest, 'hosts', 'vm', 'stray.txt'))).toBe(false);
    expect(existsSync(join(fx.dest, 'hosts', 'vm'))).toBe(true);
  });
});

describe('a repository not visible without a token', () => {
  it('the 404 names every place a token is read from, /etc/hostsync/token first', async () => {
    const { httpError } = await import('../../src/github/errors.js');
    const without = httpError(404, {}, { message: 'Not Found' }, "ref 'main'", { repo: 'acme/private', apiUrl: 'https://api.github.com', tokenSource: undefined }, 0);
    expect(without.message).toBe(
      'Repository acme/private not found at https://api.github.com, or not visible without a token. Check --repo and --api-url; a private repository needs a token: put it in /etc/hostsync/token (chmod 600) and set "tokenFile": "/etc/hostsync/token" in /etc/hostsync/config.json, or pass --token-file FILE (also read: $CREDENTIALS_DIRECTORY/github-token, GITHUB_TOKEN, GH_TOKEN, ~/.config/github/token).',
    );
    const withToken = httpError(404, {}, { message: 'Not Found' }, "ref 'main'", { repo: 'acme/private', apiUrl: 'https://api.github.com', tokenSource: 'GITHUB_TOKEN' }, 0);
    expect(withToken.message).toMatch(/not visible with the token from GITHUB_TOKEN\. Check --repo, --api-url and the token's access\.$/);
  });

  it('end to end: a sync without a token says where to put one', async () => {
    await fx.repo.write('flake.nix', '{}\n');
    await fx.repo.commit('one');
    await fx.server.addRepo('acme/private', fx.repo.dir, { private: true });
    const result = await fx.run(['sync', '--repo', 'acme/private', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true, env: { GITHUB_TOKEN: '', HOME: fx.tmp } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not visible without a token\. .*put it in \/etc\/hostsync\/token .*--token-file FILE/);
  });
});
