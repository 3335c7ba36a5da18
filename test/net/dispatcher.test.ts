/**
 * The dispatcher factory: per origin, direct or through the proxy by the NO_PROXY rules; CA file
 * trusted besides Node's roots; `createNetFetch` for fetch-shaped clients. Against local servers: a
 * stand-in forward proxy (answers absolute-form requests itself) and an HTTPS server signed by a test CA.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, createNetFetch } from '../../src/net/dispatcher.js';
import { createTestPki, type TestPki } from '../support/tls.js';

let proxy: Server;
let origin: Server;
let proxyUrl = '';
let originUrl = '';
const seen: string[] = [];

beforeAll(async () => {
  proxy = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['proxy-authorization'] ?? ''}`.trim());
    res.end('via proxy');
  });
  origin = createHttpServer((_req, res) => res.end('direct'));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://u:p%40ss@127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => proxy.close(resolve));
  await new Promise((resolve) => origin.close(resolve));
});

const options = { timeoutMs: 5000, stallMs: 5000 };

describe('createDispatcher', () => {
  it('sends http:// through the proxy as absolute-form requests with its credentials, unless NO_PROXY says direct', async () => {
    seen.length = 0;
    const proxied = createDispatcher({ proxy: { http: proxyUrl, https: undefined, noProxy: '' }, caFile: undefined }, options);
    const direct = createDispatcher({ proxy: { http: proxyUrl, https: undefined, noProxy: '127.0.0.0/8' }, caFile: undefined }, options);
    try {
      expect(await (await request(`${originUrl}/x`, { dispatcher: proxied })).body.text()).toBe('via proxy');
      expect(seen).toEqual([`GET ${originUrl}/x Basic ${Buffer.from('u:p@ss').toString('base64')}`]);
      expect(await (await request(`${originUrl}/y`, { dispatcher: direct })).body.text()).toBe('direct');
      expect(seen).toHaveLength(1);
    } finally {
      await proxied.close();
      await direct.close();
    }
  });

  it('createNetFetch: a fetch on the same dispatcher', async () => {
    seen.length = 0;
    const net = createNetFetch({ proxy: { http: proxyUrl, https: proxyUrl, noProxy: '' }, caFile: undefined }, options);
    try {
      expect(await (await net.fetch(`${originUrl}/app/installations`)).text()).toBe('via proxy');
      expect(seen).toHaveLength(1);
    } finally {
      await net.close();
    }
  });

  describe('caFile', () => {
    let pki: TestPki;
    let https: ReturnType<typeof createHttpsServer>;
    let url = '';
    beforeAll(async () => {
      pki = await createTestPki();
      https = createHttpsServer({ key: pki.server.key, cert: pki.server.cert }, (_req, res) => res.end('tls ok'));
      await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
      await pki.close();
    });

    it('is trusted besides the system roots; without it the server is not', async () => {
      const plain = createDispatcher({ proxy: undefined, caFile: undefined }, options);
      const trusting = createDispatcher({ proxy: undefined, caFile: pki.caFile }, options);
      try {
        await expect(request(url, { dispatcher: plain })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
        expect(await (await request(url, { dispatcher: trusting })).body.text()).toBe('tls ok');
      } finally {
        await plain.close();
        await trusting.close();
      }
    });
  });
});
