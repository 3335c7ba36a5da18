/**
 * What a sync does differently because it runs in a fleet (issue 19), in the order the pipeline
 * asks (src/pipeline/sync.ts):
 *
 *   1. poll:    how the ref is polled this run — the REST API's conditional request or git's
 *               ls-refs — from `poll`, the transport and the quota the last run saw (poll.ts)
 *   2. resolve: the ref's alternatives with this host's name and id put in (`canary/%H|main`); the
 *               first that exists wins (one ls-refs for all of them, or one REST request each)
 *   3. gate:    with `rollout`, whether the ref's commit may be applied yet (gate.ts); the pipeline
 *               keeps DEST's commit while the host's wave waits
 *
 * and the report `--json`, the summary and the metrics show.
 */
import type { RolloutConfig } from '../config/rollout.js';
import { fillRef, isRefPattern, refAlternatives } from '../config/rollout.js';
import type { Config } from '../config/types.js';
import { refProblem } from '../config/validate.js';
import { UnknownRefError, UsageError } from '../errors.js';
import { HttpStatusError } from '../github/errors.js';
import type { Logger, Manifest } from '../model.js';
import type { RemoteSource, ResolvedCommit, SourceStats } from '../source/types.js';
import { describeWireFailure } from '../source/wire.js';
import type { DestPaths } from '../state/layout.js';
import { decideRollout, loadObservation, saveObservation, type ClockSource, type GateState } from './gate.js';
import { hostIdentity, type HostIdentity, type HostIdSource, type IdentityDeps } from './identity.js';
import { choosePoll, loadQuotaMemo, saveQuotaMemo, type PollChoice } from './poll.js';

export interface FleetDeps {
  readonly log: Logger;
  /** This host's clock, when no answer carried the server's. */
  readonly now: () => number;
  readonly identity?: IdentityDeps | undefined;
}

/** What `--json` shows of a rollout (docs/output.md). */
export interface RolloutReport {
  readonly state: GateState;
  /** DEST keeps its commit although the ref names a newer one. */
  readonly holding: boolean;
  readonly hostId: string;
  readonly hostIdSource: HostIdSource;
  /** From 0. */
  readonly wave: number;
  readonly waves: number;
  readonly percentile: number;
  readonly delaySec: number;
  readonly intervalSec: number;
  /** The ref's commit now. */
  readonly refCommit: string;
  /** ISO times, when the gate timed the commit; null otherwise. */
  readonly firstSeenAt: string | null;
  readonly applyAt: string | null;
  readonly clock: ClockSource;
}

/** What a run reports of its fleet logic (--json `poll`, `refPattern`, `rollout`; docs/output.md). */
export interface FleetReport {
  readonly poll: PollChoice;
  /** The ref as configured, when it had alternatives or placeholders; the result's `ref` is the one chosen. */
  readonly refPattern: string | undefined;
  /** Undefined without `rollout`, or while a rollback hold decides instead. */
  readonly rollout: RolloutReport | undefined;
}

/** The ref as resolved: which alternative won. */
export interface ResolvedRef {
  readonly source: RemoteSource;
  readonly resolved: ResolvedCommit;
  /** The concrete ref (the winning alternative, with the host's values in). */
  readonly ref: string;
  /** The winning alternative names this host (`%H`, `%I`). */
  readonly hostSpecific: boolean;
}

/** Resolve one concrete ref with a source (the pipeline's conditional request with its ETag); may hand back another source. */
export type ResolveOne = (ref: string, source: RemoteSource) => Promise<{ source: RemoteSource; resolved: ResolvedCommit }>;

export interface FleetRun {
  readonly poll: PollChoice;
  /** The ref as configured, when it has alternatives or placeholders. */
  readonly pattern: string | undefined;
  resolve(source: RemoteSource, resolveOne: ResolveOne): Promise<ResolvedRef>;
  /**
   * With `rollout`: whether the tip may be applied now; records when it was first seen (unless
   * `write` is false: --check-only). Undefined without a rollout.
   */
  gate(input: { previous: Manifest | undefined; config: Config; resolved: ResolvedRef; stats: SourceStats; write: boolean; paths: DestPaths }): Promise<{ apply: boolean; report: RolloutReport } | undefined>;
  /** Keep the quota this run saw, for the next run's poll choice. */
  remember(stats: SourceStats): Promise<void>;
}

/** A missing alternative, to move on from: git lists no such ref, or GitHub answers 422 "No commit found". */
export function isUnknownRef(error: unknown): boolean {
  return error instanceof UnknownRefError || (error instanceof HttpStatusError && error.status === 422);
}

