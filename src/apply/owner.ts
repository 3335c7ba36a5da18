/**
 * The config's `owner`/`group` (names or numeric ids) as numeric ids for chown. Names are looked
 * up in /etc/passwd and /etc/group (Node has no getpwnam); only root may chown, so as another
 * user the setting is ignored (validate reports ownership drift instead).
 */
import { readFile } from 'node:fs/promises';
import { HostsyncError } from '../errors.js';

function lookup(database: string, name: string): number | undefined {
  for (const line of database.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  return undefined;
}

async function resolveId(value: string | undefined, file: string, what: string): Promise<number | undefined> {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const id = lookup(await readFile(file, 'utf8').catch(() => ''), value);
  if (id === undefined) throw new HostsyncError(`Unknown ${what} '${value}' in the config (not in ${file}). Use an existing name or a numeric id.`, 2);
  return id;
}

/** `{uid, gid}` to pass to apply, empty when nothing is configured or we are not root. */
export async function resolveOwner(config: { readonly owner: string | undefined; readonly group: string | undefined }): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const uid = await resolveId(config.owner, '/etc/passwd', 'owner');
  const gid = await resolveId(config.group, '/etc/group', 'group');
  return { ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) };
}
