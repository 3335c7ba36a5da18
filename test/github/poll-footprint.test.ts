/**
 * An unchanged poll — what a timer runs every few minutes on every host — is one conditional request on
 * node:http (src/github/ref-request.ts). It must not load undici (~65–150 ms of start-up and ~17 MB) or the
 * REST client (Octokit): those are imported on the first request that needs them. An update over git's
 * wire protocol without a proxy does not need them either (src/net/direct-request.ts). Node's own module
 * debug log (NODE_DEBUG=esm,module) of the spawned CLI says what was loaded. The CLI runs from the
 * per-file build here, where each package is a module Node loads by name; the bundle bin/hostsync.js
 * runs keeps the same lazy imports (esbuild turns each into a call made when it is reached).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await createFixture();
  await fx.repo.write('hosts/alpha.nix', '{ alpha }\n');
  await fx.repo.commit('one');
  await fx.sync();
});

afterAll(async () => {
  await fx.close();
});

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** `hostsync sync --json …` from the per-file build, with Node's module debug log on stderr. */
async function runLogged(...args: string[]): Promise<CliResult> {
  const entry = join(fx.tmp, 'per-file-entry.mjs');
  await writeFile(entry, `import { main } from ${JSON.stringify(MAIN)};\nawait main(process.argv);\n`);
  const argv = [entry, 'sync', '--json', ...args, '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir];
  const env = { ...fx.env, PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: fx.tmp, NO_COLOR: '1', NODE_DEBUG: 'esm,module' };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { env, cwd: fx.tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The packages under node_modules a spawned run loaded, by name. */
function packagesLoaded(debugLog: string): string[] {
  const names = new Set<string>();
  for (const match of debugLog.matchAll(/node_modules\/((?:@[^/]+\/)?[^/"'\s]+)/g)) names.add(match[1]!);
  return [...names].sort();
}

describe('an unchanged poll', () => {
  it('loads neither undici nor Octokit, nor does an update over the wire protocol; the REST path loads undici', async () => {
    const poll = await runLogged();
    expect(poll.code, poll.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(poll.stdout)).toMatchObject({ apiRequests: 1, blobsDownloaded: 0, pending: false });
    const loaded = packagesLoaded(poll.stderr);
    expect(loaded).toContain('cac'); // the log does show packages
    expect(loaded.filter((name) => name === 'undici' || name.startsWith('@octokit/'))).toEqual([]);

    await fx.repo.write('hosts/beta.nix', '{ beta }\n');
    await fx.repo.commit('two');
    const update = await runLogged();
    expect(update.code, update.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(update.stdout)).toMatchObject({ source: 'wire', strategy: 'pack', blobsDownloaded: 1 });
    expect(packagesLoaded(update.stderr).filter((name) => name === 'undici' || name.startsWith('@octokit/'))).toEqual([]);

    // The control: REST blob downloads bring undici in.
    await fx.repo.write('hosts/gamma.nix', '{ gamma }\n');
    await fx.repo.commit('three');
    const rest = await runLogged('--transport', 'rest');
    expect(rest.code, rest.stderr.slice(-2000)).toBe(0);
    expect(packagesLoaded(rest.stderr)).toContain('undici');
  });
});
