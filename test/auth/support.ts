/**
 * Shared by the GitHub App tests: RSA keys as GitHub hands them out (PKCS#1 PEM), a hand-made JWT
 * signer (independent of auth-app, to test the fake's checks), and a fake GitHub serving two private
 * repositories with one App installed on one of them.
 */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { startGitHubServer, type FakeGitHub } from '../support/github-server.js';
import { createRepo, type TestRepo } from '../support/repo.js';

export interface KeyPair {
  /** PKCS#1 (`RSA PRIVATE KEY`), as GitHub's "Generate a private key" downloads it. */
  readonly privatePem: string;
  readonly publicPem: string;
}

export function rsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Sign `claims` as a JWT with RS256 (or the given header), without any library. */
export function signJwt(claims: Record<string, unknown>, privatePem: string, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' }): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const data = `${encode(header)}.${encode(claims)}`;
  const signature = createSign('RSA-SHA256').update(data).sign(privatePem).toString('base64url');
  return `${data}.${signature}`;
}

/** Claims GitHub accepts now: issued 30 s ago, valid 10 minutes from then. */
export function goodClaims(iss: number | string, nowMs = Date.now()): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000) - 30;
  return { iat, exp: iat + 600, iss };
}

export const APP_ID = 12345;
export const INSTALLATION_ID = 678;

/** A fake GitHub with private `acme/hypervisor` (App installed) and `acme/other` (not installed). */
export interface AppWorld {
  readonly gh: FakeGitHub;
  readonly key: KeyPair;
  /** A key of no App. */
  readonly otherKey: KeyPair;
  readonly repo: TestRepo;
  readonly head: string;
  close(): Promise<void>;
}

export async function startAppWorld(): Promise<AppWorld> {
  const key = rsaKeyPair();
  const otherKey = rsaKeyPair();
  const repo = await createRepo({ prefix: 'hostsync-app-' });
  await repo.write('README.md', '# hypervisor\n');
  const head = await repo.commit('first');
  const gh = await startGitHubServer();
  await gh.addRepo('acme/hypervisor', repo.dir, { private: true });
  await gh.addRepo('acme/other', repo.dir, { private: true });
  gh.addApp(APP_ID, key.publicPem, [{ id: INSTALLATION_ID, repos: ['acme/hypervisor'] }]);
  return {
    gh,
    key,
    otherKey,
    repo,
    head,
    async close() {
      await gh.close();
      await repo.cleanup();
    },
  };
}
