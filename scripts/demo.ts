/**
 * `npm run demo`: the whole job against the embedded sample — a GitHub-compatible server on
 * 127.0.0.1 serving a sample repository built with git — synced into ./.demo/dest, then one edit
 * pushed and synced again, printing exactly what real runs print.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startGitHubServer } from '../test/support/github-server.js';
import { sampleRepo } from '../test/support/repo.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = `${root}.demo`;
const bin = `${root}bin/hostsync.js`;

function hostsync(args: string[], env: Record<string, string>): Promise<number> {
  process.stdout.write(`\n$ hostsync ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
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
    const env = { GITHUB_API_URL: server.apiUrl, GITHUB_SERVER_URL: server.serverUrl, GITHUB_TOKEN: token };
    const common = ['--repo', 'acme/hypervisor', '--dest', `${work}/dest`, '--state-dir', `${work}/state`];
    process.stdout.write(`GitHub-compatible server at ${server.apiUrl} serving acme/hypervisor (a sample built with git in ${repo.dir})\n`);
    let code = await hostsync(['sync', ...common, ...(process.env['DEMO_VERBOSE'] ? ['--verbose'] : [])], env);
    code ||= await hostsync(['sync', ...common], env);
    await repo.write('hosts/alpha/configuration.nix', '{ ... }: { networking.hostName = "alpha"; # edited\n}\n');
    await repo.commit('Edit alpha');
    code ||= await hostsync(['sync', ...common, '--check-only'], env).then((c) => (c === 3 ? 0 : c));
    code ||= await hostsync(['sync', ...common, '--json'], env);
    process.stdout.write(`\nDEST is ${work}/dest; state in ${work}/state.\n`);
    process.exitCode = code;
  } finally {
    await server.close();
    await repo.cleanup();
  }
}

await main();
