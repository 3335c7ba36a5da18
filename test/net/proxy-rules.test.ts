/**
 * NO_PROXY as curl reads it, checked against curl itself: for each case, curl 7.x/8.x is asked to
 * fetch the URL with `--noproxy LIST -x PROXY` (names resolved to 127.0.0.1 with --resolve) and
 * whether the request reached the proxy is curl's answer. hostsync's matcher must agree, except
 * for entries with a port, which curl never matches and hostsync matches on that port.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bypassesProxy, describeProxy, proxyFor, proxyPassword } from '../../src/net/proxy-rules.js';
import { findBinary } from '../support/daemon.js';

const run = promisify(execFile);
const CURL = findBinary('/usr/bin/curl');

type Via = 'proxy' | 'direct';

/** [NO_PROXY, host, curl's way, hostsync's way when it differs]. Ports are the test server's. */
const CASES: [list: string, host: string, curl: Via, ours?: Via][] = [
  ['', 'a.example', 'proxy'],
  ['*', 'a.example', 'direct'],
  ['*,b.example', 'a.example', 'proxy'], // `*` is a wildcard only alone
  ['example.com', 'example.com', 'direct'],
  ['example.com', 'git.example.com', 'direct'],
  ['example.com', 'notexample.com', 'proxy'],
  ['.example.com', 'example.com', 'direct'], // the leading dot is ignored
  ['.example.com', 'git.example.com', 'direct'],
  ['EXAMPLE.com', 'Git.Example.COM', 'direct'],
  ['example.com.', 'git.example.com', 'direct'], // so is a trailing one
  ['a.test , b.test,,c.test', 'b.test', 'direct'],
  ['a.test , b.test,,c.test', 'c.test', 'direct'],
  ['a.test b.test', 'b.test', 'direct'], // blanks separate too (curl 7.x; 8.x stops the list there)
  ['*.example.com', 'git.example.com', 'proxy'], // no globbing
  ['localhost', '127.0.0.1', 'proxy'], // names never match addresses
  ['127.0.0.1', '127.0.0.1', 'direct'],
  ['127.0.0.0/8', '127.0.0.1', 'direct'],
  ['127.0.0.0/8', '127.1.2.3', 'direct'],
  ['10.0.0.0/8', '127.0.0.1', 'proxy'],
  ['127.0.0.1/32', '127.0.0.2', 'proxy'],
  ['::1', '[::1]', 'direct'],
  ['::/0', '[::1]', 'proxy', 'direct'], // curl reads /0 as /128
  ['fd00::/8', '[::1]', 'proxy'],
  ['ports.test:PORT', 'ports.test', 'proxy', 'direct'], // curl never matches an entry with a port
  ['ports.test:1', 'ports.test', 'proxy'],
];

describe.skipIf(CURL === undefined)('NO_PROXY: hostsync agrees with curl', () => {
  let proxy: Server;
  let direct: Server;
  let port = 0;
  let proxyPort = 0;

  beforeAll(async () => {
    proxy = createServer((_req, res) => res.end('proxy'));
    direct = createServer((_req, res) => res.end('direct'));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => direct.listen(0, '127.0.0.1', resolve));
    proxyPort = (proxy.address() as AddressInfo).port;
    port = (direct.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy.close(resolve));
    await new Promise((resolve) => direct.close(resolve));
  });

  async function curlWay(noProxy: string, host: string): Promise<Via> {
    const bare = host.replace(/^\[|\]$/g, '');
    const resolve = /^[\d.]+$/.test(bare) || bare.includes(':') ? [] : ['--resolve', `${bare}:${port}:127.0.0.1`];
    const { stdout } = await run(CURL!, ['-s', '--max-time', '5', '--noproxy', noProxy, '-x', `http://127.0.0.1:${proxyPort}`, ...resolve, `http://${host}:${port}/`], { env: {} }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    return stdout === 'proxy' ? 'proxy' : 'direct'; // a refused direct connection is direct too
  }

  it.each<[list: string, host: string, curl: Via, ours?: Via]>(CASES)('NO_PROXY=%j, http://%s', async (list, host, curl, ours = curl) => {
    const noProxy = list.replace('PORT', String(port));
    expect(await curlWay(noProxy, host)).toBe(curl);
    expect(bypassesProxy(new URL(`http://${host}:${port}/`), noProxy) ? 'direct' : 'proxy').toBe(ours);
  });
});

describe('proxyFor', () => {
  const settings = { http: 'http://proxy:3128', https: 'http://user:p%40ss@proxy:3128', noProxy: 'internal.example' };
  it.each([
    ['https://api.github.com/repos', 'http://user:p%40ss@proxy:3128'],
    ['http://git.example.com/x.git', 'http://proxy:3128'],
    ['https://ghe.internal.example/api/v3', undefined],
    ['ssh://git@github.com/x', undefined],
  ])('%s', (url, expected) => {
    expect(proxyFor(url, settings)).toBe(expected);
  });

  it('no settings, or an empty proxy for the scheme: direct', () => {
    expect(proxyFor('https://a', undefined)).toBeUndefined();
    expect(proxyFor('https://a', { http: 'http://p:1', https: undefined, noProxy: '' })).toBeUndefined();
  });

  it('shows proxies without their password and hands the password to the redactor', () => {
    expect(describeProxy('http://user:p%40ss@proxy:3128/')).toBe('http://user:***@proxy:3128');
    expect(proxyPassword('http://user:p%40ss@proxy:3128')).toBe('p@ss');
    expect(proxyPassword('http://proxy:3128')).toBeUndefined();
  });
});
