/**
 * The command line as the config parser sees it: cac's parse of each command's flags, then
 * loadConfig — flags override the file, negations only when given, values stay strings.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { restoreStrings } from '../../src/cli/options.js';
import { loadConfig } from '../../src/config/load.js';

let config: string;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-flags-'));
  config = join(dir, 'c.json');
  await writeFile(config, JSON.stringify({ repo: 'a/b', dest: join(dir, 'd'), stateDir: join(dir, 's'), prune: true, rebuild: { command: 'true' } }));
});

async function parse(...argv: string[]) {
  let flags: Record<string, unknown> = {};
  const program = buildProgram(async (_name, f) => {
    flags = f;
    return 0;
  });
  const args = ['node', 'hostsync', argv[0]!, '--config', config, ...argv.slice(1)];
  program.parse(args, { run: false });
  await program.runMatchedCommand();
  await program.pending;
  const result = await loadConfig(restoreStrings(flags, args), { env: {} });
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
    expect((await parse('dev-update', '--no-rebuild')).rebuild).toBeUndefined();
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
});
