/**
 * The systemd unit texts `hostsync install-units` writes, and where they come from: the files of
 * the package's systemd/ folder (npm installs), or — in the single executable, which has no
 * package folder — the same files embedded at build time by scripts/build-binary.ts (an esbuild
 * `define` of {@link EMBEDDED_UNITS_DEFINE}). No unit text is written in source: systemd/ is the
 * one copy.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostsyncError, errorMessage } from '../errors.js';

/** The units `install-units` writes, in the order it writes and prints them. */
export const UNIT_FILE_NAMES = ['hostsync.service', 'hostsync.timer', 'hostsync@.service', 'hostsync@.timer', 'hostsync-notify@.service'] as const;

export type UnitFileName = (typeof UNIT_FILE_NAMES)[number];

/** The executable path the shipped units name; `install-units` replaces it with the real one. */
export const UNIT_EXEC_PLACEHOLDER = '/usr/local/bin/hostsync';

/** The services that run hostsync itself (ExecStart at the placeholder); the notify unit runs a script. */
export const HOSTSYNC_SERVICES: readonly UnitFileName[] = ['hostsync.service', 'hostsync@.service'];

/**
 * The docs folder the shipped units' `Documentation=` names; `install-units` points it at the docs of
 * the hostsync that writes them (the package's docs/), or drops it where there are none (the single
 * executable).
 */
export const UNIT_DOCS_PLACEHOLDER = 'file:/usr/local/share/doc/hostsync/';

/** The global identifier scripts/build-binary.ts defines as the unit files' texts (name → text). */
export const EMBEDDED_UNITS_DEFINE = 'HOSTSYNC_EMBEDDED_UNITS';

// Replaced by esbuild's `define` in the single executable; not defined anywhere else.
declare const HOSTSYNC_EMBEDDED_UNITS: Readonly<Record<string, string>> | undefined;

/** Unit texts and where they came from. */
export interface UnitTexts {
  readonly source: 'package' | 'embedded';
  readonly texts: Readonly<Record<UnitFileName, string>>;
  /** The package's docs folder, for `Documentation=`; undefined when there is none (the single executable). */
  readonly docsDir?: string | undefined;
}

/** Read the unit files of a systemd/ folder (the package's, or the repository's at build time). */
export async function readUnitFiles(dir: string): Promise<Record<UnitFileName, string>> {
  const entries = await Promise.all(UNIT_FILE_NAMES.map(async (unit) => [unit, await readFile(path.join(dir, unit), 'utf8')] as const));
  return Object.fromEntries(entries) as Record<UnitFileName, string>;
}

/** The texts the build embedded, when this is the single executable. */
function embeddedTexts(): Readonly<Record<UnitFileName, string>> | undefined {
  const embedded = typeof HOSTSYNC_EMBEDDED_UNITS === 'undefined' ? undefined : HOSTSYNC_EMBEDDED_UNITS;
  if (embedded === undefined) return undefined;
  const missing = UNIT_FILE_NAMES.filter((unit) => typeof embedded[unit] !== 'string');
  if (missing.length > 0) throw new Error(`BUG: the build embedded no text for ${missing.join(', ')}`);
  return embedded as Readonly<Record<UnitFileName, string>>;
}

/** The package's systemd/ folder: two levels above this module (src/units/ or dist/units/). */
function packageUnitDir(): string {
  return fileURLToPath(new URL('../../systemd/', import.meta.url));
}

/**
 * The unit texts: the embedded copies in the single executable, else the package's systemd/
 * folder. `dir` reads another folder instead (tests).
 */
export async function loadUnitTexts(dir?: string): Promise<UnitTexts> {
  const embedded = dir === undefined ? embeddedTexts() : undefined;
  if (embedded !== undefined) return { source: 'embedded', texts: embedded };
  const folder = dir ?? packageUnitDir();
  try {
    const docs = path.join(folder, '..', 'docs');
    return { source: 'package', texts: await readUnitFiles(folder), docsDir: existsSync(path.join(docs, 'systemd.md')) ? path.resolve(docs) : undefined };
  } catch (error: unknown) {
    throw new HostsyncError(`Cannot read the unit files in ${folder}: ${errorMessage(error)}. Reinstall hostsync to restore its systemd/ folder.`, undefined, { cause: error });
  }
}
