/**
 * The docs keep up with the CLI: every command-line option of every command appears in
 * docs/configuration.md or that command's own doc; every command appears in README.md and
 * docs/getting-started.md; every exit code of src/errors.ts has a row in docs/exit-codes.md; every
 * flag docs/configuration.md names exists; every relative link in README.md and docs/ resolves.
 *
 * The CLI is read from `buildProgram` (the cac program, built without running anything). Gaps that
 * exist today in docs this suite's owners do not write are listed in KNOWN_GAPS: a new gap fails
 * the test, naming what to write where; a listed gap that has been fixed only draws a warning, so
 * fixing a doc never breaks CI.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CAC } from 'cac';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { ExitCode } from '../../src/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where each command's options are documented, besides docs/configuration.md. */
const COMMAND_DOCS: Readonly<Record<string, readonly string[]>> = {
  '': ['README.md', 'docs/getting-started.md'], // global options (--help, --version)
  sync: ['docs/configuration.md'],
  history: ['docs/operations.md'],
  diff: ['docs/operations.md'],
  rollback: ['docs/operations.md'],
  restore: ['docs/operations.md'],
  'install-units': ['docs/systemd.md'],
  validate: ['docs/validate.md'],
  'dev-update': ['docs/dev-update.md'],
  completion: ['docs/getting-started.md'],
  help: ['README.md'],
  version: ['docs/output.md'],
};

/** Docs every command's options may be documented in. */
const SHARED_DOCS = ['docs/configuration.md'];

/**
 * Gaps known when this test was written, in docs outside test/docs' owners' files. Each entry is a
 * gap id as the checks below report it. Remove an entry once the doc is fixed.
 */
const KNOWN_GAPS: readonly string[] = [
  // Settings the proxy/CA and SSH work added to the table; docs/configuration.md is theirs to extend.
  ...['sync', 'validate', 'dev-update'].flatMap((command) =>
    ['--git-user', '--ssh-key-file', '--ssh-known-hosts-file', '--proxy', '--no-proxy', '--ca-file'].map(
      (flag) => `option ${flag} of 'hostsync ${command}' appears in none of ${[...new Set([...(COMMAND_DOCS[command] ?? []), ...SHARED_DOCS])].join(', ')}`,
    ),
  ),
];

/** One command as the docs need it: its name ('' for the global options) and its long flags. */
export interface CommandFlags {
  readonly name: string;
  readonly flags: readonly string[];
}

/** The long flags (`--state-dir`) of every command of a cac program, global options included. */
export function commandFlags(program: CAC): CommandFlags[] {
  const longFlags = (rawNames: readonly string[]): string[] =>
    rawNames.flatMap((raw) => raw.split(',').map((part) => part.trim().split(/\s+/)[0] ?? '')).filter((flag) => flag.startsWith('--'));
  return [program.globalCommand, ...program.commands].map((command) => ({
    name: command === program.globalCommand ? '' : command.name,
    flags: longFlags(command.options.map((option) => option.rawName)),
  }));
}

/** Whether `text` mentions `flag` as a whole word: `--prune` is not found in `--prune-old`. */
export function mentions(text: string, flag: string): boolean {
  const escaped = flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w-])${escaped}(?![\\w-])`).test(text);
}

function read(file: string): string {
  const full = join(ROOT, file);
  return existsSync(full) ? readFileSync(full, 'utf8') : '';
}

/** Options no doc mentions, as gap ids. */
export function undocumentedOptions(commands: readonly CommandFlags[], readDoc: (file: string) => string): string[] {
  const gaps: string[] = [];
  for (const { name, flags } of commands) {
    const docs = COMMAND_DOCS[name];
    if (docs === undefined) {
      gaps.push(`command '${name}' has no entry in COMMAND_DOCS (test/docs/options.test.ts): say which doc describes it`);
      continue;
    }
    const files = [...new Set([...docs, ...SHARED_DOCS])];
    for (const flag of flags) {
      if (!files.some((file) => mentions(readDoc(file), flag))) {
        gaps.push(`option ${flag} of ${name === '' ? 'hostsync (global)' : `'hostsync ${name}'`} appears in none of ${files.join(', ')}`);
      }
    }
  }
  return gaps;
}

/** Commands README.md or docs/getting-started.md never show as `hostsync NAME`. */
export function unlistedCommands(commands: readonly CommandFlags[], readDoc: (file: string) => string): string[] {
  const gaps: string[] = [];
  for (const { name } of commands) {
    if (name === '') continue;
    for (const file of ['README.md', 'docs/getting-started.md']) {
      if (!mentions(readDoc(file), `hostsync ${name}`)) gaps.push(`command 'hostsync ${name}' does not appear in ${file}`);
    }
  }
  return gaps;
}

/** Words in docs/configuration.md that look like flags but stand for no hostsync flag. */
const NOT_FLAGS = new Set(['--no-x']); // "cac makes a declared `--no-x` default …": a pattern, not a flag

/**
 * Flags docs/configuration.md names that no command accepts: in prose and in code spans that are a
 * flag or a hostsync command line, not in fenced examples or other programs' command lines
 * (`nixos-rebuild switch --flake …`).
 */
export function phantomFlags(commands: readonly CommandFlags[], readDoc: (file: string) => string): string[] {
  const known = new Set(commands.flatMap((command) => command.flags));
  const prose = readDoc('docs/configuration.md')
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`([^`\n]*)`/g, (span: string, inner: string) => (/^(--|hostsync )/.test(inner) ? span : ''));
  const named = new Set([...prose.matchAll(/(?:^|[^\w-])(--[a-z][a-z0-9-]*)(?![\w-])/g)].map((match) => match[1]!));
  return [...named]
    .filter((flag) => !known.has(flag) && !NOT_FLAGS.has(flag))
    .sort()
    .map((flag) => `documented flag ${flag} is not an option of any command (docs/configuration.md)`);
}

