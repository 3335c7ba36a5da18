import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { allSettings, envOf, flagOf, kebabOf, sectionKeys, topLevelKeys, type SettingSpec } from '../../src/config/settings.js';
import { parseConfig } from '../../src/config/parse.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = '/etc/hostsync/config.json';

interface SchemaNode {
  readonly properties?: Record<string, SchemaNode>;
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: readonly unknown[];
}

let schema: SchemaNode & Record<string, unknown>;
let validate: (data: unknown) => boolean;
let docs = '';

beforeAll(async () => {
  schema = JSON.parse(await readFile(path.join(root, 'docs/config.schema.json'), 'utf8')) as typeof schema;
  docs = await readFile(path.join(root, 'docs/configuration.md'), 'utf8');
  const ajv = new Ajv2020.default({ strict: true, allErrors: true });
  validate = ajv.compile(schema);
});

function props(node: SchemaNode | undefined): Record<string, SchemaNode> {
  return node?.properties ?? {};
}

/** The parser on a config file alone, as root, so owner/group draw no warning. */
function parseFile(data: unknown) {
  return parseConfig({ flags: {}, file: { path: FILE, data }, env: {}, token: undefined, home: '/root', isRoot: true, cwd: '/' });
}

describe('docs/config.schema.json and the parser agree', () => {
  it('on the set of top-level keys', () => {
    expect(Object.keys(props(schema)).filter((k) => k !== '$schema').sort()).toEqual(topLevelKeys().sort());
  });

  it('on the keys of rebuild and hooks', () => {
    expect(Object.keys(props(props(schema)['rebuild'])).sort()).toEqual(sectionKeys('rebuild').sort());
    expect(Object.keys(props(props(schema)['hooks'])).sort()).toEqual(sectionKeys('hooks').sort());
    expect(Object.keys(props(props(schema)['trust'])).sort()).toEqual(sectionKeys('trust').sort());
  });

  it('on defaults, ranges and enums', () => {
    const nodeOf = (key: string): SchemaNode | undefined => {
      const [head = '', sub] = key.split('.');
      return sub === undefined ? props(schema)[head] : props(props(schema)[head])[sub];
    };
    for (const [key, spec] of allSettings() as (readonly [string, SettingSpec])[]) {
      const node = nodeOf(key);
      expect(node, key).toBeDefined();
      if (spec.kind === 'integer') {
        expect([node?.default, node?.minimum, node?.maximum], key).toEqual([spec.default, spec.min, spec.max]);
      } else if (spec.kind === 'enum') {
        expect(node?.enum, key).toEqual(spec.values);
        if (spec.default !== '') expect(node?.default, key).toEqual(spec.default);
      } else if ('default' in spec && spec.default !== undefined) {
        expect(node?.default, key).toEqual(spec.default);
      }
    }
  });

  const base = { repo: 'acme/hypervisor', dest: '/etc/hypervisor' };
  // Values both must accept or both must reject. Checks only the parser can make (glob syntax,
  // verbose with quiet, stateDir inside dest) are left out: a schema cannot express them.
  it.each<[string, Record<string, unknown>, boolean]>([
    ['minimal', base, true],
    ['every scalar', { ...base, ref: 'refs/heads/main', path: 'hosts/alpha', apiUrl: 'https://ghe.example.com/api/v3', serverUrl: 'https://ghe.example.com', stateDir: '/var/lib/x', concurrency: 64, json: true, checkOnly: true, forceFull: true, verbose: true, prune: true, tokenFile: '/t', layout: 'symlink', historyLimit: 1000, lockTimeout: 0, requireSigned: true, allowDowngrade: true, owner: '0', group: 'wheel', preset: 'nixos-hypervisor', metricsFile: '/m', timeoutSec: 1, stallSec: 3600 }, true],
    ['$schema', { ...base, $schema: './config.schema.json' }, true],
    ['unknown key', { ...base, destt: '/x' }, false],
    ['token key', { ...base, token: 'x' }, false],
    ['repo without owner', { ...base, repo: 'hypervisor' }, false],
    ['repo with three parts', { ...base, repo: 'a/b/c' }, false],
    ['repo name ..', { ...base, repo: 'a/..' }, false],
    ['repo owner with leading -', { ...base, repo: '-a/b' }, false],
    ['ref ..', { ...base, ref: 'a..b' }, false],
    ['ref space', { ...base, ref: 'a b' }, false],
    ['ref ~', { ...base, ref: 'a~1' }, false],
    ['ref leading -', { ...base, ref: '-a' }, false],
    ['ref .lock', { ...base, ref: 'a.lock' }, false],
    ['ref component .lock', { ...base, ref: 'a.lock/b' }, false],
    ['ref trailing /', { ...base, ref: 'a/' }, false],
    ['ref trailing .', { ...base, ref: 'a.' }, false],
    ['ref hidden component', { ...base, ref: 'a/.b' }, false],
    ['ref @{', { ...base, ref: 'a@{1}' }, false],
    ['ref @', { ...base, ref: '@' }, false],
    ['ref backslash', { ...base, ref: 'a\\b' }, false],
    ['ref with a dot inside', { ...base, ref: 'v1.2.3' }, true],
    ['path ..', { ...base, path: 'a/../b' }, false],
    ['path absolute', { ...base, path: '/a' }, false],
    ['path .git', { ...base, path: 'a/.GIT' }, false],
    ['path .github', { ...base, path: '.github' }, true],
    ['path backslash', { ...base, path: 'a\\b' }, false],
    ['apiUrl ftp', { ...base, apiUrl: 'ftp://x' }, false],
    ['apiUrl credentials', { ...base, apiUrl: 'https://u:p@x/api/v3' }, false],
    ['apiUrl query', { ...base, apiUrl: 'https://x/api/v3?a=1' }, false],
    ['concurrency 0', { ...base, concurrency: 0 }, false],
    ['concurrency 65', { ...base, concurrency: 65 }, false],
    ['concurrency as string', { ...base, concurrency: '8' }, false],
    ['concurrency 2.5', { ...base, concurrency: 2.5 }, false],
    ['historyLimit 0', { ...base, historyLimit: 0 }, false],
    ['lockTimeout -1', { ...base, lockTimeout: -1 }, false],
    ['boolean as string', { ...base, prune: 'true' }, false],
    ['layout', { ...base, layout: 'copy' }, false],
    ['preset', { ...base, preset: 'other' }, false],
    ['preserve not an array', { ...base, preserve: 'a' }, false],
    ['preserve absolute', { ...base, preserve: ['/a'] }, false],
    ['preserve ./ absolute', { ...base, preserve: ['.//a'] }, false],
    ['preserve ..', { ...base, preserve: ['a/../b'] }, false],
    ['preserve empty', { ...base, preserve: [''] }, false],
    ['preserve ok', { ...base, preserve: ['./a/**', '.env'] }, true],
    ['owner with space', { ...base, owner: 'a b' }, false],
    ['empty dest', { ...base, dest: ' ' }, false],
    ['rebuild without command', { ...base, rebuild: { when: 'always' } }, false],
    ['rebuild unknown key', { ...base, rebuild: { command: 'x', timeout: 1 } }, false],
    ['rebuild when', { ...base, rebuild: { command: 'x', when: 'sometimes' } }, false],
    ['rebuild full', { ...base, rebuild: { command: 'x', when: 'always', timeoutSec: 86400, rollbackOnFailure: true } }, true],
    ['hooks unknown key', { ...base, hooks: { pre: 'x' } }, false],
    ['hooks', { ...base, hooks: { preSync: 'a', postSync: 'b' } }, true],
    ['checks without type', { ...base, checks: [{ path: 'x' }] }, false],
    ['checks with their own fields', { ...base, checks: [{ type: 'x', path: 'y', n: 1 }] }, true],
    ['checks not an array', { ...base, checks: {} }, false],
    ['not an object', [] as unknown as Record<string, unknown>, false],
  ])('%s', (_name, data, valid) => {
    expect(validate(data), 'schema').toBe(valid);
    expect(parseFile(data).ok, 'parser').toBe(valid);
  });
});

describe('the example in docs/configuration.md', () => {
  function example(): unknown {
    const match = /<!-- example: nixos-hypervisor -->\s*```json\n([\s\S]*?)```/.exec(docs);
    if (match?.[1] === undefined) throw new Error('example block not found in docs/configuration.md');
    return JSON.parse(match[1]) as unknown;
  }

  it('validates against the schema', () => {
    expect(validate(example())).toBe(true);
  });

  it('parses without errors or warnings', () => {
    const result = parseFile(example());
    expect(result.ok && result.config.rebuild?.command).toBe('nixos-rebuild switch --flake /etc/hypervisor#$(hostname)');
    expect(result.ok && result.config.preserve).toEqual(['hosts/*/hardware-configuration.nix']);
    expect(result.warnings).toEqual([]);
  });

  it('documents every key, flag and environment variable', () => {
    for (const [key] of allSettings()) {
      expect(docs, key).toContain(`\`${key}\``);
      const flag = flagOf(key);
      if (flag !== undefined) expect(docs, flag).toContain(`--${kebabOf(flag)}`);
      for (const name of envOf(key)) expect(docs, name).toContain(name);
    }
  });
});
