/**
 * `hostsync_signature_refusals_total{dest,reason}`: written once a host judges signatures (pinned
 * keys), counted by reason across runs (read back from the previous file), absent otherwise.
 */
import { describe, expect, it } from 'vitest';
import { renderMetrics, readPreviousMetrics, syncRunMetrics, NO_PREVIOUS, REFUSAL_REASONS, type RunMetrics } from '../../src/metrics/textfile.js';
import { SignatureRefusedError } from '../../src/trust/errors.js';
import { parseExposition } from '../support/prometheus.js';

const RUN: RunMetrics = { dest: '/etc/hypervisor', exitCode: 0, startedAtMs: 1_000, finishedAtMs: 2_000 };
const CONFIG = { metricsFile: undefined, repo: 'acme/hypervisor', ref: 'main', path: '', dest: '/etc/hypervisor', checkOnly: false };

function refusals(text: string): Record<string, number> {
  const samples = parseExposition(text, { allowTimestamps: false }).samples.filter((s) => s.name === 'hostsync_signature_refusals_total');
  return Object.fromEntries(samples.map((s) => [s.labels['reason'] ?? '', s.value]));
}

describe('signature refusal metrics', () => {
  it('are absent for a host that pins no keys', () => {
    expect(renderMetrics(RUN)).not.toContain('hostsync_signature_refusals_total');
  });

  it('list every reason at 0 after a verified commit', () => {
    const counts = refusals(renderMetrics({ ...RUN, signature: { status: 'verified' } }));
    expect(Object.keys(counts)).toEqual([...REFUSAL_REASONS]);
    expect(Object.values(counts).every((value) => value === 0)).toBe(true);
  });

  it('count a refused run by its reason, from the error the run ended with', () => {
    const error = new SignatureRefusedError('a'.repeat(40), { reason: 'unknown-key', format: 'ssh', key: 'SHA256:x', message: 'refused' });
    const metrics = syncRunMetrics(CONFIG, { startedAt: 1_000, finishedAt: 2_000, error });
    expect(metrics).toMatchObject({ exitCode: 1, signature: { status: 'refused', reason: 'unknown-key' } });
    const first = renderMetrics(metrics);
    expect(refusals(first)['unknown-key']).toBe(1);
    // The next run carries the counts over, and adds its own.
    const second = renderMetrics({ ...metrics, signature: { status: 'refused', reason: 'unsigned' } }, readPreviousMetrics(first));
    expect(refusals(second)).toMatchObject({ 'unknown-key': 1, unsigned: 1, expired: 0 });
    // A later run of a host that stopped pinning keys still shows the counts (a counter never vanishes).
    expect(refusals(renderMetrics(RUN, readPreviousMetrics(second)))).toMatchObject({ 'unknown-key': 1, unsigned: 1 });
    expect(readPreviousMetrics(renderMetrics(RUN, NO_PREVIOUS)).signatureRefusals).toBeUndefined();
  });
});
