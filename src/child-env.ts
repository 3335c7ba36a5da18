/**
 * The environment of every command hostsync runs — rebuild, hooks, `command` checks of validate —
 * starts here: hostsync's own, less tokens and hostsync's own settings. One rule for all of them,
 * so no path to a child process carries the token. Pure; no imports.
 */

/** Variables that carry a token: no command hostsync runs has any business with them. */
const SECRET_VARIABLES = new Set(['GITHUB_TOKEN', 'GH_TOKEN', 'GITEA_TOKEN', 'GITLAB_TOKEN']);

/**
 * The environment every command hostsync runs (rebuild, hooks, `command` checks) starts from:
 * hostsync's own, less tokens and hostsync's own settings. Pure.
 */
export function childEnv(base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined || key.startsWith('HOSTSYNC_') || SECRET_VARIABLES.has(key)) continue;
    env[key] = value;
  }
  return env;
}
