/**
 * `hostsync diff` for people (the patch, coloured on a terminal, and a summary line on stderr) and
 * programs (`--json`: one object per file with its patch). Pure but for the Output it writes to.
 */
import type { DiffResult } from '../../pipeline/diff.js';
import type { Output } from '../output.js';

/** The `--json` fields (docs/output.md). */
export function diffJson(result: DiffResult, exitCode: number): Record<string, unknown> & { ok: boolean } {
  return {
    ok: true,
    exitCode,
    mode: result.mode,
    dest: result.dest,
    repo: result.repo,
    ref: result.ref,
    commit: result.commit,
    appliedCommit: result.appliedCommit ?? null,
    held: result.held,
    files: result.files,
    unmanaged: result.unmanaged,
  };
}

/** The patch, coloured like `git diff` when the output wants colour. */
export function renderPatch(result: DiffResult, out: Output, write: (text: string) => void, colour: boolean): void {
  const p = out.paint;
  for (const file of result.files) {
    for (const line of file.patch.replace(/\n$/, '').split('\n')) {
      if (!colour) write(`${line}\n`);
      else if (/^(diff --git|index |--- |\+\+\+ |(old|new|deleted file|new file) mode)/.test(line)) write(`${p.bold(line)}\n`);
      else if (line.startsWith('@@')) write(`${p.cyan(line)}\n`);
      else if (line.startsWith('+')) write(`${p.green(line)}\n`);
      else if (line.startsWith('-')) write(`${p.red(line)}\n`);
      else if (line.startsWith('#')) write(`${p.yellow(line)}\n`);
      else write(`${line}\n`);
    }
  }
}

/** One line for stderr: what was compared with what, and how much differs. */
export function diffSummary(result: DiffResult): string {
  const where = `${result.repo}${result.ref === null ? '' : `@${result.ref}`} ${result.commit.slice(0, 12)}`;
  const count = result.files.length === 1 ? '1 file differs' : `${result.files.length} files differ`;
  const unmanaged = result.unmanaged.length === 0 ? '' : `; ${result.unmanaged.length} unmanaged path(s) kept (not placed by hostsync; a sync leaves them, --prune deletes them)`;
  if (result.mode === 'drift') return result.files.length === 0 ? `no drift: ${result.dest} holds ${where} as applied${unmanaged}` : `drift: ${count} in ${result.dest} from ${where} as applied${unmanaged}`;
  if (result.held) return `held after a rollback at ${where}: a sync changes nothing until the ref moves${unmanaged}`;
  return result.files.length === 0 ? `in sync: ${result.dest} holds ${where}${unmanaged}` : `pending: ${count} between ${result.dest} and ${where}${unmanaged}`;
}
