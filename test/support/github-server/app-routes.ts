/**
 * GitHub Apps on the fake GitHub: registered apps (id + public key) and their installations, JWT
 * checks as GitHub makes them, installation access tokens minted and then accepted as credentials
 * for the installation's repositories (REST and git smart HTTP, `x-access-token:<token>`).
 *
 * Endpoints (JWT in `Authorization: Bearer`):
 * - `GET /repos/{owner}/{repo}/installation` — https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app
 * - `GET /app/installations/{installation_id}` — https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app
 * - `POST /app/installations/{installation_id}/access_tokens` — https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app
 * JWT rules: https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
 * (RS256, `iss` the app id, `iat` at most 60 s ahead, `exp` at most 10 minutes after `iat`).
 *
 * Known differences from GitHub: app requests cost no rate-limit points; `repository_ids` in a token
 * request is refused (422), `repositories` (names) is honoured; the token response has no
 * `repositories` list; installations hold explicit repository lists (no "all repositories");
 * a renamed repository is not followed.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Origins } from './payloads.js';
import { nodeId, userPayload } from './payloads.js';
import { DOCS, errorReply, jsonReply, notFound } from './reply.js';
import type { Reply } from './types.js';

/** Messages GitHub sends for rejected JWTs (auth-app matches the clock ones to detect skew). */
export const JWT_MESSAGES = {
  undecodable: 'A JSON web token could not be decoded',
  iat: "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
  expTooFar: "'Expiration time' claim ('exp') is too far in the future",
  expired: "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
  unknownApp: 'Integration not found',
} as const;

const APP_DOCS = {
  repoInstallation: 'https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app',
  installation: 'https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app',
  accessToken: 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app',
} as const;

/** GitHub accepts an `iat` this far ahead of its clock (seconds). */
const IAT_LEEWAY_SEC = 60;
/** Longest JWT lifetime GitHub accepts (seconds). */
const MAX_JWT_LIFETIME_SEC = 600;

export type Permission = 'read' | 'write' | 'admin';

/** An installation of an app, as a test declares it. */
export interface InstallationSpec {
  readonly id: number;
  /** Repositories (`OWNER/NAME`) the installation may access; the account is their owner. */
  readonly repos: readonly string[];
  /** @default { contents: 'read', metadata: 'read' } */
  readonly permissions?: Readonly<Record<string, Permission>>;
  /** A suspended installation mints nothing (403). @default false */
  readonly suspended?: boolean;
}

/** One minted installation token, as the server remembers it. */
export interface MintedToken {
  readonly token: string;
  readonly appId: number;
  readonly installationId: number;
  /** Lower-cased `owner/name` of the repositories the token reaches. */
  readonly repos: readonly string[];
  readonly permissions: Readonly<Record<string, Permission>>;
  /** Milliseconds, on the server's clock. */
  readonly expiresAt: number;
  /** When it was minted, milliseconds on the server's clock. */
  readonly mintedAt: number;
}

interface App {
  readonly id: number;
  readonly slug: string;
  readonly publicKey: KeyObject;
  readonly installations: Map<number, InstallationSpec & { readonly account: string }>;
}

/** The apps of the fake, their installations and the tokens minted so far. */
export class AppRegistry {
  /** Lifetime of minted installation tokens. @default 3600 (GitHub's hour) */
  tokenLifetimeSec = 3600;
  /** Added to the real clock for every time the app routes read (JWT checks, `expires_at`, expiry). */
  clockOffsetMs = 0;
  /**
   * A new token is refused (401) for this long after it was minted, as GitHub may refuse a token it
   * has not replicated yet (auth-app retries such 401s for 5 s). @default 0
   */
  replicationDelayMs = 0;
  /** Every token minted, in order: tests count them to assert reuse. */
  readonly minted: MintedToken[] = [];
  private readonly apps = new Map<number, App>();
  private readonly tokens = new Map<string, MintedToken>();

  /** The server's clock in milliseconds. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Register an app with the public half of its key and its installations. */
  addApp(appId: number, publicKey: string | KeyObject, installations: readonly InstallationSpec[] = [], slug = `app-${appId}`): void {
    if (this.apps.has(appId)) throw new Error(`App ${appId} is already registered.`);
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
    const map = new Map<number, InstallationSpec & { account: string }>();
    for (const installation of installations) {
      const owners = new Set(installation.repos.map((repo) => repo.split('/')[0]?.toLowerCase() ?? ''));
      if (owners.size !== 1) throw new Error(`Installation ${installation.id} must list repositories of exactly one account.`);
      const account = installation.repos[0]?.split('/')[0] ?? '';
      map.set(installation.id, { ...installation, account });
    }
    this.apps.set(appId, { id: appId, slug, publicKey: key, installations: map });
  }

