/**
 * Signatures verified on the host, end to end: commits signed by real `git` with keys made by
 * `ssh-keygen` (ed25519, RSA, ECDSA) and `gpg`, served by the GitHub-compatible test server, synced
 * by the CLI with `--allowed-signers` and `--openpgp-keys`. The same table runs over git's wire
 * protocol (the default), the REST API, and the git CLI (a spent API quota): every source must reach
 * the same verdict, and every refusal leaves DEST byte-identical to the commit it held before.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJson, type CliResult } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import { parseExposition } from '../support/prometheus.js';
import { allowedSignersFile, catCommit, commitWith, gpgHome, gpgSignedCommit, sshKey, sshSignedCommit, writeCommit, type GpgHome, type SshKeyPair } from './helpers.js';

type Transport = 'wire' | 'rest' | 'git-cli';
const TRANSPORTS: readonly Transport[] = ['wire', 'rest', 'git-cli'];

let fx: Fixture;
let home: GpgHome;
let stranger: GpgHome;
let signersFile: string;
let pgpFile: string;
let base: string;
const ssh: Record<'alice' | 'rsa' | 'ecdsa' | 'mallory' | 'retired' | 'early', SshKeyPair> = {} as never;
/** Scenario branch → its commit. */
const commits = new Map<string, string>();

/** Each scenario: a branch whose tip the host must apply, or refuse for `reason`. */
const SCENARIOS: readonly { readonly name: string; readonly expect: 'applied' | { readonly reason: string } }[] = [
  { name: 'ssh-ed25519', expect: 'applied' },
  { name: 'ssh-rsa', expect: 'applied' },
  { name: 'ssh-ecdsa', expect: 'applied' },
  { name: 'openpgp', expect: 'applied' },
  { name: 'ssh-other-key', expect: { reason: 'unknown-key' } },
  { name: 'openpgp-other-key', expect: { reason: 'unknown-key' } },
  { name: 'unsigned', expect: { reason: 'unsigned' } },
  { name: 'tampered', expect: { reason: 'bad-signature' } },
  { name: 'ssh-valid-before', expect: { reason: 'expired' } },
  { name: 'ssh-valid-after', expect: { reason: 'not-yet-valid' } },
  { name: 'openpgp-expired', expect: { reason: 'expired' } },
  { name: 'openpgp-revoked', expect: { reason: 'revoked' } },
];

/** Stage a change on a branch cut from the base commit: every scenario brings different content. */
async function onBranch(name: string, sign: () => Promise<string>): Promise<string> {
  await fx.repo.git('checkout', '-q', '-B', name, base);
  await fx.repo.write('scenario.txt', `${name}\n`);
  await fx.repo.write(`only-in/${name}.conf`, `x = ${name}\n`);
  await fx.repo.git('add', '-A');
  const commit = await sign();
  commits.set(name, commit);
  return commit;
}

