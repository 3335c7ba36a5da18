// Loaded into measured Node children with `node --import <this file>` by test/bench/measure.ts.
// At exit, write this process's peak RSS (getrusage ru_maxrss, in bytes) and CPU time (user + system,
// in microseconds) to $BENCH_RSS_FILE: exact, where sampling /proc from outside can miss the last
// milliseconds of a process.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  // The measured program sees the environment it would see without the bench.
  delete process.env.BENCH_RSS_FILE;
  process.on('exit', () => {
    try {
      const usage = process.resourceUsage();
      writeFileSync(file, `${usage.maxRSS * 1024} ${usage.userCPUTime + usage.systemCPUTime}`);
    } catch {
      // Best effort: the /proc samples still stand.
    }
  });
}