  /** Mark an installation suspended (or not), as its account's owner can. */
  suspend(appId: number, installationId: number, suspended = true): void {
    const app = this.apps.get(appId);
    const installation = app?.installations.get(installationId);
    if (app === undefined || installation === undefined) throw new Error(`No installation ${installationId} of app ${appId}.`);
    app.installations.set(installationId, { ...installation, suspended });
  }

  /** True for an installation token that has not expired, nor been revoked, and is replicated. */
  isLiveToken(credential: string | undefined): boolean {
    if (credential === undefined) return false;
    const minted = this.tokens.get(credential);
    const now = this.now();
    return minted !== undefined && minted.expiresAt > now && now >= minted.mintedAt + this.replicationDelayMs;
  }

  /** Revoke an installation token (as `DELETE /installation/token` does): from now on it is answered 401. */
  revoke(token: string): void {
    if (!this.tokens.delete(token)) throw new Error('No such installation token.');
  }

  /**
   * Whether `credential` may read the private repository `owner/name`: any credential that is not an
   * installation token (a personal token, checked elsewhere) may; an installation token only for
   * the repositories it was minted for.
   */
  allows(credential: string | undefined, owner: string, name: string): boolean {
    if (credential === undefined) return false;
    const minted = this.tokens.get(credential);
    if (minted === undefined) return true;
    return minted.expiresAt > this.now() && minted.repos.includes(`${owner}/${name}`.toLowerCase());
  }

  /**
   * The answer to an app request, or undefined when the path is not one of the app routes (the
   * caller routes it on). Costs no rate-limit points.
   */
  async route(req: IncomingMessage, url: URL, credential: string | undefined, origins: Origins): Promise<Reply | undefined> {
    const segments = url.pathname.split('/').slice(1);
    const method = req.method ?? 'GET';
    const [root, a, b, c, d] = segments;
    const repoInstallation = root === 'repos' && a !== undefined && b !== undefined && c === 'installation' && d === undefined;
    const installation = root === 'app' && a === 'installations' && b !== undefined && /^\d+$/.test(b) && d === undefined;
    if (!repoInstallation && !installation) return undefined;
    const dated = (reply: Reply): Reply => ({ ...reply, headers: { ...reply.headers, date: new Date(this.now()).toUTCString() } });

    if (repoInstallation && method === 'GET') {
      const checked = this.checkJwt(credential);
      if ('reply' in checked) return dated(checked.reply);
      return dated(this.repoInstallation(checked.app, decodeURIComponent(a), decodeURIComponent(b), origins));
    }
    if (installation && c === undefined && method === 'GET') {
      const checked = this.checkJwt(credential);
      if ('reply' in checked) return dated(checked.reply);
      const found = checked.app.installations.get(Number(b));
      return dated(found === undefined ? notFound(APP_DOCS.installation) : jsonReply(200, installationPayload(checked.app, found, origins)));
    }
    if (installation && c === 'access_tokens' && method === 'POST') {
      const body = await readJsonBody(req);
      const checked = this.checkJwt(credential);
      if ('reply' in checked) return dated(checked.reply);
      if (body === undefined) return dated(errorReply(400, 'Problems parsing JSON', APP_DOCS.accessToken));
      return dated(this.mint(checked.app, Number(b), body));
    }
    return dated(notFound());
  }

