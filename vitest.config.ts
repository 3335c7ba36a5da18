import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/** Files that need a module registry of their own (they mock a module, or assert what was imported). */
const ISOLATED = ['test/trust/lazy-openpgp.test.ts'];

// Most test files wait on servers, child processes, the file system and the stat cache's racy margin rather
// than compute, so two workers more than there are cores keep both cores busy (vitest's default of
// cores − 1 runs a single worker on the 2-core machines CI uses). Files share their worker's module registry (`isolate: false`): importing
// src/ once per worker instead of once per file saves about a fifth of the suite's CPU time. Tests must
// therefore leave no global state behind (environment, mocks, servers): those that cannot run isolated.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: availableParallelism() + 2,
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
      { extends: true, test: { name: 'isolated', include: ISOLATED, isolate: true } },
    ],
  },
});
