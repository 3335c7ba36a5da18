/**
 * The package as people install it: `npm pack`, then `npm install -g` of the tarball into a temp
 * prefix, engines checked against Node 20.19.0 (package.json's floor) whatever node runs the test.
 * No EBADENGINE warning, `npm ls` calls the tree valid, and the installed `hostsync` runs.
 *
 * `overrides` in package.json apply to this checkout only, never to people installing the package,
 * so the fix for content-type 3 (engines: node >= 22, pulled in by @octokit/request >= 10.0.15) is
 * in `dependencies`: the octokit packages that depend on @octokit/request pinned to their last
 * releases that accept @octokit/request 10.0.14, and that version pinned beside them, so npm
 * resolves every one of their ranges to it. Needs the build (dist/) and the npm cache or registry.
 */
import { spawnSync } from 'node:child_process';
import { TEST_CODE_CACHE } from '../support/cli.js';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** package.json's engines floor: what people on the oldest supported node get. */
const NODE_FLOOR = '20.19.0';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hostsync-pack-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function npm(args: readonly string[], cwd: string): { status: number | null; output: string; stdout: string } {
  const run = spawnSync('npm', [...args], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }, timeout: 300_000 });
  return { status: run.status, output: `${run.stdout}\n${run.stderr}`, stdout: run.stdout };
}

describe('npm install -g of the packed package', () => {
  it('installs without an engine warning, with a valid tree, and runs', async () => {
    expect(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: run `npm run build` first (npm test does)').toBe(true);
    const pack = npm(['pack', '--ignore-scripts', '--pack-destination', tmp, '--json'], ROOT);
    expect(pack.status, pack.output).toBe(0);
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    const tarball = join(tmp, filename);

    const prefix = join(tmp, 'prefix');
    const install = npm(['install', '--global', '--prefix', prefix, '--prefer-offline', `--node-version=${NODE_FLOOR}`, tarball], tmp);
    expect(install.status, install.output).toBe(0);
    expect(install.output).not.toMatch(/EBADENGINE|Unsupported engine/);

    const ls = npm(['ls', '--global', '--prefix', prefix, '--all'], tmp);
    expect(ls.status, ls.output).toBe(0);
    expect(ls.output).not.toMatch(/invalid|ELSPROBLEMS|UNMET DEPENDENCY/); // UNMET OPTIONAL DEPENDENCY is fine
    // One copy of content-type, the Node-20 one.
    const contentType = JSON.parse(await readFile(join(prefix, 'lib', 'node_modules', 'hostsync', 'node_modules', 'content-type', 'package.json'), 'utf8')) as { version: string };
    expect(contentType.version).toMatch(/^2\./);

    const version = spawnSync(join(prefix, 'bin', 'hostsync'), ['--version'], { encoding: 'utf8', env: { ...process.env, CACHE_DIRECTORY: TEST_CODE_CACHE } });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(new RegExp(`^hostsync/${VERSION.replace(/\./g, '\\.')} `));
  }, 300_000);
});
