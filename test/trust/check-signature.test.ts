/**
 * `checkSignature`, the sync's signature step, with a stand-in source: which commits it judges, and
 * that a good signature is not enough — the plan's entries must be the tree the signed object names.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import type { Manifest } from '../../src/model.js';
import { checkSignature, throwIfRefused, type SignatureCheck } from '../../src/pipeline/signatures.js';
import { SignatureRefusedError } from '../../src/trust/errors.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { allowedSignersFile, catCommit, sshKey, sshSignedCommit, tempDir } from './helpers.js';

let dir: string;
let repo: TestRepo;
let commit = '';
let tree = '';
let object: Buffer;
let trust: Config['trust'];

beforeAll(async () => {
  dir = await tempDir();
  repo = await createRepo();
  const key = await sshKey(dir, 'ops', 'ed25519');
  await repo.write('a', '1\n');
  await repo.git('add', '-A');
  commit = await sshSignedCommit(repo, key);
  tree = await repo.git('rev-parse', `${commit}^{tree}`);
  object = await catCommit(repo, commit);
  trust = { allowedSignersFile: await allowedSignersFile(dir, 'signers', [`ops namespaces="git" ${key.publicKey}`]), openpgpKeysFile: undefined };
});
afterAll(async () => {
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const manifest = (over: Partial<Manifest> = {}): Manifest => ({ version: 1, repo: 'acme/x', ref: 'main', path: '', commit, appliedAt: '2024-01-01T00:00:00Z', strategy: 'blobs', entries: [], tree, ...over });

type Overrides = Partial<Omit<SignatureCheck, 'config'>> & { readonly config?: Partial<SignatureCheck['config']> };

function check(over: Overrides = {}): { run: Promise<Awaited<ReturnType<typeof checkSignature>>>; asked: string[]; logs: string[] } {
  const asked: string[] = [];
  const logs: string[] = [];
  const run = checkSignature({
    source: {
      commitObject: async (sha) => {
        asked.push(sha);
        return object;
      },
    },
    commit,
    previous: undefined,
    root: tree,
    log: (_level, message) => logs.push(message),
    now: () => Date.parse('2025-01-01T00:00:00Z'),
    ...over,
    config: { trust, requireSigned: false, checkOnly: false, repo: 'acme/x', path: '', ...over.config },
  });
  return { run, asked, logs };
}

describe('checkSignature', () => {
  it('verifies a signed commit whose entries are its tree', async () => {
    const { run, asked } = check();
    expect(await run).toMatchObject({ status: 'verified', format: 'ssh', signer: 'ops' });
    expect(asked).toEqual([commit]);
  });

  it('refuses a good signature when the entries came from another tree', async () => {
    const verdict = await check({ root: '0'.repeat(40) }).run;
    expect(verdict).toMatchObject({ status: 'refused', reason: 'sha-mismatch' });
    expect(verdict?.message).toMatch(/its signature covers tree [0-9a-f]{12} and the entries read for it are tree 000000000000/);
  });

  it('refuses when the entries could not be tied to any tree', async () => {
    expect(await check({ root: undefined }).run).toMatchObject({ status: 'refused', reason: 'sha-mismatch' });
  });

  it("does not judge again the commit DEST holds, from DEST's own record", async () => {
    const { run, asked } = check({ previous: manifest() });
    expect(await run).toMatchObject({ status: 'not-checked' });
    expect(asked).toEqual([]);
  });

  it('judges it for --check-only, against the tree the manifest recorded', async () => {
    expect(await check({ previous: manifest(), root: undefined, config: { checkOnly: true } }).run).toMatchObject({ status: 'verified' });
    expect(await check({ previous: manifest({ tree: '1'.repeat(40) }), root: undefined, config: { checkOnly: true } }).run).toMatchObject({ status: 'refused', reason: 'sha-mismatch' });
  });

  it('judges the same commit again when the entries are read anew (another --path)', async () => {
    const { run, asked } = check({ previous: manifest({ path: 'other' }) });
    expect(await run).toMatchObject({ status: 'verified' });
    expect(asked).toEqual([commit]);
  });

  it('reports a source that has no signed object as unsigned', async () => {
    const verdict = await check({ source: { commitObject: async () => undefined } }).run;
    expect(verdict).toMatchObject({ status: 'refused', reason: 'unsigned' });
  });

  it('without pinned keys does nothing, and --require-signed says it trusts GitHub', async () => {
    const none = { allowedSignersFile: undefined, openpgpKeysFile: undefined };
    const plain = check({ config: { trust: none } });
    expect(await plain.run).toBeUndefined();
    expect(plain.asked).toEqual([]);
    const required = check({ config: { trust: none, requireSigned: true } });
    expect(await required.run).toBeUndefined();
    expect(required.logs.join('\n')).toMatch(/trusting GitHub's verification/);
  });

  it('throwIfRefused throws the refusal with its reason, exit 1', async () => {
    const verdict = await check({ root: undefined }).run;
    expect(() => throwIfRefused(verdict, commit)).toThrow(SignatureRefusedError);
    try {
      throwIfRefused(verdict, commit);
    } catch (error) {
      expect(error).toMatchObject({ exitCode: 1, reason: 'sha-mismatch', commit });
    }
    const verified = await check().run;
    expect(() => throwIfRefused(verified, commit)).not.toThrow();
  });
});
