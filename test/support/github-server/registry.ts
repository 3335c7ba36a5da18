/**
 * The served repositories: lookup by name (case-insensitive, as on GitHub) or id, renames that
 * leave the old name redirecting, and short-lived codeload tokens for private archives.
 */
import { randomBytes } from 'node:crypto';
import { git } from '../git-cli.js';
import type { ServedRepo } from './api-routes.js';
import { GitRepo } from './git-repo.js';

/** Options of `addRepo`. */
export interface AddRepoOptions {
  /** Private repositories answer 404 (API) or 401 (git) without a valid token. @default false */
  readonly private?: boolean;
  /** The branch `HEAD` means. @default the branch the repository's HEAD points to */
  readonly defaultBranch?: string;
}

/** What a name lookup finds: the repository, or the id it moved to. */
export type Lookup = { readonly repo: ServedRepo } | { readonly movedTo: ServedRepo } | undefined;

/** GitHub codeload links of private repositories expire after five minutes. */
const TOKEN_TTL_MS = 5 * 60_000;

function splitName(fullName: string): { owner: string; name: string } {
  const match = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(fullName);
  if (!match || match[2] === '.' || match[2] === '..') {
    throw new Error(`Invalid repository '${fullName}'. Expected format {owner}/{repo}.`);
  }
  return { owner: match[1] ?? '', name: match[2] ?? '' };
}

export class RepoRegistry {
  private readonly byName = new Map<string, ServedRepo>();
  private readonly byId = new Map<number, ServedRepo>();
  private readonly moved = new Map<string, number>();
  private readonly tokens = new Map<string, { readonly repoId: number; readonly expires: number }>();
  private nextId = 1000;

  async add(fullName: string, dir: string, opts: AddRepoOptions = {}): Promise<ServedRepo> {
    const { owner, name } = splitName(fullName);
    const key = fullName.toLowerCase();
    if (this.byName.has(key)) throw new Error(`Repository '${fullName}' is already served.`);
    const gitRepo = new GitRepo(dir);
    const defaultBranch = opts.defaultBranch ?? (await gitRepo.headBranch());
    const counts = await git(['count-objects', '-v'], { cwd: dir });
    const sizeKb = [...counts.matchAll(/^(?:size|size-pack): (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const served: ServedRepo = {
      record: { id: this.nextId++, owner, name, private: opts.private ?? false, defaultBranch, sizeKb },
      git: gitRepo,
    };
    this.byName.set(key, served);
    this.byId.set(served.record.id, served);
    this.moved.delete(key);
    return served;
  }

  /** Rename: the new name serves the repository, the old one redirects (301) to its id. */
  rename(oldFullName: string, newFullName: string): void {
    const oldKey = oldFullName.toLowerCase();
    const served = this.byName.get(oldKey);
    if (!served) throw new Error(`Repository '${oldFullName}' is not served; add it first.`);
    const { owner, name } = splitName(newFullName);
    const renamed: ServedRepo = { record: { ...served.record, owner, name }, git: served.git };
    this.byName.delete(oldKey);
    this.byName.set(newFullName.toLowerCase(), renamed);
    this.byId.set(renamed.record.id, renamed);
    this.moved.set(oldKey, renamed.record.id);
  }

  lookup(owner: string, name: string): Lookup {
    const key = `${owner}/${name}`.toLowerCase();
    const repo = this.byName.get(key);
    if (repo) return { repo };
    const id = this.moved.get(key);
    const target = id === undefined ? undefined : this.byId.get(id);
    return target ? { movedTo: target } : undefined;
  }

  byRepoId(id: number): ServedRepo | undefined {
    return this.byId.get(id);
  }

  /** A token that lets the codeload URL of a private repository work for five minutes. */
  issueToken(repoId: number, now: number): string {
    const token = randomBytes(16).toString('hex').toUpperCase();
    this.tokens.set(token, { repoId, expires: now + TOKEN_TTL_MS });
    return token;
  }

  tokenValid(token: string, repoId: number, now: number): boolean {
    const entry = this.tokens.get(token);
    return entry !== undefined && entry.repoId === repoId && entry.expires > now;
  }

  close(): void {
    for (const served of this.byId.values()) served.git.close();
  }
}
