/**
 * `state`: the state dir is sane — no interrupted apply left behind (a journal nobody is working
 * on), a readable manifest, every blob of the applied commit in the object store, and who holds
 * the lock. The lock is an abstract socket the kernel drops with its holder, so it cannot go
 * stale on Linux; elsewhere a socket file nobody answers on is stale and `--fix` removes it.
 */
import type { Check, CheckOutcome, JournalFacts, LockFacts } from './types.js';
import { outcome, short } from './outcome.js';

/** What `evaluateState` looks at. */
export interface StateFacts {
  readonly lock: LockFacts;
  readonly journal: JournalFacts;
  readonly manifestError: string | undefined;
  /** The applied commit, when a manifest was read. */
  readonly commit: string | undefined;
  /** Blobs of the applied commit missing from the object store. */
  readonly missingObjects: number;
  readonly stateDir: string;
}

function describeLock(lock: LockFacts): string {
  switch (lock.state) {
    case 'free':
      return 'the lock is free';
    case 'self':
      return 'the lock is held by this run';
    case 'other':
      return `the lock is held by another hostsync run${lock.pid === undefined ? '' : ` (PID ${lock.pid})`}`;
    case 'stale':
      return `the lock file ${lock.file} is stale`;
  }
}

/** Evaluate the state dir's facts. Pure. */
export function evaluateState(facts: StateFacts): CheckOutcome {
  const { journal, lock } = facts;
  if (journal.state === 'unreadable') return outcome('fail', journal.message);
  if (journal.state === 'interrupted') {
    const what = `an apply of ${short(journal.commit)} (${journal.ops} change(s), started ${journal.startedAt})`;
    if (lock.state === 'other') return outcome('warn', `${what} is in progress: ${describeLock(lock)}; validate again once it is done.`);
    return outcome('fail', `${what} was interrupted; DEST may be between two commits. --fix finishes it (or undoes it if it cannot finish).`, [], true);
  }
  if (facts.manifestError !== undefined) return outcome('fail', facts.manifestError);
  if (lock.state === 'stale') return outcome('warn', `${describeLock(lock)} (its holder died); --fix removes it.`, [lock.file], true);
  if (facts.missingObjects > 0 && facts.commit !== undefined) {
    return outcome('warn', `The object store in ${facts.stateDir} lacks ${facts.missingObjects} blob(s) of the applied commit ${short(facts.commit)}; restoring or rolling back will need to download them. The next sync that changes them stores them again.`);
  }
  const applied = facts.commit === undefined ? 'nothing applied yet' : `applied commit ${short(facts.commit)}, all its blobs stored`;
  const lockWords = lock.state === 'other' ? `${describeLock(lock)} (results may change under it)` : describeLock(lock);
  return outcome(lock.state === 'other' ? 'warn' : 'pass', `No interrupted apply; ${applied}; ${lockWords}.`);
}

/** The `state` check. */
export function stateCheck(id: string): Check {
  return {
    id,
    type: 'state',
    async run(context) {
      const entries = context.manifest?.entries ?? [];
      const shas = entries.filter((entry) => entry.mode !== '040000' && entry.mode !== '160000').map((entry) => entry.sha);
      return evaluateState({
        lock: await context.host.lock(),
        journal: await context.host.journal(),
        manifestError: context.manifestError,
        commit: context.manifest?.commit,
        missingObjects: (await context.host.missingObjects([...new Set(shas)])).length,
        stateDir: context.paths.stateDir,
      });
    },
    async fix(context, found) {
      const done: string[] = [];
      const journal = await context.host.journal();
      if (journal.state === 'interrupted') done.push(await context.repair.recoverJournal());
      const lock = await context.host.lock();
      if (lock.state === 'stale') done.push(await context.repair.clearStaleLock(lock.file));
      return done.join(' ') || `nothing to do (${found.message})`;
    },
  };
}