beforeAll(async () => {
  fx = await createFixture();
  const dir = fx.tmp;
  ssh.alice = await sshKey(dir, 'alice', 'ed25519');
  ssh.rsa = await sshKey(dir, 'rsa', 'rsa');
  ssh.ecdsa = await sshKey(dir, 'ecdsa', 'ecdsa-256');
  ssh.mallory = await sshKey(dir, 'mallory', 'ed25519');
  ssh.retired = await sshKey(dir, 'retired', 'ed25519');
  ssh.early = await sshKey(dir, 'early', 'ed25519');
  // Commits are dated 2024-06-01 (helpers.ts): the retired line ended before, the early one starts after.
  signersFile = await allowedSignersFile(dir, 'allowed_signers', [
    `alice@example.invalid namespaces="git" ${ssh.alice.publicKey}`,
    `rsa@example.invalid namespaces="git" ${ssh.rsa.publicKey}`,
    `ecdsa@example.invalid namespaces="git" ${ssh.ecdsa.publicKey}`,
    `retired@example.invalid namespaces="git",valid-before="20240101" ${ssh.retired.publicKey}`,
    `early@example.invalid namespaces="git",valid-after="20300101" ${ssh.early.publicKey}`,
  ]);

  home = await gpgHome(dir);
  stranger = await gpgHome(dir);
  const alice = await home.generateKey('Alice PGP <alice.pgp@example.invalid>', 'never');
  const mallory = await stranger.generateKey('Mallory <mallory@example.invalid>', 'never');
  // Made on 2020-01-01, signs on 2020-06-01, and a self-signature dated 2020-02-01 then ends it on
  // 2020-03-01: the signature came after the expiry (gpg will not sign with an expired key, hence this order).
  const expired = await home.generateKey('Expired <expired@example.invalid>', 'never', '20200101T000000');
  const revoked = await home.generateKey('Revoked <revoked@example.invalid>', 'never');

  await fx.repo.write('README', 'hosts\n');
  await fx.repo.write('scenario.txt', 'base\n');
  await fx.repo.git('add', '-A');
  base = await sshSignedCommit(fx.repo, ssh.alice, { message: 'base' });
  await fx.repo.git('branch', '-f', 'base', base);

  await onBranch('ssh-ed25519', () => sshSignedCommit(fx.repo, ssh.alice));
  await onBranch('ssh-rsa', () => sshSignedCommit(fx.repo, ssh.rsa));
  await onBranch('ssh-ecdsa', () => sshSignedCommit(fx.repo, ssh.ecdsa));
  await onBranch('openpgp', () => gpgSignedCommit(fx.repo, home, alice));
  await onBranch('ssh-other-key', () => sshSignedCommit(fx.repo, ssh.mallory));
  await onBranch('openpgp-other-key', () => gpgSignedCommit(fx.repo, stranger, mallory));
  const unsigned = await onBranch('unsigned', () => commitWith(fx.repo, []));
  await onBranch('ssh-valid-before', () => sshSignedCommit(fx.repo, ssh.retired));
  await onBranch('ssh-valid-after', () => sshSignedCommit(fx.repo, ssh.early));
  const june2020 = await home.programAt('20200601T000000');
  await onBranch('openpgp-expired', () => gpgSignedCommit(fx.repo, home, expired, { program: june2020, date: '2020-06-01T00:00:00Z' }));
  await home.gpg('--faked-system-time', '20200201T000000', '--quick-set-expire', expired, '2020-03-01');
  await onBranch('openpgp-revoked', () => gpgSignedCommit(fx.repo, home, revoked));
  const certificate = await readFile(join(home.dir, 'openpgp-revocs.d', `${revoked}.rev`), 'utf8');
  await writeFile(join(dir, 'revoked.rev'), certificate.replace(':-----BEGIN', '-----BEGIN'));
  await home.gpg('--import', join(dir, 'revoked.rev'));

  // Tampered: alice's genuine signature, moved onto a commit object that names another tree (the
  // unsigned scenario's content). The repository really holds this object: every source serves it.
  const genuine = await onBranch('tampered-source', () => sshSignedCommit(fx.repo, ssh.alice));
  const unsignedTree = await fx.repo.git('rev-parse', `${unsigned}^{tree}`);
  const object = (await catCommit(fx.repo, genuine)).toString('latin1').replace(/^tree [0-9a-f]{40}$/m, `tree ${unsignedTree}`);
  const tampered = await writeCommit(fx.repo, Buffer.from(object, 'latin1'));
  await fx.repo.git('update-ref', 'refs/heads/tampered', tampered);
  commits.set('tampered', tampered);
  await fx.repo.git('checkout', '-q', 'main');

  pgpFile = join(dir, 'openpgp-keys.asc');
  await writeFile(pgpFile, (await Promise.all([alice, expired, revoked].map((fingerprint) => home.exportKey(fingerprint)))).join('\n'));
}, 120_000);

afterAll(async () => {
  await Promise.all([home?.close(), stranger?.close()]);
  await fx?.close();
});

let runs = 0;

