import { describe, expect, it } from 'vitest';
import { chooseStrategy, type StrategyInput } from '../../src/plan/strategy.js';

const base: StrategyInput = {
  wantedBlobs: 10,
  wantedBytes: 30_000,
  treeBlobs: 150,
  treeBytes: 2_500_000,
  largestBlob: 5_000,
  quotaRemaining: 4_000,
  concurrency: 8,
  forceFull: false,
  gitAvailable: true,
  subPath: false,
};

describe('chooseStrategy', () => {
  const cases: [string, Partial<StrategyInput>, string[], RegExp][] = [
    ['nothing wanted', { wantedBlobs: 0, wantedBytes: 0 }, [], /nothing/],
    ['ten small edits: blobs first', {}, ['blobs', 'tarball', 'clone'], /per-blob/],
    ['first install: tarball first', { wantedBlobs: 150, wantedBytes: 2_500_000 }, ['tarball', 'blobs', 'clone'], /tarball/],
    ['first install without git', { wantedBlobs: 150, wantedBytes: 2_500_000, gitAvailable: false }, ['tarball', 'blobs'], /tarball/],
    ['--force-full', { forceFull: true }, ['tarball', 'clone'], /--force-full/],
    ['blob over 100 MB', { largestBlob: 150 * 1024 * 1024 }, ['tarball', 'clone'], /100 MB/],
    ['quota too small for the blobs', { quotaRemaining: 15 }, ['tarball', 'clone'], /would not fit/],
    ['quota nearly gone: clone', { quotaRemaining: 3 }, ['clone'], /quota nearly spent/],
    ['quota gone, no git: tarball anyway', { quotaRemaining: 0, gitAvailable: false }, ['tarball'], /quota/],
    ['GHES without rate limits', { quotaRemaining: undefined }, ['blobs', 'tarball', 'clone'], /per-blob/],
    ['one 2 MiB binary edited', { wantedBlobs: 1, wantedBytes: 2_097_152 }, ['blobs', 'tarball', 'clone'], /per-blob/],
    ['many files of a large tree', { wantedBlobs: 120, wantedBytes: 400_000, treeBytes: 500_000 }, ['tarball', 'blobs', 'clone'], /tarball/],
  ];
  it.each(cases)('%s', (_name, input, order, reason) => {
    const choice = chooseStrategy({ ...base, ...input });
    expect(choice.order).toEqual(order);
    expect(choice.reason).toMatch(reason);
  });
});
