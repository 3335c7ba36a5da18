/**
 * The git server's protocol v2 advertisement is remembered between runs (src/state/capabilities.ts):
 * an update after the first sends its `fetch` without the `info/refs` GET (one round trip less), and
 * an advertisement the server no longer stands by costs one fresh GET, never a failed run.
 */
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITIES_TTL_MS, loadCapabilityMemo } from '../../src/state/capabilities.js';
import { destPaths } from '../../src/state/layout.js';
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

async function commitNext(): Promise<string> {
  version++;
  await fx.repo.write('flake.nix', `{ v${version} }\n`);
  return fx.repo.commit(`v${version}`);
}

const gitRequests = (): string[] => fx.server.requests.filter((r) => r.kind === 'git').map((r) => `${r.method} ${r.path.replace(/\?.*/, '')}`);

async function memoFile(): Promise<string> {
  return destPaths(fx.stateDir, await realpath(fx.dest)).capabilities;
}

describe('remembered capabilities', () => {
  it('an update after the first run sends its fetch without the info/refs GET', async () => {
    await commitNext();
    fx.server.resetLog();
    await fx.sync();
    expect(gitRequests().filter((r) => r.startsWith('GET ')).length).toBe(1);
    const saved = JSON.parse(await readFile(await memoFile(), 'utf8')) as Record<string, { lines: string[]; at: number }>;
    const [url, entry] = Object.entries(saved)[0] ?? [];
    expect(url).toMatch(/\/acme\/hypervisor\.git$/);
    expect(entry?.lines.some((line) => line.startsWith('fetch=') && line.includes('shallow'))).toBe(true);

    const commit = await commitNext();
    fx.server.resetLog();
    const result = await fx.sync();
    expect(result['commit']).toBe(commit);
    expect(gitRequests()).toEqual(['POST /acme/hypervisor.git/git-upload-pack']);
    await fx.expectSameAsCommit(commit);
  });

  it('remembered capabilities that lack what a request needs cost one fresh GET at once: no retries, no warnings', async () => {
    const file = await memoFile();
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, { lines: string[]; at: number }>;
    for (const entry of Object.values(saved)) entry.lines = ['fetch'];
    await writeFile(file, JSON.stringify(saved));
    const commit = await commitNext();
    fx.server.resetLog();
    const result = await fx.run(['sync', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result)['commit']).toBe(commit);
    expect(result.stderr).not.toMatch(/warn|retry/);
    expect(gitRequests()).toEqual(['GET /acme/hypervisor.git/info/refs', 'POST /acme/hypervisor.git/git-upload-pack']);
  });

  it('an advertisement the server no longer stands by costs one fresh GET', async () => {
    const file = await memoFile();
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, { lines: string[]; at: number }>;
    // Remembered as if the server had dropped shallow fetches: the request cannot be built from it.
    for (const entry of Object.values(saved)) entry.lines = entry.lines.map((line) => (line.startsWith('fetch') ? 'fetch' : line));
    await writeFile(file, JSON.stringify(saved));
    const commit = await commitNext();
    fx.server.resetLog();
    const result = await fx.sync();
    expect(result['commit']).toBe(commit);
    expect(gitRequests().filter((r) => r.startsWith('GET ')).length).toBe(1);
    await fx.expectSameAsCommit(commit);
    const fresh = JSON.parse(await readFile(file, 'utf8')) as Record<string, { lines: string[] }>;
    expect(Object.values(fresh)[0]?.lines.some((line) => line.startsWith('fetch') && line.includes('shallow'))).toBe(true);
  });

  it('a server that refuses a POST made on remembered capabilities (a 4xx, say a moved repository) gets one fresh advertisement', async () => {
    const commit = await commitNext();
    fx.server.resetLog();
    fx.server.faults = [{ match: (req) => req.method === 'POST' && req.path.endsWith('/git-upload-pack'), times: 1, action: { status: 400, body: 'bad request' } }];
    try {
      const result = await fx.sync();
      expect(result['commit']).toBe(commit);
    } finally {
      fx.server.faults = [];
    }
    expect(gitRequests()).toEqual(['POST /acme/hypervisor.git/git-upload-pack', 'GET /acme/hypervisor.git/info/refs', 'POST /acme/hypervisor.git/git-upload-pack']);
    await fx.expectSameAsCommit(commit);
  });

  it('a transient failure, then a refusal of what was remembered: the fresh advertisement still comes, no REST fallback', async () => {
    const commit = await commitNext();
    fx.server.resetLog();
    const isPost = (req: { method: string; path: string }): boolean => req.method === 'POST' && req.path.endsWith('/git-upload-pack');
    fx.server.faults = [
      { match: isPost, times: 1, action: { status: 502, body: 'bad gateway' } },
      { match: isPost, times: 1, action: { status: 400, body: 'bad request' } },
    ];
    try {
      const result = await fx.run(['sync', '--json']);
      expect(result.code, result.stderr).toBe(0);
      expect(parseJson(result)).toMatchObject({ commit, source: 'wire' });
      expect(result.stderr).not.toMatch(/REST API/);
    } finally {
      fx.server.faults = [];
    }
    expect(gitRequests()).toEqual(['POST /acme/hypervisor.git/git-upload-pack', 'POST /acme/hypervisor.git/git-upload-pack', 'GET /acme/hypervisor.git/info/refs', 'POST /acme/hypervisor.git/git-upload-pack']);
  });

  it('a --check-only run writes nothing to the state dir', async () => {
    const file = await memoFile();
    await writeFile(file, '{}');
    await commitNext();
    const preview = await fx.run(['sync', '--json', '--check-only']);
    expect(preview.code, preview.stderr).toBe(3); // pending changes
    expect(await readFile(file, 'utf8')).toBe('{}');
  });
});

