/**
 * `npm run demo`: the whole job against the embedded sample — a GitHub-compatible server on
 * 127.0.0.1 serving a sample repository built with git — driven by a config file in ./.demo:
 * `dev-update` (validate → sync → rebuild → validate) installs it, a second run finds nothing new,
 * an edit is previewed with --check-only and applied, and history lists the generations.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startGitHubServer } from '../test/support/github-server.js';
import { sampleRepo } from '../test/support/repo.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = `${root}.demo`;
const bin = `${root}bin/hostsync.js`;

function hostsync(args: string[], env: Record<string, string>, okCodes: number[] = [0]): Promise<number> {
  process.stdout.write(`\n$ hostsync ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('close', (code) => resolve(okCodes.includes(code ?? 1) ? 0 : (code ?? 1)));
  });
}

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const { repo } = await sampleRepo();
  const token = 'ghp_demoDemoDemoDemoDemoDemoDemoDemo0000';
  const server = await startGitHubServer({ tokens: [token] });
  try {
    await server.addRepo('acme/hypervisor', repo.dir);
    const config = `${work}/config.json`;
    await writeFile(
      config,
      `${JSON.stringify(
        {
          repo: 'acme/hypervisor',
          ref: 'main',
          dest: `${work}/dest`,
          stateDir: `${work}/state`,
          apiUrl: server.apiUrl,
          serverUrl: server.serverUrl,
          preserve: ['hosts/*/hardware-configuration.local.nix'],
          rebuild: { command: `echo "rebuilt $HOSTSYNC_COMMIT" >> ${work}/rebuild.log`, when: 'changed' },
        },
        null,
        2,
      )}\n`,
    );
    // Everything the demo writes stays in .demo/, the code cache too (as root it would be /var/cache/hostsync).
    const env = { GITHUB_TOKEN: token, CACHE_DIRECTORY: `${work}/cache` };
    const verbose = process.env['DEMO_VERBOSE'] ? ['--verbose'] : [];
    process.stdout.write(`GitHub-compatible server at ${server.apiUrl} serving acme/hypervisor (a sample built with git in ${repo.dir})\nconfig: ${config}\n`);
    let code = await hostsync(['dev-update', '--config', config, ...verbose], env);
    code ||= await hostsync(['dev-update', '--config', config], env);
    await repo.write('hosts/alpha/configuration.nix', '{ ... }: { networking.hostName = "alpha"; # edited\n}\n');
    await repo.commit('Edit alpha');
    code ||= await hostsync(['sync', '--config', config, '--check-only'], env, [0, 3]);
    code ||= await hostsync(['dev-update', '--config', config], env);
    code ||= await hostsync(['history', '--config', config], env);
    process.stdout.write(`\nDEST is ${work}/dest; state in ${work}/state; the rebuild wrote ${work}/rebuild.log.\n`);
    process.exitCode = code;
  } finally {
    await server.close();
    await repo.cleanup();
  }
}

await main();
