/**
 * `disk-space`: free space on the filesystems holding DEST and the state dir (fs.statfs) above a
 * threshold — an apply needs room for temp files beside their targets, and the store for blobs.
 */
import type { Check, CheckOutcome, SpaceFacts } from './types.js';
import { formatSize, outcome } from './outcome.js';
import type { Params } from './params.js';

/** The default threshold, in MiB. */
export const DEFAULT_MIN_FREE_MB = 100;

export interface SpaceThreshold {
  readonly minFreeBytes: number;
  /** Percent of the filesystem's size; 0 to ignore. */
  readonly minFreePercent: number;
}

/** One filesystem to look at. */
export interface SpaceSample {
  /** "DEST" or "state dir". */
  readonly label: string;
  readonly path: string;
  readonly space: SpaceFacts | undefined;
}

/** Evaluate free space against the threshold. Pure. */
export function evaluateSpace(samples: readonly SpaceSample[], threshold: SpaceThreshold): CheckOutcome {
  const low: string[] = [];
  const fine: string[] = [];
  const paths: string[] = [];
  for (const sample of samples) {
    if (sample.space === undefined) {
      fine.push(`${sample.label}: unknown (statfs failed)`);
      continue;
    }
    const { freeBytes, totalBytes } = sample.space;
    const percent = totalBytes === 0 ? 100 : (freeBytes / totalBytes) * 100;
    const words = `${sample.label} (${sample.path}): ${formatSize(freeBytes)} free of ${formatSize(totalBytes)} (${percent.toFixed(0)}%)`;
    if (freeBytes < threshold.minFreeBytes || percent < threshold.minFreePercent) {
      low.push(words);
      paths.push(sample.path);
    } else fine.push(words);
  }
  const limit = `at least ${formatSize(threshold.minFreeBytes)}${threshold.minFreePercent > 0 ? ` and ${threshold.minFreePercent}%` : ''} free`;
  if (low.length > 0) return outcome('fail', `Low disk space: ${low.join('; ')}; hostsync wants ${limit}. Free some space (e.g. old generations, nix-collect-garbage) or lower minFreeMb.`, paths);
  return outcome('pass', `${fine.join('; ')}.`);
}

/** The `disk-space` check: `minFreeMb` (default 100), `minFreePercent` (default 0). */
export function diskSpaceCheck(id: string, params: Params): Check {
  const minFreeMb = params.integer('minFreeMb', 0, 10_000_000, 1024) ?? DEFAULT_MIN_FREE_MB;
  const minFreePercent = params.integer('minFreePercent', 0, 99, 5) ?? 0;
  return {
    id,
    type: 'disk-space',
    async run(context) {
      const samples: SpaceSample[] = [
        { label: 'DEST', path: context.root, space: await context.host.space(context.root) },
        { label: 'state dir', path: context.paths.stateDir, space: await context.host.space(context.paths.stateDir) },
      ];
      return evaluateSpace(samples, { minFreeBytes: minFreeMb * 1024 * 1024, minFreePercent });
    },
  };
}
