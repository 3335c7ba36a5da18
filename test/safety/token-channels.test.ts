/**
 * The token never leaves through an output channel. Real spawned runs — a dev-update (validate, sync over
 * git's wire protocol, a rebuild, the outcome hook), a sync over the git CLI (the API quota spent, so the
 * clone path runs a real `git`), and a failing sync — with a token in the environment; then every channel
 * is searched for it in every form it travels in (raw, and base64 of the Basic credentials git and LFS send):
 * stdout, stderr, the `--json` documents, the metrics file, every file of the state directory, and the
 * arguments and environment of every command hostsync spawned (the rebuild, the hook, and git through a
 * recording `git` on PATH). The one place the credential must go is git's own environment, base64-encoded
 * in `GIT_CONFIG_VALUE_<n>` as an `http.extraHeader` (docs/security.md): the test asserts it is there and
 * nowhere else.
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';
import type { CliResult } from '../support/cli.js';

const REAL_GIT = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();

/** Every form the token travels in: raw, and base64 of Basic credentials with the user names hostsync sends. */
const FORMS: readonly string[] = [TOKEN, ...['x-access-token', 'oauth2', ''].map((user) => Buffer.from(`${user}:${TOKEN}`).toString('base64'))];
const leaks = (text: string): string[] => FORMS.filter((form) => text.includes(form));

let fx: Fixture;
let bin: string;
let records: string;
const runs: CliResult[] = [];

/** Every file under `dir`, with its content (binary files included: searched as latin1). */
async function filesUnder(dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    found.set(file, (await readFile(file)).toString('latin1'));
  }
  return found;
}

beforeAll(async () => {
  fx = await createFixture();
  bin = join(fx.tmp, 'bin');
  records = join(fx.tmp, 'records');
  await mkdir(bin);
  await mkdir(records);
  // A recorder for the rebuild and the hook, and a git that records, then runs the real one.
  const recorder = join(bin, 'record');
  await writeFile(recorder, `#!/bin/sh\n{ echo "ARGV $0 $*"; env; } > "${records}/$(basename "$0")-$$.txt"\ncat > /dev/null\n`);
  await writeFile(join(bin, 'git'), `#!/bin/sh\n{ echo "ARGV git $*"; env | sed 's/^/ENV /'; } > "${records}/git-$$.txt"\nexec "${REAL_GIT}" "$@"\n`);
  await chmod(recorder, 0o755);
  await chmod(join(bin, 'git'), 0o755);
  const metrics = join(fx.tmp, 'hostsync.prom');
  const config = join(fx.tmp, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      repo: 'acme/hypervisor',
      dest: fx.dest,
      stateDir: fx.stateDir,
      metricsFile: metrics,
      rebuild: { command: `${recorder} --flake ${fx.dest}`, when: 'always', timeoutSec: 60 },
      hooks: { onOutcome: recorder },
    }),
  );
  const env = { PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, GITHUB_TOKEN: TOKEN };

  await fx.repo.write('flake.nix', '{ v1 }\n');
  await fx.repo.write('hosts/alpha.nix', '{ alpha }\n');
  await fx.repo.commit('v1');
  runs.push(await fx.run(['dev-update', '--json', '--config', config, '--verbose'], { bare: true, spawn: true, env }));

  await fx.repo.write('flake.nix', '{ v2 }\n');
  await fx.repo.commit('v2');
  fx.server.rateLimit.remaining = 0; // the REST source cannot serve: the git CLI does (a real clone)
  runs.push(await fx.run(['sync', '--json', '--config', config, '--transport', 'rest', '--verbose'], { bare: true, spawn: true, env }));
  fx.server.rateLimit.remaining = fx.server.rateLimit.limit;

  runs.push(await fx.run(['sync', '--json', '--config', config, '--ref', 'no-such-branch', '--verbose'], { bare: true, spawn: true, env }));
}, 120_000);

afterAll(async () => {
  await fx.close();
});

describe('the token in every output channel', () => {
  it('the runs did what the channels are checked for', () => {
    expect(runs.map((run) => run.code)).toEqual([0, 0, 1]);
    expect(JSON.parse(runs[0]!.stdout)).toMatchObject({ ok: true });
    expect(JSON.parse(runs[1]!.stdout)).toMatchObject({ ok: true, strategy: 'clone' });
    expect(JSON.parse(runs[2]!.stdout)).toMatchObject({ ok: false });
  });

  it('is in no stdout, stderr or --json document', () => {
    for (const run of runs) expect([...leaks(run.stdout), ...leaks(run.stderr)]).toEqual([]);
  });

  it('is in no file of the state directory, and not in the metrics file', async () => {
    const files = await filesUnder(fx.stateDir);
    expect(files.size).toBeGreaterThan(3);
    expect([...files].filter(([, text]) => leaks(text).length > 0).map(([file]) => file)).toEqual([]);
    const metrics = await readFile(join(fx.tmp, 'hostsync.prom'), 'utf8');
    expect(metrics).toContain('hostsync_');
    expect(leaks(metrics)).toEqual([]);
  });

  it('is in no argument or environment of the rebuild and the hook', async () => {
    const recorded = [...(await filesUnder(records))].filter(([file]) => file.includes('/record-'));
    // dev-update's rebuild and its outcome hook, the clone sync's hook, the failed sync's hook.
    expect(recorded.length).toBeGreaterThanOrEqual(4);
    expect(recorded.some(([, text]) => text.startsWith(`ARGV ${join(bin, 'record')} --flake ${fx.dest}`))).toBe(true);
    for (const [file, text] of recorded) expect(leaks(text), file).toEqual([]);
  });

  it("reaches git only in git's environment, base64-encoded as an extraHeader, never in its arguments", async () => {
    const calls = [...(await filesUnder(records))].filter(([file]) => file.includes('/git-')).map(([, text]) => text);
    // The commands that talk to the server (git's `-c fetch.…` settings are on every command line).
    const fetches = calls.filter((text) => /^ARGV git .* (fetch|ls-remote) (--|http)/m.test(text));
    const local = calls.filter((text) => !fetches.includes(text));
    expect(fetches.length).toBeGreaterThan(0);
    for (const text of calls) {
      const lines = text.split('\n');
      expect(leaks(lines.filter((line) => line.startsWith('ARGV ')).join('\n'))).toEqual([]);
      expect(text).not.toContain(TOKEN); // never raw
      for (const line of lines.filter((l) => leaks(l).length > 0)) expect(line).toMatch(/^ENV GIT_CONFIG_VALUE_\d+=Authorization: Basic [A-Za-z0-9+/=]+$/);
    }
    expect(fetches.every((text) => /^ENV GIT_CONFIG_VALUE_\d+=Authorization: Basic /m.test(text))).toBe(true);
    // git commands that only read the local repository (init, cat-file, ls-tree) are not given it at all.
    expect(local.length).toBeGreaterThan(0);
    for (const text of local) expect(leaks(text)).toEqual([]);
  });
});
