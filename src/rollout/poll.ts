/**
 * How a run polls its ref, chosen per run (`poll`):
 *
 *   rest     GitHub's conditional `GET /commits/{ref}`: a 304 costs no quota, a moved ref costs 1
 *   ls-refs  git's protocol v2 `ls-refs` on the repository's smart-HTTP URL: never any API quota,
 *            two small requests (the capability advertisement and ls-refs)
 *   auto     rest, except ls-refs when the quota the last run saw is running low (under
 *            LOW_QUOTA_SHARE of the limit, until its reset), or when the ref lists alternatives
 *            (over REST each missing one would cost a point at every poll)
 *
 * The quota a run saw is kept in `<stateDir>/quota.json` (one per state directory: the quota is
 * the token's, not the destination's) for the next run's choice.
 */
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { RateLimitInfo } from '../github/types.js';
import { ensurePrivateDir, readJson, writeJsonAtomic } from '../state/files.js';

export type PollVia = 'rest' | 'ls-refs';

export interface PollChoice {
  readonly via: PollVia;
  /** Why, for --verbose and --json. */
  readonly reason: string;
}

/** Under this share of the limit left, `poll: auto` stops spending API quota on polls. */
export const LOW_QUOTA_SHARE = 0.1;

/** What the last run saw of the API quota. */
export interface QuotaMemo {
  readonly limit: number;
  readonly remaining: number;
  /** Epoch seconds of the window's reset. */
  readonly reset: number;
}

export interface PollInput {
  readonly poll: Config['poll'];
  readonly transport: Config['transport'];
  readonly gitUrl: string | undefined;
  /** How many alternatives the ref has (1 for a plain ref). */
  readonly alternatives: number;
  readonly memo: QuotaMemo | undefined;
  readonly nowMs: number;
}

/** The poll of this run. Pure. */
export function choosePoll(input: PollInput): PollChoice {
  if (input.gitUrl !== undefined) return { via: 'ls-refs', reason: 'a git URL has no REST API' };
  if (input.transport === 'git') return { via: 'ls-refs', reason: 'transport git makes no API request' };
  if (input.transport === 'rest') return { via: 'rest', reason: 'transport rest' };
  if (input.poll === 'ls-refs') return { via: 'ls-refs', reason: 'poll ls-refs' };
  if (input.poll === 'rest') return { via: 'rest', reason: 'poll rest' };
  if (input.alternatives > 1) return { via: 'ls-refs', reason: `the ref has ${input.alternatives} alternatives: one ls-refs lists them all, with no API quota` };
  const memo = input.memo;
  if (memo !== undefined && memo.limit > 0 && memo.reset * 1000 > input.nowMs && memo.remaining < memo.limit * LOW_QUOTA_SHARE) {
    return { via: 'ls-refs', reason: `${memo.remaining} of ${memo.limit} API requests were left at the last run, until ${new Date(memo.reset * 1000).toISOString()}: polling with ls-refs (no API quota)` };
  }
  return { via: 'rest', reason: 'conditional request (a 304 costs no quota)' };
}

const memoFile = (stateDir: string): string => join(stateDir, 'quota.json');

/** The quota the last run saw; undefined when none is on record or the file is unreadable. */
export async function loadQuotaMemo(stateDir: string): Promise<QuotaMemo | undefined> {
  try {
    const data = (await readJson(memoFile(stateDir))) as Partial<QuotaMemo> | undefined;
    if (data === undefined || typeof data.limit !== 'number' || typeof data.remaining !== 'number' || typeof data.reset !== 'number') return undefined;
    return { limit: data.limit, remaining: data.remaining, reset: data.reset };
  } catch {
    return undefined; // a damaged memo only costs the next run its informed choice
  }
}

/**
 * Keep what this run saw of the quota, for the next run's choice — unless the memo already says it
 * (`known`: what was read at the start; an unchanged poll's 304 leaves the quota as it was). Without
 * an fsync: a memo lost in a power cut only costs the next run its informed choice.
 */
export async function saveQuotaMemo(stateDir: string, rate: RateLimitInfo, known?: QuotaMemo): Promise<void> {
  if (known !== undefined && known.limit === rate.limit && known.remaining === rate.remaining && known.reset === rate.reset) return;
  await ensurePrivateDir(stateDir);
  await writeJsonAtomic(memoFile(stateDir), { limit: rate.limit, remaining: rate.remaining, reset: rate.reset } satisfies QuotaMemo, { durable: false });
}
