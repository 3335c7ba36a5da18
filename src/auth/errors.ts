/**
 * GitHub App authentication failures, one reason each with its own fix: what GitHub answered to the
 * installation lookup and to the token request, turned into one line. Messages name the App, the
 * installation and the repository, never the key, the JWT or a token.
 * Statuses: https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app,
 * JWT rules: https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
 */
import { ExitCode, HostsyncError } from '../errors.js';
import { isRetryable, networkError } from '../github/errors.js';

/** Why GitHub App authentication failed. */
export type AppAuthFailure = 'key' | 'app' | 'installation' | 'permission' | 'suspended' | 'clock' | 'github' | 'network';

/** A GitHub App authentication failure; a bad key is a configuration error (exit 2). */
export class AppAuthError extends HostsyncError {
  readonly reason: AppAuthFailure;
  /** Worth another attempt (a 5xx). */
  readonly retryable: boolean;
  /** The HTTP status GitHub answered, if it answered. */
  readonly status: number | undefined;
  constructor(reason: AppAuthFailure, message: string, options: { readonly status?: number; readonly retryable?: boolean } = {}) {
    super(message, reason === 'key' ? ExitCode.Usage : ExitCode.Failure);
    this.name = 'AppAuthError';
    this.reason = reason;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
  }
}

/** Which request failed, for the message. */
export interface AppRequestContext {
  readonly appId: string;
  /** OWNER/NAME */
  readonly repo: string;
  readonly apiUrl: string;
  /** `lookup`: GET /repos/{owner}/{repo}/installation; `mint`: POST /app/installations/{id}/access_tokens. */
  readonly step: 'lookup' | 'mint';
  readonly installationId?: number | undefined;
  /** Where the key came from (a path), named instead of the key. */
  readonly keySource: string;
  /** This host's clock, ms. */
  readonly now: number;
}

/** The shape of an Octokit `RequestError` (not imported: auth-app brings its own copy). */
interface RequestErrorLike {
  readonly status: number;
  readonly message: string;
  readonly cause?: unknown;
  readonly response?: { readonly headers: Readonly<Record<string, string | undefined>>; readonly data: unknown } | undefined;
}

function isRequestError(error: unknown): error is RequestErrorLike {
  return error instanceof Error && error.name === 'HttpError' && typeof (error as { status?: unknown }).status === 'number';
}

/** GitHub's JWT time complaints (the same ones auth-app recognises as clock skew). */
const CLOCK_MESSAGES = [/'Issued at' claim \('iat'\)/, /'Expiration time' claim \('exp'\)/];

/** "5 min ahead of GitHub's", from GitHub's `date` header; undefined without one. */
function skewPhrase(date: string | undefined, now: number): string | undefined {
  const server = date === undefined ? Number.NaN : Date.parse(date);
  if (!Number.isFinite(server)) return undefined;
  const seconds = Math.round((now - server) / 1000);
  const size = Math.abs(seconds) >= 120 ? `${Math.round(Math.abs(seconds) / 60)} min` : `${Math.abs(seconds)} s`;
  return seconds === 0 ? "about the same as GitHub's (the JWT may have waited too long)" : `${size} ${seconds > 0 ? 'ahead of' : 'behind'} GitHub's`;
}

/**
 * Classify a failure of an App request. A connection that never got an answer comes back as the
 * underlying error when it is worth a retry, else as a network {@link HostsyncError}.
 */
export function classifyAppError(error: unknown, ctx: AppRequestContext): unknown {
  if (!isRequestError(error)) return error;
  if (error.response === undefined) {
    // Octokit reports a fetch that got no answer (DNS, TLS, refused, timeout) as a 500 without a response.
    const cause = error.cause ?? error;
    return isRetryable(cause) ? cause : networkError(cause, ctx.apiUrl);
  }
  const status = error.status;
  const data = error.response.data;
  const said = typeof data === 'object' && data !== null && 'message' in data ? String((data as { message: unknown }).message) : '';
  const answer = `${status}${said === '' ? '' : ` ${said}`}`;
  const app = `GitHub App ${ctx.appId}`;
  const installation = ctx.installationId === undefined ? 'its installation' : `installation ${ctx.installationId}`;
  const request = ctx.step === 'lookup' ? `GET /repos/${ctx.repo}/installation` : `POST /app/installations/${ctx.installationId ?? '?'}/access_tokens`;

  if (status === 401 && CLOCK_MESSAGES.some((pattern) => pattern.test(said))) {
    const skew = skewPhrase(error.response.headers['date'], ctx.now);
    return new AppAuthError(
      'clock',
      `GitHub rejected the JWT of ${app} because of the time in it (${answer}): this host's clock is ${skew ?? "not GitHub's"}. Check the host's clock (timedatectl status; turn on NTP with timedatectl set-ntp true).`,
      { status },
    );
  }
  if (status === 401) {
    return new AppAuthError(
      'key',
      `GitHub rejected the JWT of ${app} (${answer}): the private key in ${ctx.keySource} does not belong to App ${ctx.appId}. Check appId (the numeric App ID on the App's settings page, not the client ID) and the key file; generate a new private key there if it was lost.`,
      { status },
    );
  }
  if (status === 404 && /integration not found/i.test(said)) {
    return new AppAuthError(
      'app',
      `${app} does not exist at ${ctx.apiUrl} (${answer}). Check appId: the numeric App ID on the App's settings page, not the client ID or an installation ID (and --api-url for GitHub Enterprise Server).`,
      { status },
    );
  }
  if (status === 404 && ctx.step === 'lookup') {
    return new AppAuthError(
      'installation',
      `${app} is not installed on ${ctx.repo} (404 from ${request}). Install the App on ${ctx.repo} (the App's public page → Install, or Configure → Repository access), or check --repo.`,
      { status },
    );
  }
  if (status === 404) {
    return new AppAuthError(
      'installation',
      `${app} has no ${installation} (404 from ${request}): the App was uninstalled, or the id belongs to another App. Install the App on ${ctx.repo}, and fix appInstallationId or remove it so hostsync looks the installation up.`,
      { status },
    );
  }
  if (status === 403 && /suspended/i.test(said)) {
    return new AppAuthError(
      'suspended',
      `${installation} of ${app} is suspended (${answer}). Unsuspend it in the account's settings (Settings → GitHub Apps → Configure → Unsuspend).`,
      { status },
    );
  }
  if (status === 422 && /permission/i.test(said)) {
    return new AppAuthError(
      'permission',
      `${app} is not granted read access to repository contents on ${installation} (${answer}). Give the App the repository permission "Contents: Read" in its settings, then approve the change on the installation.`,
      { status },
    );
  }
  if (status === 422) {
    return new AppAuthError(
      'installation',
      `${installation} of ${app} cannot reach ${ctx.repo} (${answer}). Add ${ctx.repo} to the installation's repository access (Configure → Repository access), or fix appInstallationId and --repo.`,
      { status },
    );
  }
  const retryable = status >= 500 || status === 408 || status === 429;
  return new AppAuthError(
    'github',
    `GitHub answered ${answer} to ${request} for ${app} on ${ctx.repo}${retryable ? ' (a server-side failure; retried)' : ''}.`,
    { status, retryable },
  );
}
