/**
 * The fleet simulation (test/fleet/simulation.ts) at CI size: 12 real hostsync runs per timer
 * period over five and a half simulated hours — a release of 10 files in waves, a bad release
 * reverted mid-rollout. `npm run fleet` runs the same with hundreds of hosts.
 */
import { describe, expect, it } from 'vitest';
import { checkReport, DEFAULT_FLEET, simulateFleet, type FleetReport } from './simulation.js';

describe('a fleet of 12 hosts', () => {
  it('rolls releases out in waves, stops a reverted one, and ends every host on the last commit, within the quota', { timeout: 240_000 }, async () => {
    // Waves sized so that the 12 hosts fill each of them (2, 3 and 7 hosts).
    const HOSTS = 12;
    const report: FleetReport = await simulateFleet({ ...DEFAULT_FLEET, hosts: HOSTS, concurrency: 3, waves: [10, 40, 100] });
    expect(report.hostsPerWave.every((n) => n > 0), `hosts per wave: ${report.hostsPerWave.join(', ')}`).toBe(true);
    expect(checkReport(report)).toEqual([]);
    expect(report.wrongCommit).toEqual([]);

    // Every wave took the release, each after its delay and after the wave ahead of it.
    const release = report.arrivals.release;
    expect(release.map((w) => w.applied)).toEqual(report.hostsPerWave);
    for (const wave of release) expect(wave.firstMin!).toBeGreaterThanOrEqual(wave.wave * 30);
    // The bad release reached the first wave and never the last; the revert reached everyone.
    expect(report.badTakers[0]).toBe(report.hostsPerWave[0]);
    expect(report.badTakers.at(-1)).toBe(0);
    expect(report.arrivals.revert.map((w) => w.applied)).toEqual(report.hostsPerWave);
    expect(report.arrivals.revert[0]!.lastMin!).toBeLessThan(report.arrivals.revert[1]!.firstMin!);

    // Quota: unchanged polls free, at most one point per host per release (none with ls-refs).
    for (const row of report.perRun.filter((p) => p.kind === 'unchanged')) expect(row.quotaPoints.max).toBe(0);
    for (const row of report.perHostPerRelease) expect(row.max).toBeLessThanOrEqual(row.poll === 'ls-refs' ? 0 : 1);
    expect(report.perHostPerRelease.some((row) => row.poll === 'ls-refs')).toBe(true);
    expect(report.secondaryRefusals).toBe(0);
    expect(report.quotaPerHour.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(HOSTS * 4);
  });
});