describe('loadCapabilityMemo', () => {
  it('uses an advertisement for a day, ignores a corrupt file, and saves what a run learnt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-caps-'));
    const file = join(dir, 'caps.json');
    let now = 1_000_000;
    const clock = (): number => now;
    expect((await loadCapabilityMemo(file, 'https://h/r.git', clock)).known).toBeUndefined();
    const memo = await loadCapabilityMemo(file, 'https://h/r.git', clock);
    memo.remember(['version 2', 'fetch=shallow']);
    await memo.save();
    expect((await loadCapabilityMemo(file, 'https://h/r.git', clock)).known).toEqual(['version 2', 'fetch=shallow']);
    expect((await loadCapabilityMemo(file, 'https://other/r.git', clock)).known).toBeUndefined();
    now += CAPABILITIES_TTL_MS;
    expect((await loadCapabilityMemo(file, 'https://h/r.git', clock)).known).toBeUndefined();
    await writeFile(file, '{"https://h/r.git": {"lines": "not a list", "at": 1}}');
    expect((await loadCapabilityMemo(file, 'https://h/r.git', clock)).known).toBeUndefined();
    await writeFile(file, 'not json');
    expect((await loadCapabilityMemo(file, 'https://h/r.git', clock)).known).toBeUndefined();

    // A server that now redirects: its entry is dropped, the others' kept.
    for (const url of ['https://h/r.git', 'https://other/r.git']) {
      const each = await loadCapabilityMemo(file, url, clock);
      each.remember(['fetch=shallow']);
      await each.save();
    }
    const moved = await loadCapabilityMemo(file, 'https://h/r.git', clock);
    moved.forget();
    await moved.save();
    expect((await loadCapabilityMemo(file, 'https://h/r.git', clock)).known).toBeUndefined();
    expect((await loadCapabilityMemo(file, 'https://other/r.git', clock)).known).toEqual(['fetch=shallow']);
    await rm(dir, { recursive: true, force: true });
  });
});
