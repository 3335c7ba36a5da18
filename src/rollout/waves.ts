/**
 * A host's wave: a stable hash of its id places it at a percentile of the fleet, and the first
 * wave whose cumulative percentage is above that percentile is its wave. The same hosts go first
 * every time, and no host needs to know the others. Pure.
 */
import { createHash } from 'node:crypto';
import type { RolloutConfig } from '../config/rollout.js';

export interface Wave {
  /** From 0: wave 0 applies a new commit as soon as it sees it, wave i after i × interval. */
  readonly index: number;
  /** How many waves the rollout has. */
  readonly count: number;
  /** Where the host falls in the fleet, 0 ≤ p < 100. */
  readonly percentile: number;
  /** How long a new commit must have been visible before this host applies it. */
  readonly delaySec: number;
}

/** The host's place in the fleet: a uniform, stable value in [0, 100) from its id. */
export function percentileOf(hostId: string): number {
  const digest = createHash('sha256').update(`hostsync-rollout\0${hostId}`).digest();
  return (digest.readUIntBE(0, 6) / 2 ** 48) * 100;
}

/** The wave of `hostId` under `rollout`. */
export function waveOf(hostId: string, rollout: RolloutConfig): Wave {
  const percentile = percentileOf(hostId);
  const found = rollout.waves.findIndex((upTo) => percentile < upTo);
  const index = found === -1 ? rollout.waves.length - 1 : found;
  return { index, count: rollout.waves.length, percentile, delaySec: index * rollout.intervalSec };
}