/** Markdown files whose relative links are checked: README.md and everything under docs/. */
function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files.sort();
}

/** Relative link targets of a markdown text: inline `[x](target)` and reference `[x]: target`, code left out. */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`+[^`\n]*`+/g, '');
  const targets = [
    ...[...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!),
    ...[...prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((match) => match[1]!),
  ];
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'));
}

/** Links that point at no file, as gap ids. */
export function brokenLinks(files: readonly string[], readDoc: (file: string) => string): string[] {
  const gaps: string[] = [];
  for (const file of files) {
    for (const target of relativeLinks(readDoc(file))) {
      const path = decodeURIComponent(target.split('#')[0]!);
      if (path === '') continue;
      const resolved = resolve(ROOT, dirname(file), path);
      if (!existsSync(resolved)) gaps.push(`${file} links ${relative(ROOT, resolved)}, which does not exist`);
    }
  }
  return gaps;
}

/** Fail on gaps that are not known; warn about known gaps that are gone. */
function expectNoNewGaps(gaps: readonly string[], area: string): void {
  const fresh = gaps.filter((gap) => !KNOWN_GAPS.includes(gap));
  const message =
    `${fresh.length} ${area} gap(s) in the docs:\n  ${fresh.join('\n  ')}\n` +
    'Document each one (or, for a command, add it to COMMAND_DOCS in test/docs/options.test.ts).' +
    (gaps.length > fresh.length ? `\nAlready known (KNOWN_GAPS):\n  ${gaps.filter((gap) => KNOWN_GAPS.includes(gap)).join('\n  ')}` : '');
  expect(fresh, message).toEqual([]);
}

const program = buildProgram(async () => 0);
const commands = commandFlags(program);

describe('the docs cover the CLI', () => {
  it('reads every command and option from the program', () => {
    expect(commands.map((command) => command.name)).toEqual(['', 'sync', 'history', 'diff', 'rollback', 'restore', 'install-units', 'validate', 'dev-update', 'completion', 'help', 'version']);
    expect(commands.find((command) => command.name === 'sync')?.flags).toContain('--state-dir');
    expect(commands.find((command) => command.name === '')?.flags).toEqual(['--help', '--version']);
  });

  it('every command-line option appears in docs/configuration.md or the command\'s doc', () => {
    expectNoNewGaps(undocumentedOptions(commands, read), 'option');
  });

  it('every command appears in README.md and docs/getting-started.md', () => {
    expectNoNewGaps(unlistedCommands(commands, read), 'command');
  });

  it('every flag docs/configuration.md names is an option of some command', () => {
    expectNoNewGaps(phantomFlags(commands, read), 'flag');
  });

  it('every exit code in src/errors.ts has a row in docs/exit-codes.md', () => {
    const table = read('docs/exit-codes.md');
    const missing = Object.entries(ExitCode)
      .filter(([, code]) => !new RegExp(`^\\|\\s*${code}\\s*\\|`, 'm').test(table))
      .map(([name, code]) => `ExitCode.${name} (${code})`);
    expect(missing, `docs/exit-codes.md has no table row for ${missing.join(', ')}`).toEqual([]);
  });

  it('every relative link in README.md and docs/ resolves to a file', () => {
    expectNoNewGaps(brokenLinks(markdownFiles(), read), 'link');
  });

  it('lists no known gap that has been fixed (a warning only)', () => {
    const all = new Set([...undocumentedOptions(commands, read), ...unlistedCommands(commands, read), ...phantomFlags(commands, read), ...brokenLinks(markdownFiles(), read)]);
    const fixed = KNOWN_GAPS.filter((gap) => !all.has(gap));
    if (fixed.length > 0) console.warn(`test/docs/options.test.ts: KNOWN_GAPS entries that are fixed now; remove them:\n  ${fixed.join('\n  ')}`);
  });
});

describe('the checks can fail', () => {
  it('report an option added without docs, naming it and its command', () => {
    const scratch = buildProgram(async () => 0);
    scratch.commands.find((command) => command.name === 'sync')!.option('--frobnicate-level <n>', 'An undocumented option');
    expect(undocumentedOptions(commandFlags(scratch), read)).toContain(
      "option --frobnicate-level of 'hostsync sync' appears in none of docs/configuration.md",
    );
  });

  it('report a command without a doc entry, and one missing from README.md', () => {
    const scratch = buildProgram(async () => 0);
    scratch.command('frob', 'An undocumented command').option('--x', 'x');
    const flags = commandFlags(scratch);
    expect(undocumentedOptions(flags, read)).toContain("command 'frob' has no entry in COMMAND_DOCS (test/docs/options.test.ts): say which doc describes it");
    expect(unlistedCommands(flags, read)).toContain("command 'hostsync frob' does not appear in README.md");
  });

  it('match flags as whole words and find relative links outside code', () => {
    expect(mentions('use --prune-old here', '--prune')).toBe(false);
    expect(mentions('use `--prune` here', '--prune')).toBe(true);
    expect(mentions('--check-only', '--check')).toBe(false);
    expect(relativeLinks('[a](docs/x.md#y) [b](https://e.org) [c](#top)\n`[d](no.md)`\n```\n[e](no.md)\n```\n[f]: ../g.md\n')).toEqual(['docs/x.md#y', '../g.md']);
    expect(brokenLinks(['README.md'], () => '[x](docs/nope.md)')).toEqual(['README.md links docs/nope.md, which does not exist']);
  });
});
