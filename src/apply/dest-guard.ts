/**
 * What DEST may be, decided on real paths (symlinks resolved) before anything is read or written:
 * never `/`, never inside the state directory nor holding it (either direction: syncing over the
 * object store, or pruning the state dir away), and — for runs that delete what they did not
 * place (`--prune`) or replace DEST itself (`layout: "symlink"`) — never a system directory such as
 * `/etc` or `/usr`, unless the operator says so with `allowSystemDest`. Pure: table-tested.
 */
import path from 'node:path';

/** Directories a prune (or a symlink layout) must never own: the host's own trees. */
export const SYSTEM_DIRS: readonly string[] = [
  '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt', '/nix', '/nix/store', '/nix/var',
  '/opt', '/proc', '/root', '/run', '/sbin', '/snap', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/log', '/var/cache', '/var/tmp',
];

/** Parents whose direct children are system directories too (`/usr/lib`, `/var/spool`, a user's home). */
const SYSTEM_PARENTS: readonly string[] = ['/usr', '/var', '/home', '/usr/local'];

export interface GuardInput {
  /** DEST's real path (with layout "symlink", the link's real parent joined with its name). */
  readonly dest: string;
  /** The state directory's real path (its nearest existing ancestor resolved). */
  readonly stateDir: string;
  readonly prune: boolean;
  readonly layout: 'inplace' | 'symlink';
  readonly allowSystemDest: boolean;
  /** DEST as the user wrote it, for messages. */
  readonly given: string;
}

const inside = (child: string, parent: string): boolean => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/** Whether `dir` is one of the host's own directories (or a user's home). */
export function isSystemDir(dir: string): boolean {
  if (SYSTEM_DIRS.includes(dir)) return true;
  const parent = path.dirname(dir);
  return SYSTEM_PARENTS.includes(parent) && parent !== dir;
}

/** Why DEST may not be used, or undefined when it may. */
export function destinationProblem(input: GuardInput): string | undefined {
  const { dest, stateDir, given } = input;
  const shown = given === dest ? dest : `${given} (really ${dest})`;
  if (dest === path.parse(dest).root) {
    return `Refusing destination ${shown}: it is the root of the filesystem, and hostsync would own every file on the host. Give a dedicated directory, e.g. --dest /etc/hypervisor.`;
  }
  if (inside(stateDir, dest)) {
    return `Refusing destination ${shown}: the state directory ${stateDir} is inside it, so a sync would overwrite (or with --prune delete) hostsync's own history and objects. Choose a state directory outside DEST with --state-dir, e.g. --state-dir /var/lib/hostsync.`;
  }
  if (inside(dest, stateDir)) {
    return `Refusing destination ${shown}: it is inside the state directory ${stateDir}, whose object store and manifests a sync would overwrite. Point --dest somewhere else.`;
  }
  const destructive = input.prune || input.layout === 'symlink';
  if (destructive && !input.allowSystemDest && isSystemDir(dest)) {
    const why = input.prune ? 'with --prune it would delete everything in it that the repository does not have' : 'layout "symlink" would replace it with a symlink';
    return `Refusing destination ${shown}: it is a system directory, and ${why}. Sync into a dedicated subdirectory (e.g. ${path.join(dest, 'hypervisor')}), or pass --allow-system-dest if you really mean it.`;
  }
  return undefined;
}
