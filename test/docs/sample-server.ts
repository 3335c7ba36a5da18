/**
 * The sample server of docs/getting-started.md ("Try it without GitHub"): the GitHub-compatible
 * test server on 127.0.0.1 serving the embedded sample repository as the private `acme/hypervisor`,
 * plus a ready-to-use config directory, so `hostsync validate` and `hostsync dev-update` can be
 * tried without GitHub, a token or root:
 *
 *   node --import tsx test/docs/sample-server.ts [DIR]      (DIR defaults to .demo/try)
 *
 * It writes DIR/config.json, DIR/token (mode 0600) and DIR/repo (a symlink to the sample's git
 * working tree, where commits are served at once), prints a line starting with `ready:`, and runs
 * until SIGINT or SIGTERM, then removes the sample repository. DIR is emptied first, but only when
 * it is absent, empty, or was made by this script (it holds `.hostsync-sample`).
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { startGitHubServer } from '../support/github-server.js';
import { sampleRepo } from '../support/repo.js';

const MARKER = '.hostsync-sample';

/** Refuse to empty a directory this script did not make. */
async function prepare(dir: string): Promise<void> {
  const names: string[] = await readdir(dir).catch((error: unknown) => {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return [];
    throw error;
  });
  if (names.length > 0 && !names.includes(MARKER)) {
    throw new Error(`${dir} is not empty and was not made by this script (no ${MARKER} in it); pass another directory.`);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), 'made by test/docs/sample-server.ts; emptied on its next run\n');
}

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? '.demo/try');
  await prepare(dir);
  const token = `ghp_sample${randomBytes(15).toString('hex')}`;
  const { repo, commit } = await sampleRepo();
  // An identity in the sample's own config, so a plain `git commit` works there.
  await appendFile(join(repo.dir, '.git', 'config'), '[user]\n\tname = hostsync sample\n\temail = sample@hostsync.invalid\n');
  const server = await startGitHubServer({ tokens: [token] });
  await server.addRepo('acme/hypervisor', repo.dir, { private: true });

  await writeFile(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
  await symlink(repo.dir, join(dir, 'repo'));
  const config = {
    repo: 'acme/hypervisor',
    ref: 'main',
    dest: 'dest',
    stateDir: 'state',
    apiUrl: server.apiUrl,
    serverUrl: server.serverUrl,
    tokenFile: 'token',
    prune: true,
    checks: [
      { type: 'required', files: ['flake.nix', 'flake.lock'] },
      { type: 'json', paths: ['flake.lock'] },
    ],
    rebuild: {
      command: 'echo "rebuild: switching to $HOSTSYNC_COMMIT ($(wc -l < "$HOSTSYNC_CHANGED_FILES") changed path(s))"',
      when: 'changed',
      timeoutSec: 60,
    },
  };
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const shown = relative(process.cwd(), dir) || '.';
  process.stdout.write(
    [
      `ready: GitHub-compatible server at ${server.apiUrl} serving acme/hypervisor (private), main at ${commit.slice(0, 12)}`,
      `config:  ${shown}/config.json (dest ${shown}/dest, state ${shown}/state, token ${shown}/token)`,
      `sample:  ${shown}/repo -> ${repo.dir} (commit there; the server serves it at once)`,
      `stop:    kill ${process.pid}`,
      '',
    ].join('\n'),
  );

  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.close();
  await repo.cleanup();
  await rm(join(dir, 'repo'), { force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`sample-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
