// Loaded into measured Node children with `node --import <this file>` by test/bench/measure.ts.
// At exit, write this process's peak RSS (getrusage ru_maxrss, in bytes) to $BENCH_RSS_FILE:
// exact, where sampling /proc from outside can miss the last milliseconds of a process.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  // The measured program sees the environment it would see without the bench.
  delete process.env.BENCH_RSS_FILE;
  process.on('exit', () => {
    try {
      writeFileSync(file, String(process.resourceUsage().maxRSS * 1024));
    } catch {
      // Best effort: the /proc samples still stand.
    }
  });
}
