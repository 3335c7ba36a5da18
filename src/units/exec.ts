/**
 * Which command the units' ExecStart runs: `--bin` as given, else this single executable, else
 * node with the real path of the script it runs. The real process sits behind {@link ExecDeps}.
 */
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError, errorCode, errorMessage } from '../errors.js';

/** The real process, for {@link resolveExecCommand}. */
export interface ExecDeps {
  readonly cwd: string;
  /** `process.execPath`: node, or the single executable itself. */
  readonly execPath: string;
  /** `process.argv[1]`: the script node runs, when not a single executable. */
  readonly argv1: string | undefined;
  readonly isSea: () => Promise<boolean>;
  readonly realpath: (file: string) => Promise<string>;
  /** Why `file` cannot be run (missing, not a file, not executable), or undefined when it can. */
  readonly whyNotExecutable: (file: string) => Promise<string | undefined>;
}

/** The command and what is worth a warning about it. */
export interface ExecCommand {
  readonly exec: readonly string[];
  readonly warnings: readonly string[];
}

/** The real process behind {@link ExecDeps}. */
export function processExecDeps(): ExecDeps {
  return {
    cwd: process.cwd(),
    execPath: process.execPath,
    argv1: process.argv[1],
    isSea: detectSea,
    realpath: (file) => realpath(file),
    whyNotExecutable,
  };
}

/**
 * Whether this process is a Node single executable application. `process.getBuiltinModule`
 * (Node ≥ 20.16) rather than `import('node:sea')`: a dynamic import survives esbuild's CommonJS
 * bundle as a real import(), which a single executable cannot resolve, so detection silently failed.
 */
async function detectSea(): Promise<boolean> {
  try {
    const sea = process.getBuiltinModule('node:sea') as { isSea(): boolean } | undefined;
    return sea?.isSea() === true;
  } catch {
    return false;
  }
}

async function whyNotExecutable(file: string): Promise<string | undefined> {
  try {
    if (!(await stat(file)).isFile()) return 'it is not a file';
    await access(file, constants.X_OK);
    return undefined;
  } catch (error: unknown) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
    if (code === 'EACCES') return 'it is not executable';
    return errorMessage(error);
  }
}

/**
 * The command the units run: `--bin` as given (made absolute), else the single executable, else
 * node with the real path of the script it runs (`bin/hostsync.js`), symlinks resolved so that an
 * npm bin link does not matter. `elsewhere`: the units are for another host (written under a
 * `--prefix`), so a `--bin` missing here is a warning, not an error.
 */
export async function resolveExecCommand(bin: string | undefined, deps: ExecDeps, elsewhere = false): Promise<ExecCommand> {
  if (bin !== undefined) {
    const file = path.resolve(deps.cwd, bin);
    const problem = await deps.whyNotExecutable(file);
    if (problem === undefined) return { exec: [file], warnings: [] };
    // Units written under --prefix are for another host (an image, a NixOS configuration):
    // the binary need not exist on this one.
    if (elsewhere) return { exec: [file], warnings: [`--bin ${file}: ${problem} on this host; make sure it exists on the host the units are for.`] };
    throw new UsageError(`\`--bin ${file}\`: ${problem}. Pass the hostsync executable the units should run (or write the units for another host with --prefix DIR).`);
  }
  if (await deps.isSea()) return { exec: [deps.execPath], warnings: [] };
  if (deps.argv1 === undefined || deps.argv1 === '') {
    throw new UsageError('Cannot tell where this hostsync is installed (no script in the process arguments); pass `--bin /path/to/hostsync`.');
  }
  let script: string;
  try {
    script = await deps.realpath(path.resolve(deps.cwd, deps.argv1));
  } catch (error: unknown) {
    throw new UsageError(`Cannot resolve the running script ${deps.argv1}: ${errorMessage(error)}; pass \`--bin /path/to/hostsync\`.`, { cause: error });
  }
  if (!/\.[cm]?js$/.test(script)) {
    throw new UsageError(`hostsync is running from ${script}, which node cannot run on its own; pass \`--bin\` with the installed hostsync, e.g. \`--bin /usr/local/bin/hostsync\`.`);
  }
  return { exec: [deps.execPath, script], warnings: [] };
}
