/**
 * Pure planning for `hostsync install-units`: the unit texts with ExecStart pointing at the real
 * binary, what happens to each file given what is there now (with a unified diff where it
 * differs), warnings about binaries the sandbox hides, and the next steps. No I/O: ./install.ts
 * reads the existing files and writes the plan.
 */
import path from 'node:path';
import { HostsyncError, UsageError } from '../errors.js';
import { unifiedDiff } from './diff.js';
import { HOSTSYNC_SERVICES, UNIT_DOCS_PLACEHOLDER, UNIT_EXEC_PLACEHOLDER, UNIT_FILE_NAMES, type UnitFileName } from './texts.js';

/** Where systemd looks for units the administrator installs, below the prefix. */
export const UNIT_DIR = 'etc/systemd/system';

/** What happens to one unit file: `conflict` is an existing file that differs, without --force. */
export type UnitAction = 'create' | 'update' | 'unchanged' | 'conflict';

export interface UnitPlanEntry {
  readonly unit: UnitFileName;
  readonly path: string;
  readonly action: UnitAction;
  /** The text the file gets. */
  readonly text: string;
  /** `diff -u` of the file as it is and as it would be; empty when they are equal or it is absent. */
  readonly diff: string;
}

/**
 * One ExecStart word, quoted for systemd: `%` (specifiers) doubled, and words with blanks, quotes
 * or backslashes put in double quotes with C escapes. `$` and control characters are refused:
 * systemd would expand or split on them. See systemd.service(5), "Command lines".
 */
export function quoteExecWord(word: string): string {
  if (/[\u0000-\u001f\u007f]/.test(word)) throw new UsageError(`Cannot put ${JSON.stringify(word)} on an ExecStart line: it holds a control character.`);
  if (word.includes('$')) throw new UsageError(`Cannot put ${JSON.stringify(word)} on an ExecStart line: systemd would read \`$\` as a variable; use a path without it.`);
  const escaped = word.replace(/%/g, '%%');
  if (escaped !== '' && !/[\s"'\\]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `exec` as the start of an ExecStart value. */
export function formatExec(exec: readonly string[]): string {
  return exec.map(quoteExecWord).join(' ');
}

/**
 * `text` with ExecStart pointing at `execStart` instead of {@link UNIT_EXEC_PLACEHOLDER} (timers and
 * the notify unit pass through), and `Documentation=` at `docsDir` (the installed package's docs/);
 * with `docsDir` null the placeholder links are dropped (no docs on this host), undefined leaves them.
 */
export function renderUnit(unit: UnitFileName, text: string, execStart: string, docsDir?: string | null): string {
  const pattern = new RegExp(`^ExecStart=${escapeRegExp(UNIT_EXEC_PLACEHOLDER)}(?= )`, 'gm');
  const found = text.match(pattern)?.length ?? 0;
  const wanted = HOSTSYNC_SERVICES.includes(unit) ? 1 : 0;
  if (found !== wanted) {
    throw new HostsyncError(
      `The unit text of ${unit} has ${found} \`ExecStart=${UNIT_EXEC_PLACEHOLDER} …\` line(s), expected ${wanted}; reinstall hostsync to restore its systemd/ folder.`,
    );
  }
  const rendered = text.replace(pattern, () => `ExecStart=${execStart}`);
  return docsDir === undefined ? rendered : renderDocumentation(rendered, docsDir);
}

/** `Documentation=` lines with the placeholder folder replaced by `docsDir` (a `file:` URI), or dropped. */
function renderDocumentation(text: string, docsDir: string | null): string {
  return text
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('Documentation=')) return [line];
      const uris = line.slice('Documentation='.length).split(/\s+/).filter(Boolean);
      const kept = uris.flatMap((uri) => (!uri.startsWith(UNIT_DOCS_PLACEHOLDER) ? [uri] : docsDir === null ? [] : [`file:${encodeURI(docsDir.replace(/\/+$/, ''))}/${uri.slice(UNIT_DOCS_PLACEHOLDER.length)}`.replace(/%/g, '%%')]));
      return kept.length === 0 ? [] : [`Documentation=${kept.join(' ')}`];
    })
    .join('\n');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What each unit file in `directory` becomes, given its current content (undefined: absent). */
export function planUnits(
  rendered: Readonly<Record<UnitFileName, string>>,
  existing: Readonly<Partial<Record<UnitFileName, string>>>,
  directory: string,
  force: boolean,
): readonly UnitPlanEntry[] {
  return UNIT_FILE_NAMES.map((unit) => {
    const text = rendered[unit];
    const current = existing[unit];
    const file = path.join(directory, unit);
    const action: UnitAction = current === undefined ? 'create' : current === text ? 'unchanged' : force ? 'update' : 'conflict';
    const diff = current === undefined ? '' : unifiedDiff(current, text, `${file} (installed)`, `${file} (this hostsync)`);
    return { unit, path: file, action, text, diff };
  });
}

/**
 * The command that keeps local changes to `unit` in a drop-in: for a template, the template's own
 * drop-in (applies to every instance).
 */
export function dropInCommand(unit: UnitFileName): string {
  return `systemctl edit ${unit}`;
}

/** Paths the sandbox in the units hides or that vanish later. */
export function execWarnings(exec: readonly string[]): readonly string[] {
  const warnings: string[] = [];
  for (const word of exec) {
    if (/^\/(home|root|run\/user)(\/|$)/.test(word)) {
      warnings.push(`${word} is in a home directory, which the units hide (ProtectHome=yes): the service would fail to start. Install hostsync elsewhere or pass --bin.`);
    } else if (/^\/(tmp|var\/tmp)(\/|$)/.test(word)) {
      warnings.push(`${word} is in a temporary directory, which the units replace (PrivateTmp=yes): the service would fail to start. Install hostsync elsewhere or pass --bin.`);
    } else if (word.startsWith('/nix/store/')) {
      warnings.push(`${word} is a Nix store path, which garbage collection removes after an upgrade; prefer a stable link such as --bin /run/current-system/sw/bin/hostsync.`);
    }
  }
  return warnings;
}

/** What to do after the units are written. */
export function nextSteps(prefix: string, directory: string): readonly string[] {
  const steps: string[] = [];
  if (prefix !== path.parse(prefix).root) steps.push(`Copy the files in ${directory} to /etc/systemd/system on the host, then:`);
  steps.push(
    'Write /etc/hostsync/config.json (repo, ref, dest, rebuild) and, for a private repository, the token: install -m 0600 /dev/null /etc/hostsync/token, then put the token in it.',
    'Or authenticate as a GitHub App: "appId" in config.json, its key in /etc/hostsync/github-app.pem (mode 0600), and a drop-in for the service with LoadCredential=github-app-key:/etc/hostsync/github-app.pem: see docs/operations.md#github-apps.',
    'systemctl daemon-reload && systemctl enable --now hostsync.timer',
    'Another repository: /etc/hostsync/NAME.json and /etc/hostsync/NAME.token, then systemctl enable --now hostsync@NAME.timer',
    'A DEST other than /etc/hypervisor (or /etc/NAME), or a rebuild such as nixos-rebuild switch, needs a drop-in: see docs/systemd.md.',
    'To be told of a failed run: an executable /etc/hostsync/notify (it gets the unit name; hostsync-notify@.service runs it), or hooks.onOutcome for every outcome: see docs/systemd.md.',
  );
  return steps;
}
