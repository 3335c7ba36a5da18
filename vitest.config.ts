import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Most test files wait on servers, child processes and the file system rather than compute, so one worker
// more than there are cores keeps both cores busy (vitest's default of cores − 1 runs a single worker on the
// 2-core machines CI uses). The slowest files are scheduled first from vitest's own duration cache.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: availableParallelism() + 1,
  },
});