/** A fresh DEST and state dir holding the signed base commit, synced over `transport`. */
async function hostAtBase(transport: Transport): Promise<{ dest: string; stateDir: string; metrics: string; sync: (ref: string, ...extra: string[]) => Promise<CliResult> }> {
  runs += 1;
  const dest = join(fx.tmp, `dest-${runs}`);
  const stateDir = join(fx.tmp, `state-${runs}`);
  const metrics = join(fx.tmp, `metrics-${runs}.prom`);
  const sync = (ref: string, ...extra: string[]): Promise<CliResult> =>
    fx.run(['sync', '--repo', 'acme/hypervisor', '--dest', dest, '--state-dir', stateDir, '--ref', ref, '--allowed-signers', signersFile, '--openpgp-keys', pgpFile, '--metrics-file', metrics, ...extra], {
      bare: true,
      env: { HOSTSYNC_TRANSPORT: transport === 'wire' ? 'auto' : 'rest' },
    });
  const first = await sync('base');
  expect(first.code, first.stderr).toBe(0);
  await fx.expectSameAsCommit(base, undefined, dest);
  return { dest, stateDir, metrics, sync };
}

/** The refusal reasons counted in a metrics file (reason → count, non-zero only). */
async function refusals(file: string): Promise<Record<string, number>> {
  const samples = parseExposition(await readFile(file, 'utf8')).samples.filter((s) => s.name === 'hostsync_signature_refusals_total' && s.value > 0);
  return Object.fromEntries(samples.map((s) => [s.labels['reason'] ?? '', s.value]));
}

/** What each transport concluded, by scenario: compared across transports at the end. */
const verdicts = new Map<Transport, Map<string, string>>(TRANSPORTS.map((t) => [t, new Map()]));

describe.each(TRANSPORTS)('pinned signers over %s', (transport) => {
  beforeAll(() => {
    // The git CLI serves a run whose API quota is spent.
    if (transport === 'git-cli') fx.server.rateLimit.remaining = 0;
  });
  afterAll(() => {
    if (transport === 'git-cli') fx.server.rateLimit.remaining = fx.server.rateLimit.limit;
  });

  it.each(SCENARIOS)('$name', async ({ name, expect: wanted }) => {
    const host = await hostAtBase(transport);
    const commit = commits.get(name)!;
    const run = await host.sync(name);
    if (wanted === 'applied') {
      expect(run.code, run.stderr).toBe(0);
      await fx.expectSameAsCommit(commit, undefined, host.dest);
      expect(run.stderr).toContain(`Commit ${commit.slice(0, 12)} is signed by`);
      expect(await refusals(host.metrics)).toEqual({});
      verdicts.get(transport)!.set(name, 'applied');
    } else {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(commit.slice(0, 12));
      // DEST is byte for byte the commit it held, and the refusal is counted by its reason.
      await fx.expectSameAsCommit(base, undefined, host.dest);
      const counted = await refusals(host.metrics);
      expect(counted).toEqual({ [wanted.reason]: 1 });
      verdicts.get(transport)!.set(name, Object.keys(counted)[0]!);
    }
    if (transport === 'git-cli') {
      const result = await host.sync('base', '--check-only', '--json');
      expect(parseJson(result)['source']).toBe('git');
    }
  });
});

describe('every source reaches the same verdicts', () => {
  it('wire protocol, REST API and git CLI agree on every scenario', () => {
    const table = (transport: Transport): Record<string, string> => Object.fromEntries(verdicts.get(transport)!);
    expect(Object.keys(table('wire'))).toHaveLength(SCENARIOS.length);
    expect(table('rest')).toEqual(table('wire'));
    expect(table('git-cli')).toEqual(table('wire'));
  });
});

