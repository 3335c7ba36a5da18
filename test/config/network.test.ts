/**
 * The settings of "where servers live": a repository given as a git URL (HTTPS, SSH, scp-like), the
 * proxies (flag > file > HOSTSYNC_PROXY > https_proxy/HTTPS_PROXY and http_proxy/HTTP_PROXY), noProxy,
 * gitUser, caFile and the SSH files. Table tests of the pure parser, and the JSON Schema agreeing with
 * it on repository URLs.
 */
import { readFile } from 'node:fs/promises';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { ConfigInput, LooseConfig, ParseResult } from '../../src/config/types.js';
import { networkSecrets } from '../../src/net/settings.js';

const FILE = '/etc/hostsync/config.json';

function input(over: Partial<ConfigInput> & { flags?: Record<string, unknown> } = {}): ConfigInput {
  return { env: {}, token: undefined, home: '/home/ops', isRoot: true, cwd: '/work', ...over, flags: { dest: '/etc/hypervisor', ...over.flags } };
}

function ok(result: ParseResult<LooseConfig>): LooseConfig {
  if (!result.ok) throw new Error(`expected ok, got:\n${result.errors.join('\n')}`);
  return result.config;
}

function failure(result: ParseResult<LooseConfig>): string {
  if (result.ok) throw new Error('expected an error');
  return result.errors.join('\n');
}

