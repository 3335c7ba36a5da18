/**
 * The command lines of hostsync and its peers, all against the same server with the same token:
 * hostsync through GITHUB_TOKEN, git through an `Authorization: Basic` extra header (what a
 * credential helper sends), the tarball through a Bearer header. Every child gets a clean
 * environment (no user git config, no developer token).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from './measure.js';

/** Where the tools run and what they talk to. */
export interface ToolContext {
  readonly apiUrl: string;
  readonly serverUrl: string;
  readonly token: string;
  /** A private HOME for every child. */
  readonly home: string;
  /** When set, hostsync runs with `--cpu-prof` into a subfolder named by `profileName`. */
  readonly profileDir: string | undefined;
  /** The hostsync entry point ({@link HOSTSYNC_BIN} unless measuring another build). */
  readonly bin: string;
}

export const HOSTSYNC_BIN = fileURLToPath(new URL('../../bin/hostsync.js', import.meta.url));
const TARBALL_PEER = fileURLToPath(new URL('./tarball-peer.mjs', import.meta.url));

function baseEnv(ctx: ToolContext): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: ctx.home, LANG: 'C', LC_ALL: 'C' };
}

/** `hostsync sync --json` (phases and their timings come in the JSON), with a transport when given. */
export function hostsyncSync(ctx: ToolContext, repo: string, dest: string, stateDir: string, profileName?: string, transport?: 'auto' | 'rest' | 'git'): Command {
  const prof = ctx.profileDir !== undefined && profileName !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, profileName)}`] : [];
  // A .js entry runs under this Node; anything else is an executable (the single-executable build).
  const viaNode = ctx.bin.endsWith('.js');
  return {
    file: viaNode ? process.execPath : ctx.bin,
    args: [...(viaNode ? [...prof, ctx.bin] : []), 'sync', '--repo', repo, '--dest', dest, '--state-dir', stateDir, '--json', ...(transport === undefined ? [] : ['--transport', transport])],
    cwd: ctx.home,
    // The code cache as the systemd unit has it (CacheDirectory=), in the bench's scratch home.
    env: { ...baseEnv(ctx), GITHUB_API_URL: ctx.apiUrl, GITHUB_SERVER_URL: ctx.serverUrl, GITHUB_TOKEN: ctx.token, NO_COLOR: '1', CACHE_DIRECTORY: `${ctx.home}/cache` },
  };
}

/** Environment of a hermetic git with the token sent as a credential helper would. */
function gitEnv(ctx: ToolContext): Record<string, string> {
  const basic = Buffer.from(`x-access-token:${ctx.token}`).toString('base64');
  return {
    ...baseEnv(ctx),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@hostsync.invalid',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@hostsync.invalid',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  };
}

function git(ctx: ToolContext, cwd: string, args: readonly string[]): Command {
  return { file: 'git', args: [...args], cwd, env: gitEnv(ctx) };
}

/** `git clone --depth 1 --single-branch` of `repo` into `dir` (which must not exist). */
export function gitClone(ctx: ToolContext, repo: string, dir: string): Command {
  return git(ctx, ctx.home, ['clone', '--quiet', '--depth', '1', '--single-branch', `${ctx.serverUrl}/${repo}.git`, dir]);
}

/** `git fetch --depth 1` of the clone's branch. */
export function gitFetch(ctx: ToolContext, dir: string): Command {
  return git(ctx, dir, ['fetch', '--quiet', '--depth', '1']);
}

/** `git reset --hard FETCH_HEAD`: what makes the working tree equal to what was fetched. */
export function gitReset(ctx: ToolContext, dir: string): Command {
  return git(ctx, dir, ['reset', '--quiet', '--hard', 'FETCH_HEAD']);
}

/** `git status --porcelain`: the local scan (stat every tracked file, look for untracked ones). */
export function gitStatus(ctx: ToolContext, dir: string): Command {
  return git(ctx, dir, ['status', '--porcelain']);
}

/** Download `/repos/{repo}/tarball/{ref}` with Node (following the codeload redirect) into `tar xz`. */
export function tarballDownload(ctx: ToolContext, repo: string, ref: string, dir: string): Command {
  return {
    file: process.execPath,
    args: [TARBALL_PEER, `${ctx.apiUrl}/repos/${repo}/tarball/${encodeURIComponent(ref)}`, dir],
    cwd: ctx.home,
    env: { ...baseEnv(ctx), GITHUB_TOKEN: ctx.token },
  };
}
