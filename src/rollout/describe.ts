/** One line about a host's rollout, for the log, the summary and --check-only. Pure. */
import { formatDuration } from '../config/rollout.js';
import type { RolloutReport } from './fleet.js';

/** "wave 2 of 3 (after 1h)" — waves counted from 1 for people; --json has the index from 0. */
export function describeWave(report: Pick<RolloutReport, 'wave' | 'waves' | 'delaySec'>): string {
  return `wave ${report.wave + 1} of ${report.waves} (${report.delaySec === 0 ? 'at once' : `after ${formatDuration(report.delaySec)}`})`;
}

/** The gate's verdict in one sentence; `now` for "in 20m". */
export function describeRollout(report: RolloutReport, ref: string, held: string | undefined, nowMs: number): string {
  const wave = describeWave(report);
  const tip = report.refCommit.slice(0, 12);
  switch (report.state) {
    case 'waiting': {
      const at = report.applyAt === null ? undefined : Date.parse(report.applyAt);
      const left = at === undefined ? '' : ` (in ${formatDuration(Math.max(1, Math.ceil((at - nowMs) / 1000)))})`;
      return `rollout ${wave}: ${ref} moved to ${tip}, first seen ${report.firstSeenAt ?? 'now'}; keeping ${held?.slice(0, 12) ?? 'the applied commit'} until ${report.applyAt ?? '?'}${left}`;
    }
    case 'due':
      return `rollout ${wave}: ${tip} has been on ${ref} since ${report.firstSeenAt ?? '?'}; applying it`;
    case 'first-install':
      return `rollout ${wave}: first install, taking ${ref} at ${tip} at once`;
    case 'ref-changed':
      return `rollout ${wave}: DEST held another ref or folder; taking ${ref} at ${tip} at once`;
    case 'host-ref':
      return `rollout ${wave}: ${ref} is this host's own ref; taking ${tip} at once`;
    case 'current':
      return `rollout ${wave}: ${ref} is at ${tip}, the applied commit`;
  }
}