describe('a repository given as a git URL (no REST API at all)', () => {
  it('applies a commit signed by a pinned key and refuses one that is not', async () => {
    const url = `${fx.server.serverUrl}/acme/hypervisor.git`;
    const dest = join(fx.tmp, 'git-url');
    const sync = (ref: string): Promise<CliResult> =>
      fx.run(['sync', '--repo', url, '--dest', dest, '--state-dir', join(fx.tmp, 'git-url-state'), '--ref', ref, '--allowed-signers', signersFile], { bare: true });
    expect((await sync('ssh-ecdsa')).code).toBe(0);
    await fx.expectSameAsCommit(commits.get('ssh-ecdsa')!, undefined, dest);
    fx.server.resetLog();
    const refused = await sync('ssh-other-key');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not in .*allowed_signers/);
    await fx.expectSameAsCommit(commits.get('ssh-ecdsa')!, undefined, dest);
    expect(fx.server.requests.filter((r) => r.kind === 'api')).toEqual([]);
  });
});

describe('--check-only reports the verdict', () => {
  it.each(['wire', 'rest'] as const)('over %s: a signed commit is pending and verified, a refused one exits 1 naming why', async (transport) => {
    const host = await hostAtBase(transport);
    const good = await host.sync('ssh-ed25519', '--check-only', '--json');
    expect(good.code, good.stderr).toBe(3);
    expect(parseJson(good)['signature']).toMatchObject({ status: 'verified', format: 'ssh', signer: 'alice@example.invalid' });
    const bad = await host.sync('ssh-other-key', '--check-only', '--json');
    expect(bad.code, bad.stderr).toBe(1);
    const document = parseJson(bad);
    expect(document['ok']).toBe(false);
    expect(document['signature']).toMatchObject({ status: 'refused', reason: 'unknown-key', format: 'ssh' });
    const human = await host.sync('unsigned', '--check-only');
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/refused Commit [0-9a-f]{12} is not signed/);
    await fx.expectSameAsCommit(base, undefined, host.dest);
  });

  it.each(['wire', 'rest'] as const)('over %s: a poll that finds DEST at its commit does not ask again; --check-only does', async (transport) => {
    const host = await hostAtBase(transport);
    // What asking costs: a commits-only fetch over git, GET commit over REST.
    const asks = (): number => fx.server.requests.filter((r) => (transport === 'wire' ? r.kind === 'git' : r.kind === 'api' && /\/commits\/[0-9a-f]{40}$/.test(r.path))).length;
    fx.server.resetLog();
    const again = parseJson(await host.sync('base', '--json'));
    expect(again['signature']).toMatchObject({ status: 'not-checked' });
    expect(asks()).toBe(0);
    const checked = parseJson(await host.sync('base', '--check-only', '--json'));
    expect(checked['signature']).toMatchObject({ status: 'verified', signer: 'alice@example.invalid' });
    expect(asks()).toBeGreaterThan(0);
  });
});

