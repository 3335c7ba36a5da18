/**
 * Which paths `.gitattributes` hands to Git LFS (`filter=lfs`), read as git does
 * (https://git-scm.com/docs/gitattributes): a pattern without a slash matches the name at any depth
 * below its file's folder, one with a slash is anchored there; `**` spans folders; later lines win
 * over earlier ones, deeper files over shallower ones; `-filter`, `!filter` and `filter=other`
 * take the attribute away again; a negative pattern (`!x`) is ignored, as git ignores it.
 *
 * Used where reading every small blob would cost too much (a `--check-only` run that has not
 * downloaded the commit's content): detection itself is by content (pointer.ts). Pure: no I/O.
 */
import picomatch from 'picomatch';

/** One `.gitattributes` file: its folder (relative to the synced root, '' for the root) and text. */
export interface AttributesFile {
  readonly dir: string;
  readonly text: string;
}

interface Rule {
  readonly matches: (path: string) => boolean;
  /** true: filter=lfs; false: any other state of `filter`. */
  readonly lfs: boolean;
}

/** Split a line into its pattern and attributes (a quoted pattern may hold spaces). */
function splitLine(line: string): { pattern: string; attributes: string[] } | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  let pattern: string;
  let rest: string;
  if (trimmed.startsWith('"')) {
    const end = trimmed.indexOf('"', 1);
    if (end === -1) return undefined;
    pattern = trimmed.slice(1, end).replace(/\\(.)/g, '$1');
    rest = trimmed.slice(end + 1);
  } else {
    const space = trimmed.search(/\s/);
    pattern = space === -1 ? trimmed : trimmed.slice(0, space);
    rest = space === -1 ? '' : trimmed.slice(space);
  }
  return { pattern, attributes: rest.split(/\s+/).filter((word) => word !== '') };
}

/** The state a line gives `filter`: 'lfs', another state, or undefined when it does not mention it. */
function filterState(attributes: readonly string[]): boolean | undefined {
  let state: boolean | undefined;
  for (const attribute of attributes) {
    const name = attribute.replace(/^[-!]/, '').split('=')[0];
    if (name !== 'filter') continue;
    state = attribute === 'filter=lfs';
  }
  return state;
}

function ruleOf(dir: string, pattern: string, lfs: boolean): Rule | undefined {
  if (pattern.startsWith('!') || pattern.endsWith('/')) return undefined; // forbidden / never matches a file
  const prefix = dir === '' ? '' : `${dir}/`;
  const anchored = pattern.includes('/');
  const glob = pattern.replace(/^\//, '');
  const match = picomatch(glob, { dot: true });
  return {
    lfs,
    matches(path) {
      if (!path.startsWith(prefix)) return false;
      const relative = path.slice(prefix.length);
      return anchored ? match(relative) : match(relative.slice(relative.lastIndexOf('/') + 1));
    },
  };
}

/**
 * A predicate: whether `.gitattributes` files (relative to the synced root) give a path
 * `filter=lfs`. Files outside the synced folder (above `--path`) are not seen.
 */
export function lfsPaths(files: readonly AttributesFile[]): (path: string) => boolean {
  const depth = (dir: string): number => (dir === '' ? 0 : dir.split('/').length);
  const rules: Rule[] = [];
  for (const file of [...files].sort((a, b) => depth(a.dir) - depth(b.dir) || (a.dir < b.dir ? -1 : 1))) {
    for (const line of file.text.split('\n')) {
      const parsed = splitLine(line);
      if (parsed === undefined) continue;
      const state = filterState(parsed.attributes);
      if (state === undefined) continue;
      const rule = ruleOf(file.dir, parsed.pattern, state);
      if (rule !== undefined) rules.push(rule);
    }
  }
  if (rules.length === 0) return () => false;
  return (path) => {
    let lfs = false;
    for (const rule of rules) if (rule.matches(path)) lfs = rule.lfs;
    return lfs;
  };
}
