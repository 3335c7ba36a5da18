/**
 * The command line itself, in-process: "did you mean" for commands and options (also before the
 * command), `help [command]` and `version`, --help without cac's misleading "(default: true)",
 * each command offering exactly its settings, the deprecated --skip-rebuild, bash completion from
 * the same table, and `--json` printing one document on failure too.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bashCompletion } from '../../src/cli/completion.js';
import { EXIT_CODE_HELP } from '../../src/cli/help.js';
import { COMMANDS, commandSpec } from '../../src/cli/program.js';
import { allSettings, flagOf, kebabOf } from '../../src/config/settings.js';
import { ExitCode } from '../../src/errors.js';
import { VERSION } from '../../src/version.js';
import { runInProcess } from '../support/io.js';

let tmp: string;
let missingConfig: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hostsync-cmdline-'));
  missingConfig = join(tmp, 'no-config.json');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** hostsync in-process, with a default config file that does not exist. */
const hs = (...args: string[]) => runInProcess(args, { env: { HOSTSYNC_CONFIG: missingConfig }, cwd: tmp });

describe('typos', () => {
  it.each([
    [['synk'], "Unknown command 'synk'. Did you mean `hostsync sync`?"],
    [['histroy'], 'Did you mean `hostsync history`?'],
    [['--verison'], 'Unknown option `--verison` for `hostsync`. Did you mean `--version`?'],
    [['sync', '--dets', '/x'], 'Unknown option `--dets` for `hostsync sync`. Did you mean `--dest`?'],
    [['history', '--lock-timeout', '5'], 'Unknown option `--lock-timeout` for `hostsync history`.'],
    [['install-units', '--dryrun'], 'Did you mean `--dry-run`?'],
  ])('hostsync %j: exit 2, %s', async (args, message) => {
    const result = await hs(...args);
    expect(result.code).toBe(ExitCode.Usage);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
  });

  it('no command at all says so', async () => {
    const result = await hs();
    expect(result.code).toBe(ExitCode.Usage);
    expect(result.stderr).toMatch(/No command given\. Run `hostsync --help`/);
  });
});

describe('value options named --no-… (cac would read them as a negation)', () => {
  it('`--no-proxy HOSTS` reaches the command as a value, and is refused where it is no option', async () => {
    const validate = await hs('validate', '--no-proxy', 'localhost,10.0.0.0/8', '--dest', join(tmp, 'dest'), '--state-dir', join(tmp, 'state'), '--json');
    expect(validate.stderr).not.toMatch(/Unused args|value is missing/);
    expect(JSON.parse(validate.stdout)).toMatchObject({ format: 1, command: 'validate' });
    const history = await hs('history', '--no-proxy', 'localhost');
    expect(history.code).toBe(2);
    expect(history.stderr).toContain('Unknown option `--no-proxy` for `hostsync history`.');
  });
});