/** Start a run's fleet logic. Reads the quota memo; the host's identity only when the ref or the rollout needs it. */
export async function openFleetRun(config: Config, deps: FleetDeps): Promise<FleetRun> {
  const pattern = isRefPattern(config.ref) ? config.ref : undefined;
  const alternatives = refAlternatives(config.ref);
  const needsIdentity = config.rollout !== undefined || alternatives.some((a) => a.hostSpecific);
  let identity: HostIdentity | undefined;
  const who = async (): Promise<HostIdentity> => (identity ??= await hostIdentity(config.hostId, deps.identity));
  if (needsIdentity) await who();
  const chosenByAuto = config.poll === 'auto' && config.transport === 'auto' && config.gitUrl === undefined;
  const memo = chosenByAuto ? await loadQuotaMemo(config.stateDir) : undefined;
  const poll = choosePoll({ poll: config.poll, transport: config.transport, gitUrl: config.gitUrl, alternatives: alternatives.length, memo, nowMs: deps.now() });
  deps.log('debug', `poll: ${poll.via} (${poll.reason})`);

  const concrete = alternatives.map((alternative) => {
    if (!alternative.hostSpecific) return { ref: fillRef(alternative.template, { hostName: '', hostId: '' }), hostSpecific: false };
    const ref = fillRef(alternative.template, { hostName: identity!.hostName, hostId: identity!.hostId });
    const problem = refProblem(ref);
    if (problem !== undefined) {
      throw new UsageError(`The ref alternative '${alternative.template}' becomes '${ref}' on this host, and git ref names cannot ${problem}. Set hostId to a plain name and use %I, or change the ref.`);
    }
    return { ref, hostSpecific: true };
  });

  return {
    poll,
    pattern,
    async resolve(source, resolveOne) {
      if (poll.via === 'ls-refs' && source.resolveFirst !== undefined) {
        try {
          const found = await source.resolveFirst(concrete.map((c) => c.ref));
          const hostSpecific = concrete.find((c) => c.ref === found.ref)?.hostSpecific ?? false;
          if (concrete.length > 1) deps.log('debug', `ref ${pattern}: ${found.ref} (the first of ${concrete.map((c) => c.ref).join(', ')} that exists)`);
          return { source, resolved: { sha: found.sha, etag: undefined, changed: true }, ref: found.ref, hostSpecific };
        } catch (error) {
          // Chosen by `poll: auto` only: a server that does not serve git's protocol to us is polled over REST.
          const why = chosenByAuto ? describeWireFailure(error) : undefined;
          if (why === undefined) throw error;
          deps.log('warn', `${why} Polling ${config.ref} with GitHub's REST API instead.`);
        }
      }
      let current = source;
      for (const [index, candidate] of concrete.entries()) {
        try {
          const { source: next, resolved } = await resolveOne(candidate.ref, current);
          if (concrete.length > 1) deps.log('debug', `ref ${pattern}: ${candidate.ref}`);
          return { source: next, resolved, ref: candidate.ref, hostSpecific: candidate.hostSpecific };
        } catch (error) {
          if (index === concrete.length - 1 || !isUnknownRef(error)) throw error;
          deps.log('debug', `ref ${candidate.ref} does not exist; trying ${concrete[index + 1]?.ref}`);
        }
      }
      throw new Error('BUG: a ref without alternatives');
    },
    async gate({ previous, config: run, resolved, stats, write, paths }) {
      const rollout: RolloutConfig | undefined = config.rollout;
      if (rollout === undefined) return undefined;
      const host = await who();
      const serverMs = stats.serverDate;
      const now = serverMs !== undefined ? { ms: serverMs, clock: 'server' as const } : { ms: deps.now(), clock: 'host' as const };
      const observed = previous === undefined ? undefined : await loadObservation(paths.root);
      const decision = decideRollout({
        rollout,
        identity: host,
        previous,
        target: { repo: run.repo, path: run.path, ref: run.ref },
        hostSpecific: resolved.hostSpecific,
        tip: resolved.resolved.sha,
        observed,
        now,
      });
      if (decision.record !== undefined && write) await saveObservation(paths.root, decision.record);
      const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
      const report: RolloutReport = {
        state: decision.state,
        holding: !decision.apply,
        hostId: host.hostId,
        hostIdSource: host.source,
        wave: decision.wave.index,
        waves: decision.wave.count,
        percentile: Math.round(decision.wave.percentile * 1000) / 1000,
        delaySec: decision.wave.delaySec,
        intervalSec: rollout.intervalSec,
        refCommit: decision.tip,
        firstSeenAt: iso(decision.firstSeenMs),
        applyAt: iso(decision.applyAtMs),
        clock: decision.record?.clock ?? observed?.clock ?? now.clock,
      };
      return { apply: decision.apply, report };
    },
    async remember(stats) {
      if (stats.rateLimit === undefined) return;
      await saveQuotaMemo(config.stateDir, stats.rateLimit, memo).catch((error: unknown) => deps.log('debug', `Could not keep the quota for the next run's poll choice: ${String(error)}`));
    },
  };
}