  /** GitHub's JWT checks, in its order: decodable, a known app, its signature, then the times. */
  private checkJwt(credential: string | undefined): { app: App } | { reply: Reply } {
    const reject = (message: string, status = 401): { reply: Reply } => ({ reply: errorReply(status, message, DOCS.rest) });
    if (credential === undefined) return reject('Requires authentication', 401);
    const parts = credential.split('.');
    const [head, body, signature] = parts;
    if (parts.length !== 3 || head === undefined || body === undefined || signature === undefined) return reject(JWT_MESSAGES.undecodable);
    const header = parseSegment(head);
    const claims = parseSegment(body);
    if (header === undefined || claims === undefined || header['alg'] !== 'RS256') return reject(JWT_MESSAGES.undecodable);
    const iss = claims['iss'];
    const appId = typeof iss === 'number' ? iss : typeof iss === 'string' && /^\d+$/.test(iss) ? Number(iss) : undefined;
    const app = appId === undefined ? undefined : this.apps.get(appId);
    if (app === undefined) return reject(JWT_MESSAGES.unknownApp, 404);
    if (!verify('sha256', Buffer.from(`${head}.${body}`), app.publicKey, Buffer.from(signature, 'base64url'))) return reject(JWT_MESSAGES.undecodable);
    const nowSec = Math.floor(this.now() / 1000);
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > nowSec + IAT_LEEWAY_SEC) return reject(JWT_MESSAGES.iat);
    if (typeof exp !== 'number' || exp - iat > MAX_JWT_LIFETIME_SEC || exp > nowSec + IAT_LEEWAY_SEC + MAX_JWT_LIFETIME_SEC) {
      return reject(typeof exp === 'number' ? JWT_MESSAGES.expTooFar : JWT_MESSAGES.expired);
    }
    if (exp <= nowSec) return reject(JWT_MESSAGES.expired);
    return { app };
  }

  private repoInstallation(app: App, owner: string, name: string, origins: Origins): Reply {
    const wanted = `${owner}/${name}`.toLowerCase();
    for (const installation of app.installations.values()) {
      if (installation.repos.some((repo) => repo.toLowerCase() === wanted)) return jsonReply(200, installationPayload(app, installation, origins));
    }
    return notFound(APP_DOCS.repoInstallation);
  }

  private mint(app: App, installationId: number, body: Record<string, unknown>): Reply {
    const installation = app.installations.get(installationId);
    if (installation === undefined) return notFound(APP_DOCS.accessToken);
    if (installation.suspended === true) return errorReply(403, 'This installation has been suspended', APP_DOCS.accessToken);
    if (body['repository_ids'] !== undefined) return errorReply(422, 'repository_ids is not supported by the fake GitHub; send repositories (names).', APP_DOCS.accessToken);
    const granted = installation.permissions ?? DEFAULT_PERMISSIONS;
    let repos = installation.repos.map((repo) => repo.toLowerCase());
    const names = body['repositories'];
    if (names !== undefined) {
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) return invalid('repositories');
      const asked = names.map((n: string) => `${installation.account}/${n}`.toLowerCase());
      if (asked.some((repo) => !repos.includes(repo))) {
        return errorReply(422, 'There is at least one repository that does not exist or is not accessible to the parent installation.', APP_DOCS.accessToken);
      }
      repos = asked;
    }
    let permissions: Record<string, Permission> = { ...granted };
    const askedPermissions = body['permissions'];
    if (askedPermissions !== undefined) {
      if (typeof askedPermissions !== 'object' || askedPermissions === null || Array.isArray(askedPermissions)) return invalid('permissions');
      permissions = {};
      for (const [scope, level] of Object.entries(askedPermissions)) {
        const has = granted[scope];
        if (typeof level !== 'string' || has === undefined || RANK[level as Permission] === undefined || RANK[level as Permission] > RANK[has]) {
          return errorReply(422, 'The permissions requested are not granted to this installation.', APP_DOCS.accessToken);
        }
        permissions[scope] = level as Permission;
      }
      // Metadata (read) comes with every installation token.
      permissions['metadata'] ??= 'read';
    }
    const expiresAt = Math.floor(this.now() / 1000) * 1000 + this.tokenLifetimeSec * 1000;
    const minted: MintedToken = { token: `ghs_${base62(36)}`, appId: app.id, installationId, repos, permissions, expiresAt, mintedAt: this.now() };
    this.tokens.set(minted.token, minted);
    this.minted.push(minted);
    return jsonReply(201, {
      token: minted.token,
      expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      permissions,
      repository_selection: 'selected',
    });
  }
}

const DEFAULT_PERMISSIONS: Readonly<Record<string, Permission>> = { contents: 'read', metadata: 'read' };
const RANK: Readonly<Record<Permission, number>> = { read: 1, write: 2, admin: 3 };

function invalid(field: string): Reply {
  return errorReply(422, 'Invalid request.', APP_DOCS.accessToken, { errors: [{ resource: 'Installation', field, code: 'invalid' }] });
}

/** An installation in GitHub's shape (schema `installation`). */
function installationPayload(app: App, installation: InstallationSpec & { readonly account: string }, origins: Origins): Record<string, unknown> {
  const account = userPayload(installation.account, origins);
  return {
    id: installation.id,
    client_id: `Iv1.${app.id.toString(16).padStart(16, '0')}`,
    account,
    repository_selection: 'selected',
    access_tokens_url: `${origins.api}/app/installations/${installation.id}/access_tokens`,
    repositories_url: `${origins.api}/installation/repositories`,
    html_url: `${origins.web}/settings/installations/${installation.id}`,
    app_id: app.id,
    app_slug: app.slug,
    target_id: account['id'],
    target_type: 'User',
    permissions: installation.permissions ?? DEFAULT_PERMISSIONS,
    events: [],
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: installation.suspended === true ? '2024-01-02T00:00:00Z' : null,
    node_id: nodeId('Installation', installation.id),
  };
}

function parseSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The request's JSON object body ({} when empty); undefined when it is not a JSON object. */
async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > 1024 * 1024) return undefined;
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function base62(length: number): string {
  return [...randomBytes(length)].map((byte) => ALPHABET[byte % ALPHABET.length]).join('');
}
