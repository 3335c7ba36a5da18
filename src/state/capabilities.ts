/**
 * Capability advertisements of git servers, remembered between runs: a run that knows what the server
 * offers sends its protocol v2 command (`fetch`, `ls-refs`) straight away, without the
 * `GET info/refs` first — one round trip less per update (decision 0004). A remembered advertisement
 * is used for a day; one the server no longer stands by costs a single fresh GET (src/source/wire.ts).
 * Unreadable or corrupt means "not known": the run asks the server, never fails.
 */
import { readJson, writeJsonAtomic } from './files.js';

/** How long a remembered advertisement is used before the server is asked again. */
export const CAPABILITIES_TTL_MS = 24 * 60 * 60 * 1000;

interface Remembered {
  readonly lines: readonly string[];
  /** When the server sent it (ms since the epoch). */
  readonly at: number;
}

/** The remembered advertisement of one server for one run, and what the run learnt. */
export interface CapabilityMemo {
  /** The advertisement's lines, when remembered and fresh. */
  readonly known: readonly string[] | undefined;
  /** A fresh advertisement was read during the run. */
  remember(lines: readonly string[]): void;
  /** The server moved (it redirects): what is remembered for this URL is dropped at `save`. */
  forget(): void;
  /** Write what the run learnt (nothing when it learnt nothing). Never fails: a memo not written costs a GET. */
  save(): Promise<void>;
}

function isRemembered(value: unknown): value is Remembered {
  if (typeof value !== 'object' || value === null) return false;
  const { lines, at } = value as { lines?: unknown; at?: unknown };
  return Array.isArray(lines) && lines.every((line) => typeof line === 'string') && typeof at === 'number';
}

/** The memo of `url` (the repository's smart-HTTP URL) in `file`. */
export async function loadCapabilityMemo(file: string, url: string, now: () => number): Promise<CapabilityMemo> {
  let all: Record<string, unknown> = {};
  try {
    const data = await readJson(file);
    if (typeof data === 'object' && data !== null && !Array.isArray(data)) all = data as Record<string, unknown>;
  } catch {
    // missing or corrupt: not known
  }
  const entry = all[url];
  const fresh = isRemembered(entry) && entry.at <= now() && now() - entry.at < CAPABILITIES_TTL_MS ? entry : undefined;
  /** What to write at `save`: an advertisement, `null` to drop the entry, undefined for nothing. */
  let learnt: Remembered | null | undefined;
  return {
    known: fresh?.lines,
    remember(lines) {
      learnt = { lines: [...lines], at: now() };
    },
    forget() {
      learnt = url in all ? null : undefined;
    },
    async save() {
      if (learnt === undefined) return;
      const next: Record<string, unknown> = { ...all };
      if (learnt === null) delete next[url];
      else next[url] = learnt;
      learnt = undefined;
      try {
        await writeJsonAtomic(file, next, { durable: false }); // a cache: a damaged file reads as "not known"
        all = next;
      } catch {
        // A full or read-only state dir: the next run asks the server (decision 0004).
      }
    },
  };
}
