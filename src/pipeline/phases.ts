/**
 * Phases of a run (resolve ref, tree, scan, transfer, apply) as they start and end: to a listener
 * (the CLI's spinners and --verbose lines) and into the run's result with their durations, which
 * `--json` carries and the bench reads — log wording is for people, never parsed.
 */

/** A finished phase. */
export interface Phase {
  readonly name: string;
  readonly ms: number;
  readonly detail: string;
  /** What the phase counted (files scanned, hashed …), for machines. */
  readonly counts?: Readonly<Record<string, number>> | undefined;
}

export type PhaseListener = (name: string, state: 'start' | 'end', detail?: string) => void;

/** Record phases into `into`, telling `listener` as they start and end. */
export function createPhases(now: () => number, into: Phase[], listener: PhaseListener | undefined): { start(name: string): void; end(detail: string, counts?: Record<string, number>): void } {
  let current: { name: string; at: number } | undefined;
  return {
    start(name) {
      current = { name, at: now() };
      listener?.(name, 'start');
    },
    end(detail, counts) {
      if (current === undefined) return;
      into.push({ name: current.name, ms: now() - current.at, detail, ...(counts === undefined ? {} : { counts }) });
      listener?.(current.name, 'end', detail);
      current = undefined;
    },
  };
}
