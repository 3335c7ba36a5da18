/**
 * The fleet settings as the parser and docs/config.schema.json read them: `rollout` (waves,
 * interval), `hostId`, `poll`, and a `ref` with alternatives and placeholders. Table tests: each
 * row is a config file both must accept or both must reject, or a value and what it parses to.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { fillRef, formatDuration, parseDuration, refAlternatives } from '../../src/config/rollout.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = '/etc/hostsync/config.json';
const base = { repo: 'acme/hypervisor', dest: '/etc/hypervisor' };

let validate: (data: unknown) => boolean;
beforeAll(async () => {
  const schema = JSON.parse(await readFile(path.join(root, 'docs/config.schema.json'), 'utf8')) as object;
  validate = new Ajv2020.default({ strict: true, allErrors: true }).compile(schema);
});

function parseFile(data: unknown, flags: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  return parseConfig({ flags, file: { path: FILE, data }, env, token: undefined, home: '/root', isRoot: true, cwd: '/' });
}

function errors(result: ReturnType<typeof parseFile>): readonly string[] {
  return result.ok ? [] : result.errors;
}

describe('parseDuration', () => {
  it.each<[unknown, number | undefined]>([
    ['30m', 1800],
    ['1h30m', 5400],
    ['90s', 90],
    ['2d', 172_800],
    ['1d2h3m4s', 93_784],
    ['45', 45],
    [' 30M ', 1800],
    [1800, 1800],
    [0, 0],
    ['', undefined],
    ['30 minutes', undefined],
    ['1.5h', undefined],
    ['m', undefined],
    ['30m1h', undefined],
    [1.5, undefined],
    [null, undefined],
    [true, undefined],
  ])('%j → %j', (raw, seconds) => {
    expect(parseDuration(raw)).toBe(seconds);
  });

  it.each([
    [1800, '30m'],
    [5400, '1h30m'],
    [45, '45s'],
    [86_400, '1d'],
  ])('formats %d as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
    expect(parseDuration(text)).toBe(seconds);
  });
});

describe('rollout in the config file: parser and schema agree', () => {
  // The last column: false where only the parser can tell (a schema cannot say "rising", nor bound a duration string).
  it.each<[string, unknown, boolean, boolean?]>([
    ['the example', { waves: [1, 10, 100], interval: '30m' }, true],
    ['one wave', { waves: [100], interval: 60 }, true],
    ['fractions', { waves: [0.5, 2.5, 100], interval: '1h' }, true],
    ['interval in seconds as digits', { waves: [10, 100], interval: '900' }, true],
    ['not an object', [1, 10, 100], false],
    ['no interval', { waves: [1, 10, 100] }, false],
    ['no waves', { interval: '30m' }, false],
    ['unknown key', { waves: [1, 100], interval: '30m', intervall: '1h' }, false],
    ['empty waves', { waves: [], interval: '30m' }, false],
    ['not rising', { waves: [10, 5, 100], interval: '30m' }, false, false],
    ['a repeat', { waves: [10, 10, 100], interval: '30m' }, false],
    ['not ending at 100', { waves: [1, 10, 50], interval: '30m' }, false],
    ['above 100', { waves: [1, 150], interval: '30m' }, false],
    ['zero', { waves: [0, 100], interval: '30m' }, false],
    ['a string percentage', { waves: ['1', 100], interval: '30m' }, false],
    ['interval words', { waves: [1, 100], interval: 'half an hour' }, false],
    ['interval 0', { waves: [1, 100], interval: 0 }, false],
    ['interval negative', { waves: [1, 100], interval: -5 }, false],
    ['interval fraction', { waves: [1, 100], interval: 1.5 }, false],
    ['interval over 30 days', { waves: [1, 100], interval: '31d' }, false, false],
  ])('%s', (_name, rollout, valid, schemaToo = true) => {
    if (schemaToo) expect(validate({ ...base, rollout }), 'schema').toBe(valid);
    const result = parseFile({ ...base, rollout });
    expect(result.ok, `parser: ${errors(result).join(' | ')}`).toBe(valid);
  });

  it('reads waves and the interval in seconds', () => {
    const result = parseFile({ ...base, rollout: { waves: [1, 10, 100], interval: '1h30m' } });
    expect(result.ok && result.config.rollout).toEqual({ waves: [1, 10, 100], intervalSec: 5400 });
    expect(parseFile(base).ok && (parseFile(base) as { config: { rollout: unknown } }).config.rollout).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['not rising', { waves: [10, 5, 100], interval: '30m' }, "Expected `rollout.waves` in /etc/hostsync/config.json to be cumulative percentages of the fleet rising to 100, e.g. [1, 10, 100]: item 1 (5) is not above the one before (10): the percentages are cumulative."],
    ['short of 100', { waves: [1, 10, 50], interval: '30m' }, 'the last item is 50, so 50% of the fleet would be in no wave; end the list with 100'],
    ['bad interval', { waves: [1, 100], interval: '30 minutes' }, 'Expected `rollout.interval` in /etc/hostsync/config.json to be a duration such as "30m", "1h30m" or "90s", or a number of seconds: got \'30 minutes\'.'],
    ['missing interval', { waves: [1, 100] }, '`rollout` in /etc/hostsync/config.json needs interval, e.g. {"waves": [1, 10, 100], "interval": "30m"}.'],
    ['misspelt key', { waves: [1, 100], interval: '1m', wave: [1] }, 'Unknown key `rollout.wave` in /etc/hostsync/config.json. Did you mean `rollout.waves`?'],
  ])('says what is wrong and how to fix it: %s', (_name, rollout, message) => {
    expect(errors(parseFile({ ...base, rollout })).join('\n')).toContain(message);
  });
});

describe('hostId', () => {
  it.each<[string, unknown, boolean]>([
    ['a name', 'hv-017', true],
    ['a machine-id-like hex', '0123456789abcdef0123456789abcdef', true],
    ['dots and underscores', 'rack1.hv_17', true],
    ['leading dash', '-hv', false],
    ['slash', 'a/b', false],
    ['space', 'hv 17', false],
    ['too long', 'x'.repeat(65), false],
    ['.lock', 'hv.lock', false],
    ['double dot', 'a..b', false],
    ['a number', 17, false],
  ])('%s', (_name, hostId, valid) => {
    expect(validate({ ...base, hostId }), 'schema').toBe(valid);
    expect(parseFile({ ...base, hostId }).ok, 'parser').toBe(valid);
  });

  it('comes from --host-id, the file, or HOSTSYNC_HOST_ID, in that order', () => {
    const id = (flags: Record<string, unknown>, file: object, env: Record<string, string>) => {
      const result = parseFile({ ...base, ...file }, flags, env);
      return result.ok ? result.config.hostId : errors(result);
    };
    expect(id({ hostId: 'flag' }, { hostId: 'file' }, { HOSTSYNC_HOST_ID: 'env' })).toBe('flag');
    expect(id({}, { hostId: 'file' }, { HOSTSYNC_HOST_ID: 'env' })).toBe('file');
    expect(id({}, {}, { HOSTSYNC_HOST_ID: 'env' })).toBe('env');
    expect(id({}, {}, {})).toBeUndefined();
    expect(id({}, {}, { HOSTSYNC_HOST_ID: 'a b' })).toEqual(["Invalid host id 'a b' in HOSTSYNC_HOST_ID: use 1 to 64 letters, digits, dots, dashes and underscores, starting with a letter or digit, e.g. HOSTSYNC_HOST_ID=hv-017."]);
  });
});

describe('ref alternatives and placeholders', () => {
  it.each<[string, boolean]>([
    ['canary/%H|main', true],
    ['canary/%I|main', true],
    ['hosts/%H/pinned|release|main', true],
    ['v1%%|main', true],
    ['main', true],
    ['a||b', false],
    ['|main', false],
    ['main|', false],
    ['canary/%X|main', false],
    ['canary/%|main', false],
    ['canary/%H|main~1', false],
    ['a..b|main', false],
    ['a|b|c|d|e|f', false],
    ['%H.lock|main', false],
  ])('%s', (ref, valid) => {
    const result = parseFile({ ...base, ref });
    expect(result.ok, `parser: ${errors(result).join(' | ')}`).toBe(valid);
    if (result.ok) expect(result.config.ref).toBe(ref);
  });

  it.each<[string, string]>([
    ['canary/%X|main', "Invalid ref 'canary/%X|main' in /etc/hostsync/config.json: a ref cannot use the placeholder '%X' (known: %H the host name, %I the host id, %% a percent sign). Write e.g. \"ref\": \"canary/%H|main\"."],
    ['a||b', "Invalid ref 'a||b' in /etc/hostsync/config.json: an alternative between '|' is empty. Write e.g. \"ref\": \"canary/%H|main\"."],
    ['canary/%H|main~1', "Invalid ref 'canary/%H|main~1' in /etc/hostsync/config.json: git ref names cannot contain '~' (in 'main~1'). Use a branch, tag or commit SHA, e.g. \"ref\": \"main\", or alternatives like \"ref\": \"canary/%H|main\"."],
  ])('names the problem: %s', (ref, message) => {
    expect(errors(parseFile({ ...base, ref }))).toEqual([message]);
  });

  it('accepts alternatives on the command line too', () => {
    const result = parseFile(base, { ref: 'canary/%H|main' });
    expect(result.ok && result.config.ref).toBe('canary/%H|main');
  });

  it.each<[string, { template: string; hostSpecific: boolean }[]]>([
    ['main', [{ template: 'main', hostSpecific: false }]],
    ['canary/%H|main', [{ template: 'canary/%H', hostSpecific: true }, { template: 'main', hostSpecific: false }]],
    ['by-id/%I|v1%%|HEAD', [{ template: 'by-id/%I', hostSpecific: true }, { template: 'v1%%', hostSpecific: false }, { template: 'HEAD', hostSpecific: false }]],
    ['lit%%H|main', [{ template: 'lit%%H', hostSpecific: false }, { template: 'main', hostSpecific: false }]],
  ])('splits %s', (ref, expected) => {
    expect(refAlternatives(ref)).toEqual(expected);
  });

  it.each([
    ['canary/%H', 'canary/hv-17'],
    ['by-id/%I', 'by-id/0a1b2c'],
    ['v1%%', 'v1%'],
    ['lit%%H', 'lit%H'],
    ['%H-%I', 'hv-17-0a1b2c'],
  ])('fills %s → %s', (template, filled) => {
    expect(fillRef(template, { hostName: 'hv-17', hostId: '0a1b2c' })).toBe(filled);
  });
});

describe('poll', () => {
  it.each<[string, Record<string, unknown>, boolean]>([
    ['auto', { poll: 'auto' }, true],
    ['rest', { poll: 'rest' }, true],
    ['ls-refs', { poll: 'ls-refs' }, true],
    ['ls-refs with transport git', { poll: 'ls-refs', transport: 'git' }, true],
    ['unknown', { poll: 'graphql' }, false],
    ['ls-refs with transport rest', { poll: 'ls-refs', transport: 'rest' }, false],
    ['rest with transport git', { poll: 'rest', transport: 'git' }, false],
    ['rest with a git URL', { poll: 'rest', repo: 'https://git.example.com/acme/x.git' }, false],
  ])('%s', (_name, extra, valid) => {
    const result = parseFile({ ...base, ...extra });
    expect(result.ok, errors(result).join(' | ')).toBe(valid);
  });

  it('explains a contradiction with the transport', () => {
    expect(errors(parseFile({ ...base, poll: 'ls-refs', transport: 'rest' }))).toEqual([
      "`poll` in /etc/hostsync/config.json is 'ls-refs', which polls with git's protocol, and transport 'rest' allows only GitHub's REST API. Use transport auto (the default) with poll ls-refs, or poll rest.",
    ]);
  });
});
