/**
 * `npm run fleet`: the fleet simulation (test/fleet/simulation.ts) at full size, with its report.
 * Not part of `npm test`. Options: --hosts N (default 300), --concurrency N in-process runs working
 * at once (default 4; the machine's cores decide the real time it takes, not the figures), --json
 * (the whole report as JSON on stdout). Exit 1 when a check fails: a host on the wrong commit, a
 * wave out of order or early, the bad release outside its waves, churn, a failed run, a
 * secondary-limit refusal, more than 1 quota point for an update.
 */
import { parseArgs } from 'node:util';
import { checkReport, DEFAULT_FLEET, formatReport, simulateFleet } from './simulation.js';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: String(DEFAULT_FLEET.hosts) },
    concurrency: { type: 'string', default: String(DEFAULT_FLEET.concurrency) },
    json: { type: 'boolean', default: false },
  },
});

const hosts = Number(values.hosts);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(hosts) || hosts < 1 || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) {
  console.error('usage: npm run fleet -- [--hosts N] [--concurrency 1-16] [--json]');
  process.exit(2);
}

const report = await simulateFleet({ ...DEFAULT_FLEET, hosts, concurrency, progress: (line) => console.error(line) });
if (values.json) console.log(JSON.stringify(report, null, 2));
else console.log(formatReport(report));
const problems = checkReport(report);
for (const problem of problems) console.error(`FAILED: ${problem}`);
process.exit(problems.length === 0 ? 0 : 1);