describe('repo as a git URL', () => {
  it.each([
    ['https://git.example.com/acme/hypervisor.git', 'https://git.example.com/acme/hypervisor.git', 'acme', 'hypervisor'],
    ['https://git.example.com:8443/acme/hypervisor.git/', 'https://git.example.com:8443/acme/hypervisor.git', 'acme', 'hypervisor'],
    ['https://gitlab.example.com/group/sub/hypervisor', 'https://gitlab.example.com/group/sub/hypervisor', 'sub', 'hypervisor'],
    ['http://127.0.0.1:8080/git/acme/hypervisor.git', 'http://127.0.0.1:8080/git/acme/hypervisor.git', 'acme', 'hypervisor'],
    ['git@github.com:acme/hypervisor.git', 'git@github.com:acme/hypervisor.git', 'acme', 'hypervisor'],
    ['ssh://git@git.example.com:2222/srv/git/hypervisor.git', 'ssh://git@git.example.com:2222/srv/git/hypervisor.git', 'git', 'hypervisor'],
    ['deploy@10.0.0.5:~/hypervisor.git', 'deploy@10.0.0.5:~/hypervisor.git', '10.0.0.5', 'hypervisor'],
  ])('%s', (value, url, owner, name) => {
    const config = ok(parseConfig(input({ flags: { repo: value } })));
    expect(config).toMatchObject({ repo: url, gitUrl: url, repoOwner: owner, repoName: name });
  });

  it('OWNER/NAME stays GitHub (no gitUrl)', () => {
    expect(ok(parseConfig(input({ flags: { repo: 'acme/hypervisor' } })))).toMatchObject({ repo: 'acme/hypervisor', gitUrl: undefined });
  });

  it.each([
    ['git://git.example.com/acme/x.git', /git:\/\/ is neither authenticated nor encrypted/],
    ['file:///srv/git/x.git', /Unsupported repository URL .* https:\/\/, http:\/\/ or ssh:\/\//],
    ['https://oauth2@gitlab.example.com/acme/x.git', /to hold no credentials, got 'https:\/\/\*\*\*@gitlab\.example\.com\/acme\/x\.git'.*gitUser/],
    ['https://git.example.com/', /the path has no repository path/],
    ['https://git.example.com/acme/x.git?ref=main', /no query or fragment/],
    ['-oProxyCommand=evil:x.git', /characters ssh would misread/],
    ['git@host:-x.git', /a leading '-'/],
  ])('refuses %s', (value, message) => {
    expect(failure(parseConfig(input({ flags: { repo: value } })))).toMatch(message);
  });

  it('warns for http:// to another host, and for SSH settings without an SSH URL', () => {
    const result = parseConfig(input({ flags: { repo: 'http://git.example.com/acme/x.git', sshKeyFile: '/k' } }));
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([
      "`--repo` is 'http://git.example.com/acme/x.git', not HTTPS: the token and the content travel unencrypted.",
      '`--ssh-key-file` is set, but the repository is not an SSH URL: it is not used.',
    ]);
  });

  it('transport rest and requireSigned need GitHub', () => {
    const message = failure(parseConfig(input({ flags: { repo: 'https://git.example.com/acme/x.git', transport: 'rest', requireSigned: true } })));
    expect(message).toMatch(/transport 'rest' reads GitHub's REST API/);
    expect(message).toMatch(/requireSigned asks GitHub's API/);
  });

  it('the JSON Schema accepts and refuses the same repository values as the parser', async () => {
    const schema = JSON.parse(await readFile(new URL('../../docs/config.schema.json', import.meta.url), 'utf8')) as object;
    const validate = new Ajv2020.default({ strict: true, allErrors: true }).compile(schema);
    for (const repo of ['acme/hypervisor', 'https://git.example.com/acme/x.git', 'http://127.0.0.1:8080/git/x.git', 'git@github.com:acme/x.git', 'ssh://git@h:22/srv/x.git', 'hypervisor', 'a/b/c', 'git@host:-x.git']) {
      const parsed = parseConfig({ flags: {}, file: { path: FILE, data: { repo, dest: '/etc/hypervisor' } }, env: {}, token: undefined, home: '/root', isRoot: true, cwd: '/' });
      expect(validate({ repo, dest: '/etc/hypervisor' }), repo).toBe(parsed.ok);
    }
  });
});

describe('proxy and noProxy', () => {
  const proxyOf = (over: Partial<ConfigInput> & { flags?: Record<string, unknown> }): LooseConfig['proxy'] => ok(parseConfig(input({ ...over, flags: { repo: 'acme/hypervisor', ...over.flags } }))).proxy;

  it('none set: no proxy', () => {
    expect(proxyOf({})).toBeUndefined();
  });

  it('the standard variables, per scheme, lower case first', () => {
    expect(proxyOf({ env: { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', HTTP_PROXY: 'http://plain:3128', NO_PROXY: '.internal' } })).toEqual({
      https: 'http://lower:3128',
      http: 'http://plain:3128',
      noProxy: '.internal',
    });
  });

  it('proxy (flag > file > HOSTSYNC_PROXY) replaces both variables', () => {
    const env = { HTTPS_PROXY: 'http://env:1', HOSTSYNC_PROXY: 'http://hostsync-env:2' };
    expect(proxyOf({ env })).toMatchObject({ https: 'http://hostsync-env:2', http: 'http://hostsync-env:2' });
    expect(proxyOf({ env, file: { path: FILE, data: { proxy: 'proxy.internal:3128' } } })).toMatchObject({ https: 'http://proxy.internal:3128' });
    expect(proxyOf({ env, flags: { proxy: 'https://flag:3' }, file: { path: FILE, data: { proxy: 'http://file:4' } } })).toMatchObject({ https: 'https://flag:3', http: 'https://flag:3' });
  });

  it('noProxy: --no-proxy > file > HOSTSYNC_NO_PROXY > no_proxy > NO_PROXY', () => {
    const env = { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'upper', no_proxy: 'lower' };
    expect(proxyOf({ env })?.noProxy).toBe('lower');
    expect(proxyOf({ env, flags: { noProxy: 'flag.example, 10.0.0.0/8' } })?.noProxy).toBe('flag.example, 10.0.0.0/8');
  });

  it.each([
    ['socks5://p:1080', /an http:\/\/ or https:\/\/ proxy/],
    ['http://p:3128/path', /a proxy's address only/],
    ['http://user:s3cret-Passw0rd@p:3128/path', /got 'http:\/\/\*\*\*:\*\*\*@p:3128\/path'/],
  ])('refuses %s', (value, message) => {
    const text = failure(parseConfig(input({ flags: { repo: 'a/b', proxy: value } })));
    expect(text).toMatch(message);
    expect(text).not.toContain('s3cret-Passw0rd');
  });

  it('the proxy password and a custom gitUser credential are secrets of the run', () => {
    const config = ok(parseConfig(input({ flags: { repo: 'https://g.example/x.git', proxy: 'http://u:p%40ss-word@p:1', gitUser: 'deployer' }, token: { value: 'tok3n-value-123', source: 'GITHUB_TOKEN' } })));
    expect(networkSecrets(config)).toEqual(['p@ss-word', 'p@ss-word', Buffer.from('deployer:tok3n-value-123').toString('base64')]);
  });
});

describe('gitUser, caFile, SSH files', () => {
  it('defaults and paths', () => {
    const config = ok(parseConfig(input({ flags: { repo: 'git@h:x.git', caFile: 'ca.pem', sshKeyFile: '~/.ssh/deploy', sshKnownHostsFile: '/etc/hostsync/known_hosts' } })));
    expect(config).toMatchObject({ gitUser: 'x-access-token', caFile: '/work/ca.pem', sshKeyFile: '/home/ops/.ssh/deploy', sshKnownHostsFile: '/etc/hostsync/known_hosts' });
  });

  it.each(['a:b', 'two words'])('refuses gitUser %j', (gitUser) => {
    expect(failure(parseConfig(input({ flags: { repo: 'a/b', gitUser } })))).toMatch(/to be a user name without spaces or ':'/);
  });
});