describe('a server that lies', () => {
  const treeOf = (name: string): Promise<string> => fx.repo.git('rev-parse', `${commits.get(name)!}^{tree}`);

  it('REST: a tree listing that is not the signed tree is refused; git objects cannot be swapped that way', async () => {
    const signedTree = await treeOf('ssh-ed25519');
    fx.server.treeSubstitutes.set(signedTree, await treeOf('unsigned'));
    try {
      const rest = await hostAtBase('rest');
      const refused = await rest.sync('ssh-ed25519');
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(/is not the tree its signed object names/);
      await fx.expectSameAsCommit(base, undefined, rest.dest);
      expect(await refusals(rest.metrics)).toEqual({ 'sha-mismatch': 1 });
      // The same lie without pinned keys goes through: that is what trusting the server means.
      const unpinned = join(fx.tmp, 'unpinned');
      const trusting = await fx.run(['sync', '--repo', 'acme/hypervisor', '--dest', unpinned, '--state-dir', join(fx.tmp, 'unpinned-state'), '--ref', 'ssh-ed25519'], { bare: true, env: { HOSTSYNC_TRANSPORT: 'rest' } });
      expect(trusting.code, trusting.stderr).toBe(0);
      await fx.expectSameAsCommit(commits.get('unsigned')!, undefined, unpinned);
      // The wire protocol hashes every object it receives: the listing lie does not reach it.
      const wire = await hostAtBase('wire');
      expect((await wire.sync('ssh-ed25519')).code).toBe(0);
      await fx.expectSameAsCommit(commits.get('ssh-ed25519')!, undefined, wire.dest);
    } finally {
      fx.server.treeSubstitutes.clear();
    }
  });

  it("REST: a signed payload that is not the commit's is refused", async () => {
    const commit = commits.get('ssh-rsa')!;
    // The real signed payload with one more line in the message: signed bytes that are not this commit's.
    const payload = `${(await catCommit(fx.repo, commit)).toString('utf8').replace(/^gpgsig [\s\S]*?-----END SSH SIGNATURE-----\n/m, '')}edited\n`;
    fx.server.verificationOverrides.set(commit, { payload });
    try {
      const host = await hostAtBase('rest');
      const refused = await host.sync('ssh-rsa');
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(/do not rebuild an object with that SHA/);
      await fx.expectSameAsCommit(base, undefined, host.dest);
      expect(await refusals(host.metrics)).toEqual({ 'sha-mismatch': 1 });
    } finally {
      fx.server.verificationOverrides.clear();
    }
  });

  it('REST: a signed commit GitHub calls unsigned is refused as unsigned (a denial, never an apply)', async () => {
    fx.server.verificationOverrides.set(commits.get('openpgp')!, { payload: null, signature: null });
    try {
      const host = await hostAtBase('rest');
      const refused = await host.sync('openpgp');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/GitHub reports no signature/);
      await fx.expectSameAsCommit(base, undefined, host.dest);
    } finally {
      fx.server.verificationOverrides.clear();
    }
  });
});

describe('rollback and dev-update', () => {
  it('rollback to a generation applied earlier needs no pinned keys and does not verify again', async () => {
    const host = await hostAtBase('wire');
    expect((await host.sync('ssh-rsa')).code).toBe(0);
    // A config file whose pinned-keys file is now garbled: sync refuses to start, rollback does not read it.
    const garbled = join(fx.tmp, 'garbled_signers');
    await writeFile(garbled, 'this is not an allowed-signers line\n');
    const config = join(fx.tmp, 'garbled.json');
    await writeFile(config, JSON.stringify({ repo: 'acme/hypervisor', dest: host.dest, stateDir: host.stateDir, trust: { allowedSignersFile: garbled } }));
    const sync = await fx.run(['sync', '--config', config], { bare: true });
    expect(sync.code).toBe(2);
    expect(sync.stderr).toContain(garbled);
    const rollback = await fx.run(['rollback', '--config', config], { bare: true });
    expect(rollback.code, rollback.stderr).toBe(0);
    await fx.expectSameAsCommit(base, undefined, host.dest);
  });

  it('dev-update refuses before its pre-sync hook runs', async () => {
    const host = await hostAtBase('wire');
    const marker = join(fx.tmp, 'pre-sync-ran');
    const run = await fx.run(
      ['dev-update', '--repo', 'acme/hypervisor', '--dest', host.dest, '--state-dir', host.stateDir, '--ref', 'unsigned', '--allowed-signers', signersFile, '--pre-sync', `touch ${marker}`],
      { bare: true },
    );
    expect(run.code).toBe(1);
    await expect(readFile(marker)).rejects.toThrow();
    await fx.expectSameAsCommit(base, undefined, host.dest);
  });
});

describe('--require-signed without pinned keys', () => {
  it('says that it trusts GitHub', async () => {
    fx.server.verifiedCommits.add(base);
    try {
      const dest = join(fx.tmp, 'require-signed');
      const run = await fx.run(['sync', '--repo', 'acme/hypervisor', '--dest', dest, '--state-dir', join(fx.tmp, 'require-signed-state'), '--ref', 'base', '--require-signed'], { bare: true });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/--require-signed: trusting GitHub's verification of [0-9a-f]{12}/);
    } finally {
      fx.server.verifiedCommits.delete(base);
    }
  });
});
