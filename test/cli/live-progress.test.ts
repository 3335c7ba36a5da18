/**
 * Progress as an operator sees it, end to end in-process against the test server: on a terminal
 * (a fake one) the source is named before its pack arrives, the pack's bytes and objects are drawn
 * while it comes, and every phase ends in a ✔ line that counts files and folders; dev-update draws
 * its steps as they run instead of a table at the end. Under a pipe (journald), a phase that runs
 * long gets a plain line every 10 s — with the display's clock injected, not with real sleeps.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import { FAST_TIMING, memoryStream, testIO } from '../support/io.js';
import { createFakeTerminal } from './terminal.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
  await fx.repo.write('flake.nix', '{ }\n');
  await fx.repo.write('hosts/alpha/configuration.nix', '{ alpha }\n');
  await fx.repo.write('images/big.bin', randomBytes(3 * 1024 * 1024));
  await fx.repo.commit('one');
  await fx.server.addRepo('acme/hypervisor', fx.repo.dir);
});
afterEach(async () => {
  await fx.close();
});

const target = (): string[] => ['--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir];

describe('on a terminal', () => {
  it('names the source before the pack comes, draws bytes and objects while it does, and ends each phase with a ✔ line', async () => {
    const stderr = createFakeTerminal(120);
    const io = { ...testIO({ env: fx.env }), stderr };
    const code = await main(['node', 'hostsync', 'sync', ...target()], io);
    expect(code, stderr.screen().join('\n')).toBe(0);
    const screen = stderr.screen();
    const source = screen.findIndex((line) => /^info: source wire: fetching [0-9a-f]{12} as one pack over git's wire protocol \(the whole tree, /.test(line));
    const tree = screen.findIndex((line) => line.startsWith('✔ tree: '));
    expect(source, screen.join('\n')).toBeGreaterThanOrEqual(0);
    expect(source).toBeLessThan(tree);
    // Counts say what they count, and agree with each other and with the summary: 3 files in 3 folders.
    expect(screen[tree]).toMatch(/^✔ tree: 3 files, 3 folders \(\d+\.\d s; \d+\.\d MiB received/);
    expect(screen).toContainEqual(expect.stringMatching(/^✔ transfer: nothing more: the content came with the tree \(/));
    expect(screen).toContainEqual(expect.stringMatching(/^✔ apply: 3 files, 3 folders \(\d+\.\d s\)$/));
    // While the pack came, the live line counted its objects and bytes (a pack announces no total: no percentage).
    expect(stderr.raw.join('')).toMatch(/tree: \d+ objects, [\d.]+ [KM]?i?B/);
    expect(io.stdout.text()).toMatch(/^ {2}3 files: added 3, /m);
  });

  it('dev-update draws its steps as they run, the sync\'s phases inside its step, and does not repeat them as a table', async () => {
    const stderr = createFakeTerminal(120);
    const stdout = Object.assign(memoryStream(true), {});
    const io = { ...testIO({ env: fx.env }), stderr, stdout };
    const code = await main(['node', 'hostsync', 'dev-update', ...target()], io);
    expect(code, stderr.screen().join('\n')).toBe(0);
    const screen = stderr.screen();
    const at = (pattern: RegExp): number => screen.findIndex((line) => pattern.test(line));
    expect(at(/^✔ pre-validate: all checks passed/)).toBeGreaterThanOrEqual(0);
    expect(at(/^- pre-sync: no hooks\.preSync configured$/)).toBeGreaterThan(at(/^✔ pre-validate/));
    expect(at(/^ {2}✔ tree: 3 files, 3 folders/)).toBeGreaterThan(at(/^- pre-sync/));
    expect(at(/^✔ sync: 3 files changed \(HEAD [0-9a-f]{12}\)/)).toBeGreaterThan(at(/^ {2}✔ apply/));
    expect(at(/^- rebuild: no rebuild configured( \(\d\.\d s\))?$/)).toBeGreaterThan(at(/^✔ sync/));
    expect(at(/^✔ post-validate: all checks passed/)).toBeGreaterThan(at(/^- rebuild/));
    expect(io.stdout.text()).toMatch(/^done \(exit 0\): dev-update /m);
    expect(io.stdout.text()).not.toMatch(/^ {2}ok +sync /m);
  });
});

describe('under a pipe (journald)', () => {
  it('a phase that runs past 10 s gets a plain line with what it has done so far', async () => {
    // The display's clock jumps 11 s at every look, so each timer tick finds the running phase 10 s older.
    let clock = 0;
    const timing = {
      ...FAST_TIMING,
      progressNow: () => (clock += 11_000),
      schedule: (tick: () => void, ms: number) => {
        const timer = setInterval(tick, Math.min(ms, 1));
        return () => clearInterval(timer);
      },
    };
    const io = testIO({ env: fx.env, timing });
    const code = await main(['node', 'hostsync', 'sync', ...target()], io);
    expect(code, io.stderr.text()).toBe(0);
    const lines = io.stderr.text().split('\n').filter((line) => /\(\d+ (s|min \d+ s) so far\)$/.test(line));
    expect(lines.length, io.stderr.text()).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^info: (resolve ref|tree|scan|transfer|apply): .+ \(.+ so far\)$/);
    expect(io.stderr.text()).not.toMatch(/\x1b/);
  });
});
