/**
 * The rollout gate: may this host apply the ref's commit now, or does it keep the commit it has?
 * A commit is "first seen" when this host first found it at the tip of its ref, timed by the
 * server's clock (the `Date` of the answer that showed it) — decision 0010. Wave i applies it once
 * it has been seen for i × interval; a newer tip starts its own clock, so a commit that is replaced
 * (a revert) before a wave's time never reaches that wave. `decideRollout` is pure; the
 * observation lives in `<dest state>/rollout.json`.
 */
import { join } from 'node:path';
import type { RolloutConfig } from '../config/rollout.js';
import type { Manifest } from '../model.js';
import { ensurePrivateDir, readJson, writeJsonAtomic } from '../state/files.js';
import type { HostIdentity } from './identity.js';
import { waveOf, type Wave } from './waves.js';

/** Which clock a time was read from: the server's `Date` header, or this host's. */
export type ClockSource = 'server' | 'host';

/** The tip of the ref as this host first saw it. */
export interface Observation {
  readonly ref: string;
  readonly commit: string;
  readonly firstSeenMs: number;
  readonly clock: ClockSource;
}

/**
 * Why the gate let the commit through, or not:
 * - first-install: nothing applied yet, the ref's commit is taken at once
 * - ref-changed: DEST holds another repository, folder or ref (an operator's change): at once
 * - host-ref: the ref chosen is this host's own (`%H`, `%I`): at once
 * - current: the tip is the commit DEST holds
 * - due: the commit has been seen for the wave's delay
 * - waiting: not yet; DEST keeps its commit
 */
export type GateState = 'first-install' | 'ref-changed' | 'host-ref' | 'current' | 'due' | 'waiting';

export interface RolloutDecision {
  readonly state: GateState;
  /** Apply the tip now (else keep `previous.commit`). */
  readonly apply: boolean;
  readonly wave: Wave;
  readonly tip: string;
  readonly firstSeenMs: number | undefined;
  /** When this host applies (applied) the tip. */
  readonly applyAtMs: number | undefined;
  /** The observation to keep, when it changed. */
  readonly record: Observation | undefined;
}

export interface GateInput {
  readonly rollout: RolloutConfig;
  readonly identity: HostIdentity;
  readonly previous: Manifest | undefined;
  /** The repository, folder and concrete ref of this run. */
  readonly target: { readonly repo: string; readonly path: string; readonly ref: string };
  readonly hostSpecific: boolean;
  /** The ref's commit now. */
  readonly tip: string;
  readonly observed: Observation | undefined;
  readonly now: { readonly ms: number; readonly clock: ClockSource };
}

/** Decide. Pure. */
export function decideRollout(input: GateInput): RolloutDecision {
  const wave = waveOf(input.identity.hostId, input.rollout);
  const { previous, target, tip, now } = input;
  const at = (state: GateState): RolloutDecision => ({ state, apply: true, wave, tip, firstSeenMs: undefined, applyAtMs: undefined, record: undefined });
  if (previous === undefined) return at('first-install');
  if (previous.commit === tip) return at('current');
  if (previous.repo !== target.repo || previous.path !== target.path || previous.ref !== target.ref) return at('ref-changed');
  if (input.hostSpecific) return at('host-ref');
  const same = input.observed !== undefined && input.observed.ref === target.ref && input.observed.commit === tip;
  // A first sighting starts the clock. One in the future (a clock stepped back, or mixed clocks) restarts it now: later, never sooner.
  const keep = same && input.observed !== undefined && input.observed.firstSeenMs <= now.ms;
  const firstSeenMs = keep ? input.observed!.firstSeenMs : now.ms;
  const record = keep ? undefined : { ref: target.ref, commit: tip, firstSeenMs, clock: now.clock };
  const applyAtMs = firstSeenMs + wave.delaySec * 1000;
  const due = now.ms >= applyAtMs;
  return { state: due ? 'due' : 'waiting', apply: due, wave, tip, firstSeenMs, applyAtMs, record };
}

const FILE = 'rollout.json';

/** The observation kept for a destination (`root`: its state folder). */
export async function loadObservation(root: string): Promise<Observation | undefined> {
  try {
    const data = (await readJson(join(root, FILE))) as { version?: unknown; ref?: unknown; commit?: unknown; firstSeen?: unknown; clock?: unknown } | undefined;
    if (data === undefined || data.version !== 1 || typeof data.ref !== 'string' || typeof data.commit !== 'string' || typeof data.firstSeen !== 'string') return undefined;
    const firstSeenMs = Date.parse(data.firstSeen);
    if (!Number.isFinite(firstSeenMs)) return undefined;
    return { ref: data.ref, commit: data.commit, firstSeenMs, clock: data.clock === 'host' ? 'host' : 'server' };
  } catch {
    return undefined; // unreadable: the commit is seen anew, which only delays it
  }
}

export async function saveObservation(root: string, observation: Observation): Promise<void> {
  await ensurePrivateDir(root);
  await writeJsonAtomic(join(root, FILE), { version: 1, ref: observation.ref, commit: observation.commit, firstSeen: new Date(observation.firstSeenMs).toISOString(), clock: observation.clock });
}