describe('help and version', () => {
  it('`hostsync --help` and `hostsync help` list every command with examples, the config file and every exit code', async () => {
    const top = await hs('--help');
    expect(top.code).toBe(0);
    expect((await hs('help')).stdout).toBe(top.stdout);
    for (const command of COMMANDS) expect(top.stdout).toMatch(new RegExp(`^  ${command.name}\\b`, 'm'));
    expect(top.stdout).toMatch(/^Examples:\n  hostsync /m);
    expect(top.stdout).toContain('/etc/hostsync/config.json');
    for (const [name, code] of Object.entries(ExitCode)) expect(top.stdout).toMatch(new RegExp(`^  ${code}\\s+${escape(EXIT_CODE_HELP[name as keyof typeof ExitCode])}$`, 'm'));
  });

  it('`hostsync help sync` is `hostsync sync --help`; `hostsync help synk` suggests', async () => {
    const help = await hs('help', 'sync');
    expect(help.code).toBe(0);
    expect(help.stdout).toBe((await hs('sync', '--help')).stdout);
    expect(help.stdout).toMatch(/^Usage: hostsync sync \[options\]/);
    const typo = await hs('help', 'synk');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('Did you mean `hostsync sync`?');
  });

  it('`hostsync version`, `--version` and `-v` print the version; `version --json` a document', async () => {
    for (const args of [['version'], ['--version'], ['-v'], ['sync', '--version']]) {
      const result = await hs(...args);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^hostsync/${escape(VERSION)} `));
    }
    expect(JSON.parse((await hs('version', '--json')).stdout)).toMatchObject({ format: 1, command: 'version', ok: true, version: VERSION });
  });

  it('negated flags say what they do, never "(default: true)"', async () => {
    for (const command of COMMANDS) {
      const help = (await hs(command.name, '--help')).stdout;
      expect(help, command.name).not.toMatch(/\(default: (true|false)\)/);
    }
    expect((await hs('sync', '--help')).stdout).toMatch(/^  --no-prune\s+Keep unmanaged files even when the config file sets prune$/m);
  });

  it('dev-update offers --no-rebuild; --skip-rebuild is a deprecated alias, accepted with a warning, not in --help', async () => {
    const help = (await hs('dev-update', '--help')).stdout;
    expect(help).toMatch(/^  --no-rebuild\s/m);
    expect(help).not.toContain('--skip-rebuild');
    const run = await hs('dev-update', '--skip-rebuild');
    expect(run.stderr).toMatch(/^warn: --skip-rebuild is deprecated; use --no-rebuild\.$/m);
  });
});

describe('each command offers the settings whose `commands` name it, and no other', () => {
  /** The setting flags of a command, from the table. */
  const settingFlags = (name: string): string[] =>
    allSettings()
      .filter(([, spec]) => spec.commands.includes(name as never))
      .flatMap(([key, spec]) => {
        const flag = `--${kebabOf(flagOf(key) ?? key)}`;
        return spec.kind === 'boolean' && spec.negatable !== undefined ? [flag, `--no-${flag.slice(2)}`] : [flag];
      });
  const OWN: Readonly<Record<string, readonly string[]>> = {
    sync: ['--config'],
    history: ['--config', '--file'],
    diff: ['--config', '--drift'],
    rollback: ['--config', '--to'],
    restore: ['--config', '--to'],
    validate: ['--config', '--fix'],
    'dev-update': ['--config', '--no-rebuild', '--skip-rebuild', '--fix'],
  };

  it.each(Object.keys(OWN))('%s', (name) => {
    const flags = commandSpec(name)!.options.map((option) => option.flag.split(/\s/)[0]);
    expect(new Set(flags)).toEqual(new Set([...settingFlags(name), ...OWN[name]!]));
  });

  it('history and rollback get only what they use', () => {
    const history = commandSpec('history')!.options.map((option) => option.flag.split(/\s/)[0]);
    expect(history).not.toContain('--lock-timeout');
    expect(history).not.toContain('--history-limit');
    expect(history).toContain('--layout'); // a symlink layout's DEST is found through it
    const rollback = commandSpec('rollback')!.options.map((option) => option.flag.split(/\s/)[0]);
    for (const flag of ['--dest', '--state-dir', '--layout', '--check-only', '--lock-timeout', '--history-limit', '--to']) expect(rollback).toContain(flag);
    for (const flag of ['--repo', '--ref', '--concurrency', '--prune']) expect(rollback).not.toContain(flag);
  });
});

describe('--json prints one document, on failure too', () => {
  it('a usage failure: {format: 1, ok: false, error: {message, exitCode}}', async () => {
    const result = await hs('sync', '--json');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      format: 1,
      command: 'sync',
      ok: false,
      error: { message: `No config file at ${missingConfig}; pass --config FILE, or --repo OWNER/NAME and --dest DIR (or write ${missingConfig}: docs/getting-started.md).`, exitCode: 2 },
    });
  });

  it('an unknown option with --json', async () => {
    const result = await hs('history', '--json', '--bogus');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ format: 1, command: 'history', ok: false, error: { exitCode: 2 } });
  });

  it('`json: true` in the config file counts too', async () => {
    const config = join(tmp, 'json.json');
    await writeFile(config, JSON.stringify({ json: true, dest: join(tmp, 'd'), stateDir: join(tmp, 's') }));
    const result = await hs('rollback', '--config', config);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ format: 1, command: 'rollback', ok: false, error: { message: expect.stringMatching(/Nothing was ever applied/) as unknown, exitCode: 1 } });
  });
});

describe('bash completion', () => {
  const bash = spawnSync('bash', ['--version']).status === 0;

  it('is generated from the command table: every command and option is in it', () => {
    const script = bashCompletion();
    for (const command of COMMANDS) {
      expect(script).toContain(` ${command.name}) words=`);
      for (const option of command.options) if (option.deprecatedFor === undefined) expect(script).toContain(option.flag.split(/[\s,]/)[0]);
    }
  });

  it.skipIf(!bash)('completes commands, options and enum values in bash', () => {
    const complete = (line: string): string[] => {
      const words = line.split(' ');
      const program = `${bashCompletion()}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _hostsync; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const run = spawnSync('bash', ['-c', program], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      return run.stdout.split('\n').filter(Boolean);
    };
    expect(complete('hostsync sy')).toEqual(['sync']);
    expect(complete('hostsync sync --dr')).toEqual([]);
    expect(complete('hostsync install-units --dr')).toEqual(['--dry-run']);
    expect(complete('hostsync sync --transport ')).toEqual(['auto', 'rest', 'git']);
    expect(complete('hostsync dev-update --no-reb')).toEqual(['--no-rebuild']);
    expect(complete('hostsync help ')).toEqual(COMMANDS.map((command) => command.name).concat(['-h', '--help', '-v', '--version']));
    expect(complete('hostsync --config /etc/x.json hist')).toEqual(['history']);
  });

  it('`hostsync completion bash` prints it; another shell is a usage error', async () => {
    const result = await hs('completion', 'bash');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(bashCompletion());
    expect((await hs('completion', 'fish')).code).toBe(2);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
