/**
 * JSON bodies in GitHub's shapes (validated against the OpenAPI description in the tests):
 * repository, user, commit, diff entry, comparison, rate limit.
 */
import type { CommitInfo, GitDiffEntry } from './git-repo.js';
import type { RateLimitState } from './rate-limit.js';

/** A served repository as the API describes it. */
export interface RepoRecord {
  readonly id: number;
  readonly owner: string;
  readonly name: string;
  readonly private: boolean;
  readonly defaultBranch: string;
  /** Repository size in KiB (GitHub computes it hourly; fixed here). */
  readonly sizeKb: number;
}

/** Where URLs in bodies point: the server's own origin plays api.github.com and github.com. */
export interface Origins {
  readonly api: string;
  readonly web: string;
  /** Where tarball downloads are redirected (GitHub: codeload.github.com, another origin than the API). */
  readonly codeload: string;
}

export const fullName = (repo: RepoRecord): string => `${repo.owner}/${repo.name}`;
const FIXED_DATE = '2024-01-01T00:00:00Z';

export function nodeId(kind: string, key: string | number): string {
  return Buffer.from(`0${kind.length}:${kind}${key}`).toString('base64');
}

/** A "Simple User" for the repository owner (ids derived from the login). */
export function userPayload(login: string, origins: Origins): Record<string, unknown> {
  const id = 1000 + [...login].reduce((sum, ch) => (sum * 31 + ch.charCodeAt(0)) % 1_000_000, 7);
  const url = `${origins.api}/users/${login}`;
  return {
    login,
    id,
    node_id: nodeId('User', id),
    avatar_url: `${origins.web}/avatars/u/${id}?v=4`,
    gravatar_id: '',
    url,
    html_url: `${origins.web}/${login}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: 'User',
    user_view_type: 'public',
    site_admin: false,
  };
}

/** GET /repos/{owner}/{repo}: a "Full Repository". */
export function repoPayload(repo: RepoRecord, origins: Origins, authenticated: boolean): Record<string, unknown> {
  const name = fullName(repo);
  const url = `${origins.api}/repos/${name}`;
  const html = `${origins.web}/${name}`;
  const host = new URL(origins.web).host;
  const permissions = authenticated ? { permissions: { admin: false, maintain: false, push: false, triage: false, pull: true } } : {};
  return {
    id: repo.id,
    node_id: nodeId('Repository', repo.id),
    name: repo.name,
    full_name: name,
    private: repo.private,
    owner: userPayload(repo.owner, origins),
    html_url: html,
    description: null,
    fork: false,
    url,
    forks_url: `${url}/forks`,
    keys_url: `${url}/keys{/key_id}`,
    collaborators_url: `${url}/collaborators{/collaborator}`,
    teams_url: `${url}/teams`,
    hooks_url: `${url}/hooks`,
    issue_events_url: `${url}/issues/events{/number}`,
    events_url: `${url}/events`,
    assignees_url: `${url}/assignees{/user}`,
    branches_url: `${url}/branches{/branch}`,
    tags_url: `${url}/tags`,
    blobs_url: `${url}/git/blobs{/sha}`,
    git_tags_url: `${url}/git/tags{/sha}`,
    git_refs_url: `${url}/git/refs{/sha}`,
    trees_url: `${url}/git/trees{/sha}`,
    statuses_url: `${url}/statuses/{sha}`,
    languages_url: `${url}/languages`,
    stargazers_url: `${url}/stargazers`,
    contributors_url: `${url}/contributors`,
    subscribers_url: `${url}/subscribers`,
    subscription_url: `${url}/subscription`,
    commits_url: `${url}/commits{/sha}`,
    git_commits_url: `${url}/git/commits{/sha}`,
    comments_url: `${url}/comments{/number}`,
    issue_comment_url: `${url}/issues/comments{/number}`,
    contents_url: `${url}/contents/{+path}`,
    compare_url: `${url}/compare/{base}...{head}`,
    merges_url: `${url}/merges`,
    archive_url: `${url}/{archive_format}{/ref}`,
    downloads_url: `${url}/downloads`,
    issues_url: `${url}/issues{/number}`,
    pulls_url: `${url}/pulls{/number}`,
    milestones_url: `${url}/milestones{/number}`,
    notifications_url: `${url}/notifications{?since,all,participating}`,
    labels_url: `${url}/labels{/name}`,
    releases_url: `${url}/releases{/id}`,
    deployments_url: `${url}/deployments`,
    created_at: FIXED_DATE,
    updated_at: FIXED_DATE,
    pushed_at: FIXED_DATE,
    git_url: `git://${host}/${name}.git`,
    ssh_url: `git@${host}:${name}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: null,
    size: repo.sizeKb,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: repo.private ? 'private' : 'public',
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: repo.defaultBranch,
    ...permissions,
    network_count: 0,
    subscribers_count: 0,
  };
}

/** The `verification` object; commits in the verified set report a valid signature. */
function verificationPayload(commit: CommitInfo, verified: boolean): Record<string, unknown> {
  const signed = commit.signature !== undefined;
  return {
    verified,
    reason: verified ? 'valid' : signed ? 'unknown_key' : 'unsigned',
    signature: commit.signature ?? null,
    payload: signed || verified ? commit.payload : null,
    verified_at: verified ? commit.committer.date : null,
  };
}

/** A "Diff Entry" of a commit or comparison (no `patch`: GitHub omits it for large or binary diffs too). */
export function diffEntryPayload(entry: GitDiffEntry, repo: RepoRecord, origins: Origins, commitSha: string): Record<string, unknown> {
  const name = fullName(repo);
  const path = entry.filename.split('/').map(encodeURIComponent).join('/');
  return {
    sha: entry.sha,
    filename: entry.filename,
    status: entry.status,
    additions: entry.additions,
    deletions: entry.deletions,
    changes: entry.additions + entry.deletions,
    blob_url: `${origins.web}/${name}/blob/${commitSha}/${path}`,
    raw_url: `${origins.web}/${name}/raw/${commitSha}/${path}`,
    contents_url: `${origins.api}/repos/${name}/contents/${path}?ref=${commitSha}`,
    ...(entry.previousFilename === undefined ? {} : { previous_filename: entry.previousFilename }),
  };
}

/** A "Commit"; `files` (and `stats`) are present on GET commit, absent in comparison lists. */
export function commitPayload(
  commit: CommitInfo,
  repo: RepoRecord,
  origins: Origins,
  verified: boolean,
  files?: readonly GitDiffEntry[],
): Record<string, unknown> {
  const name = fullName(repo);
  const api = `${origins.api}/repos/${name}`;
  const web = `${origins.web}/${name}`;
  const withFiles =
    files === undefined
      ? {}
      : (() => {
          const additions = files.reduce((sum, f) => sum + f.additions, 0);
          const deletions = files.reduce((sum, f) => sum + f.deletions, 0);
          return {
            stats: { total: additions + deletions, additions, deletions },
            files: files.slice(0, 300).map((f) => diffEntryPayload(f, repo, origins, commit.sha)),
          };
        })();
  return {
    sha: commit.sha,
    node_id: nodeId('Commit', `${repo.id}:${commit.sha}`),
    commit: {
      author: commit.author,
      committer: commit.committer,
      message: commit.message,
      tree: { sha: commit.tree, url: `${api}/git/trees/${commit.tree}` },
      url: `${api}/git/commits/${commit.sha}`,
      comment_count: 0,
      verification: verificationPayload(commit, verified),
    },
    url: `${api}/commits/${commit.sha}`,
    html_url: `${web}/commit/${commit.sha}`,
    comments_url: `${api}/commits/${commit.sha}/comments`,
    // GitHub fills these with the account whose email matches; test identities match none.
    author: null,
    committer: null,
    parents: commit.parents.map((sha) => ({ sha, url: `${api}/commits/${sha}`, html_url: `${web}/commit/${sha}` })),
    ...withFiles,
  };
}

/** GET /rate_limit. */
export function rateLimitPayload(core: RateLimitState): Record<string, unknown> {
  const other = (limit: number): RateLimitState => ({ limit, used: 0, remaining: limit, reset: core.reset });
  return {
    resources: {
      core,
      search: other(30),
      graphql: other(core.limit),
      integration_manifest: other(5000),
      source_import: other(100),
      code_scanning_upload: other(core.limit),
      actions_runner_registration: other(10000),
      scim: other(15000),
      dependency_snapshots: other(100),
      code_search: other(10),
    },
    rate: core,
  };
}
