/** Which checks run: built-ins, presets, configured checks, overrides, and every config error at once. */
import { describe, expect, it } from 'vitest';
import { buildChecks, selectCheckConfigs } from '../../src/checks/registry.js';
import type { CheckConfig } from '../../src/config/types.js';

const ids = (checks: readonly CheckConfig[], preset?: string, ownership = false): string[] =>
  selectCheckConfigs({ checks, preset, ownership }).configs.map((entry) => entry.id);

describe('selectCheckConfigs', () => {
  const cases: [string, CheckConfig[], string | undefined, boolean, string[]][] = [
    ['built-ins only', [], undefined, false, ['state', 'dest', 'integrity', 'unmanaged', 'disk-space']],
    ['owner set adds ownership', [], undefined, true, ['state', 'dest', 'integrity', 'unmanaged', 'ownership', 'disk-space']],
    [
      'the nixos-hypervisor preset',
      [],
      'nixos-hypervisor',
      false,
      ['state', 'dest', 'integrity', 'unmanaged', 'disk-space', 'nixos-flake', 'nixos-flake-lock', 'nixos-nix', 'nixos-kvm', 'nixos-host-config'],
    ],
    ['configured checks follow, ids from their type', [{ type: 'tools', names: ['git'] }, { type: 'tools', names: ['nix'] }], undefined, false, ['state', 'dest', 'integrity', 'unmanaged', 'disk-space', 'tools', 'tools-2']],
    ['a built-in type configures the built-in in place', [{ type: 'disk-space', minFreeMb: 1 }], undefined, false, ['state', 'dest', 'integrity', 'unmanaged', 'disk-space']],
    ['enabled: false removes a preset check', [{ type: 'device', id: 'nixos-kvm', enabled: false }], 'nixos-hypervisor', false, ['state', 'dest', 'integrity', 'unmanaged', 'disk-space', 'nixos-flake', 'nixos-flake-lock', 'nixos-nix', 'nixos-host-config']],
    ['an explicit id', [{ type: 'command', id: 'flake-metadata', command: 'nix flake metadata .' }], undefined, false, ['state', 'dest', 'integrity', 'unmanaged', 'disk-space', 'flake-metadata']],
  ];
  it.each(cases)('%s', (_name, checks, preset, ownership, expected) => {
    expect(ids(checks, preset, ownership)).toEqual(expected);
  });

  it('replacing a preset check keeps its place and takes the new parameters', () => {
    const { configs } = selectCheckConfigs({ checks: [{ type: 'required', id: 'nixos-host-config', dirs: ['machines/{hostname}'] }], preset: 'nixos-hypervisor', ownership: false });
    expect(configs.find((entry) => entry.id === 'nixos-host-config')?.config['dirs']).toEqual(['machines/{hostname}']);
  });
});

describe('buildChecks errors', () => {
  const cases: [string, CheckConfig[], RegExp][] = [
    ['unknown type', [{ type: 'tool' }], /Unknown check type 'tool' in check 'tool' \(checks\[0\]\); known types: .*tools/],
    ['missing parameter', [{ type: 'tools' }], /check 'tools' \(checks\[0\]\) needs `names`/],
    ['wrong parameter type', [{ type: 'tools', names: 'git' }, { type: 'disk-space', minFreeMb: -1 }], /Expected `minFreeMb` of check 'disk-space' \(checks\[1\]\) to be an integer from 0/],
    ['unknown parameter', [{ type: 'json', paths: ['x'], path: 'y' }], /Unknown key `path` in check 'json' \(checks\[0\]\); it takes `paths`/],
    ['bad mode', [{ type: 'permissions', paths: ['x'], mode: 'rw-r--r--' }], /Expected `mode` .* to be an octal mode in a string, got "rw-r--r--", e.g. "mode": "0640"/],
    ['bad id', [{ type: 'tools', names: ['x'], id: 'a b' }], /Expected `id` of check 'tools'/],
    ['duplicate id', [{ type: 'tools', names: ['x'], id: 't' }, { type: 'tools', names: ['y'], id: 't' }], /Two checks have the id 't'/],
    ['bad enabled', [{ type: 'tools', names: ['x'], enabled: 'no' }], /`enabled` .* to be true or false/],
  ];
  it.each(cases)('%s', (_name, checks, message) => {
    const { errors } = buildChecks({ checks, preset: undefined, ownership: false });
    expect(errors.join('\n')).toMatch(message);
  });

  it('reports every problem, not just the first', () => {
    const { errors } = buildChecks({ checks: [{ type: 'nope' }, { type: 'tools' }, { type: 'device' }], preset: undefined, ownership: false });
    expect(errors).toHaveLength(3);
  });

  it('builds a check for every type', () => {
    const { checks, errors } = buildChecks({
      checks: [
        { type: 'required', files: ['a'], dirs: ['b'] },
        { type: 'json', paths: ['a.json'] },
        { type: 'executable', paths: ['*.sh'] },
        { type: 'permissions', paths: ['secret'], mode: '0600', owner: 'root', group: '0' },
        { type: 'tools', names: ['sh'] },
        { type: 'command', command: 'true', timeoutSec: 5, requires: ['sh'] },
        { type: 'nix' },
        { type: 'device', path: '/dev/null' },
      ],
      preset: undefined,
      ownership: true,
    });
    expect(errors).toEqual([]);
    expect(checks.map((check) => check.type)).toEqual(['state', 'dest', 'integrity', 'unmanaged', 'ownership', 'disk-space', 'required', 'json', 'executable', 'permissions', 'tools', 'command', 'nix', 'device']);
  });
});
