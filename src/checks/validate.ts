/**
 * `validateDestination`: one validate of one destination, start to end — build the checks from
 * the config (config errors first, before anything is looked at), resolve DEST, take the lock when
 * fixing (a read-only validate never blocks a sync), run, fix, run again.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { CheckConfig } from '../config/types.js';
import { errorMessage, HostsyncError, UsageError } from '../errors.js';
import type { GitHubClient } from '../github/types.js';
import type { Manifest, WantedBlob } from '../model.js';
import { loadManifest } from '../state/manifest.js';
import type { Logger } from '../model.js';
import { preserveMatcher } from '../apply/local-plan.js';
import { childEnv } from '../child-env.js';
import { createBlobStrategy } from '../transfer/blobs.js';
import { contentRoot } from '../apply/restore.js';
import { resolveDestination, withDestination, type Destination } from '../apply/destination.js';
import { createHostProbe } from './probe.js';
import { buildChecks } from './registry.js';
import { createRepairer } from './repair.js';
import { runValidation, type ValidationReport } from './runner.js';
import type { Check, CheckContext, RunCommand } from './types.js';

/** The settings validate reads (a subset of the config; `repo` may come from the manifest). */
export interface ValidateSettings {
  readonly dest: string;
  readonly layout: 'inplace' | 'symlink';
  readonly stateDir: string;
  readonly repo: string | undefined;
  readonly preserve: readonly string[];
  readonly prune: boolean;
  readonly owner: string | undefined;
  readonly group: string | undefined;
  readonly checks: readonly CheckConfig[];
  readonly preset: string | undefined;
  readonly lockTimeout: number;
  readonly historyLimit: number;
  readonly concurrency: number;
  readonly allowSystemDest: boolean;
  readonly backupLimitMb: number;
}

export interface ValidateDeps {
  readonly runCommand: RunCommand;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  /** A GitHub client for `repo`, created only when a fix needs to download. */
  readonly createClient?: ((repo: string) => Promise<GitHubClient>) | undefined;
  /** An opened destination (dev-update's); without it validate opens its own, locked only to fix. */
  readonly destination?: Destination | undefined;
}

export interface ValidateResult extends ValidationReport {
  readonly dest: string;
  readonly commit: string | undefined;
}

/** DEST as its state is keyed: sync's own rule (the real path, or with layout "symlink" the link itself). */
export async function destinationKey(dest: string, layout: 'inplace' | 'symlink'): Promise<string> {
  return resolveDestination({ dest, layout });
}

/** Build the configured checks, or throw a UsageError listing every problem with them. */
export function checksOrThrow(settings: Pick<ValidateSettings, 'checks' | 'preset' | 'owner' | 'group'>): Check[] {
  const { checks, errors } = buildChecks({ checks: settings.checks, preset: settings.preset, ownership: settings.owner !== undefined || settings.group !== undefined });
  if (errors.length === 1) throw new UsageError(errors[0]!);
  if (errors.length > 1) throw new UsageError(`${errors.length} problems with the configured checks:\n  ${errors.join('\n  ')}`);
  return checks;
}

/** `hosts/vm` → hosts, hosts/vm: a required folder's parents must exist too. */
function withParents(dirs: readonly string[]): Set<string> {
  const all = new Set<string>();
  for (const dir of dirs) {
    const parts = dir.split('/').filter((part) => part !== '' && part !== '.');
    for (let i = 1; i <= parts.length; i++) all.add(parts.slice(0, i).join('/'));
  }
  return all;
}

/** Validate (and with `fix`, repair) one destination. */
export async function validateDestination(settings: ValidateSettings, options: { readonly fix: boolean }, deps: ValidateDeps): Promise<ValidateResult> {
  const checks = checksOrThrow(settings);
  if (deps.destination !== undefined) return validateOpened(deps.destination, checks, settings, options, deps);
  // A read-only validate never blocks a sync; fixing takes the lock (exit 4 while a sync runs).
  return withDestination(settings, { log: deps.log, lock: options.fix, write: options.fix, inspect: true }, (destination) => validateOpened(destination, checks, settings, options, deps));
}

async function validateOpened(destination: Destination, checks: Check[], settings: ValidateSettings, options: { readonly fix: boolean }, deps: ValidateDeps): Promise<ValidateResult> {
  const { paths, store } = destination;
  const dest = paths.dest;
  const isPreserved = preserveMatcher(settings.preserve);
  let manifestRepo: string | undefined;
  const fetchBlobs = async (blobs: readonly WantedBlob[]): Promise<void> => {
    const repo = settings.repo ?? manifestRepo;
    if (deps.createClient === undefined || repo === undefined) {
      throw new HostsyncError(`${blobs.length} blob(s) to restore (e.g. ${blobs[0]?.path}) are not in the object store and no repository is known to download them from; pass --repo OWNER/NAME.`);
    }
    deps.log('info', `Downloading ${blobs.length} blob(s) from ${repo} to restore DEST.`);
    const client = await deps.createClient(repo);
    try {
      await createBlobStrategy({ client, concurrency: settings.concurrency }).fetch(blobs, { store, log: deps.log });
    } finally {
      await client.close();
    }
  };
  const expectedDirs = withParents(checks.flatMap((check) => check.expects?.(hostname()) ?? []));
  // A --fix --prune keeps the required folders the commit does not have (they are expected).
  const keep = (manifest: Manifest | undefined): string[] => {
    const managed = new Set((manifest?.entries ?? []).map((entry) => entry.path));
    return [...expectedDirs].filter((dir) => !managed.has(dir));
  };
  const repair = createRepairer({ destination, preserve: settings.preserve, keep, historyLimit: settings.historyLimit, fetchBlobs });
  let lastCommit: string | undefined;
  const makeContext = async (): Promise<CheckContext> => {
    let manifest: Manifest | undefined;
    let manifestError: string | undefined;
    try {
      manifest = await loadManifest(paths.manifest);
    } catch (error) {
      if (!(error instanceof HostsyncError)) throw error;
      manifestError = errorMessage(error);
      manifest = destination.manifest;
    }
    manifestRepo = manifest?.repo;
    lastCommit = manifest?.commit;
    const root = await contentRoot(dest, settings.layout).catch((error: unknown) => {
      if (error instanceof HostsyncError) return join(dest, '.none'); // the dest check reports what DEST is instead
      throw error;
    });
    const host = createHostProbe({ paths, root, store, manifest, isPreserved, runCommand: deps.runCommand, env: childEnv(deps.env) });
    return { dest, root, paths, manifest, manifestError, isPreserved, expectedDirs, prune: settings.prune, owner: settings.owner, group: settings.group, host, repair };
  };
  const report = await runValidation(checks, makeContext, {
    fix: options.fix,
    onFix: (id, ok, message) => deps.log(ok ? 'info' : 'warn', `fix ${id}: ${message}`),
  });
  return { ...report, dest, commit: lastCommit };
}
