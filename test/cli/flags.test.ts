/**
 * The command line as the config parser sees it: cac's parse of each command's flags, then
 * loadConfig — flags override the file, negations only when given, values stay strings, a
 * repeated value flag's last value wins (repeatable `--preserve` keeps them all).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { commandFlags } from '../../src/cli/options.js';
import { commandSpec } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';

let config: string;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-flags-'));
  config = join(dir, 'c.json');
  await writeFile(config, JSON.stringify({ repo: 'a/b', dest: join(dir, 'd'), stateDir: join(dir, 's'), prune: true, rebuild: { command: 'true' } }));
});

/** The flags a command's module receives, as main.ts hands them over. */
async function flagsOf(...argv: string[]): Promise<Record<string, unknown>> {
  let flags: Record<string, unknown> = {};
  const program = buildProgram(async (_name, f) => {
    flags = f;
    return 0;
  });
  const args = ['node', 'hostsync', ...argv];
  program.parse(args, { run: false });
  await program.runMatchedCommand();
  await program.pending;
  return commandFlags(flags, args, commandSpec(argv[0]!)!.options);
}

async function parse(...argv: string[]) {
  const result = await loadConfig(await flagsOf(argv[0]!, '--config', config, ...argv.slice(1)), { env: {} });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

describe('flags over the config file', () => {
  it('no flags: the file decides', async () => {
    const c = await parse('dev-update');
    expect(c.prune).toBe(true);
    expect(c.rebuild?.command).toBe('true');
  });
  it('--no-prune and --no-rebuild turn the file off only when given', async () => {
    expect((await parse('sync', '--no-prune')).prune).toBe(false);
    expect(await flagsOf('dev-update', '--no-rebuild')).toMatchObject({ rebuild: false });
  });
  it('--rebuild, --preserve (repeatable), --layout', async () => {
    expect((await parse('dev-update', '--rebuild', 'echo hi')).rebuild?.command).toBe('echo hi');
    const c = await parse('sync', '--preserve', 'a/**', '--preserve', 'b', '--layout', 'symlink');
    expect(c.preserve).toEqual(['a/**', 'b']);
    expect(c.layout).toBe('symlink');
  });
  it('number-looking refs stay strings', async () => {
    expect((await parse('sync', '--ref', '1.10')).ref).toBe('1.10');
    expect((await parse('sync', '--ref=0123456')).ref).toBe('0123456');
  });
  it('a value flag given twice: the last one wins, as typed (wrappers append overrides)', async () => {
    expect((await parse('sync', '--ref', 'main', '--ref', 'v2')).ref).toBe('v2');
    expect((await parse('sync', '--ref', '1.10', '--ref=2.0')).ref).toBe('2.0');
    expect((await parse('sync', '--concurrency', '4', '--concurrency', '16')).concurrency).toBe(16);
    expect((await parse('sync', '--prune', '--no-prune')).prune).toBe(false);
    expect((await parse('sync', '--preserve', '1.10', '--preserve', 'b/**')).preserve).toEqual(['1.10', 'b/**']);
    expect(await flagsOf('rollback', '--to', '1234', '--to', '0123')).toMatchObject({ to: '0123' });
    expect(await flagsOf('dev-update', '--rebuild', 'make', '--no-rebuild')).toMatchObject({ rebuild: false });
  });
});
