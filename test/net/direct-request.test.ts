/**
 * Node's own HTTP client as the git edge uses it without a proxy (src/net/direct-request.ts): the
 * same limits as the undici dispatchers — headers within timeoutMs, no body byte for stallMs while
 * the reader waits (guardStall) — an abort that rejects with its reason, kept-alive connections, and
 * a private CA over HTTPS.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectClient, guardStall } from '../../src/net/direct-request.js';
import { createGitHttpTransport } from '../../src/git/http-transport.js';
import { InterruptedError } from '../../src/errors.js';
import { gzipSync } from 'node:zlib';
import { createTestPki, type TestPki } from '../support/tls.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let handler: Handler = (_req, res) => res.end();
const sockets = new Set<unknown>();
const server = createHttpServer((req, res) => handler(req, res));
server.on('connection', (socket) => sockets.add(socket));
let origin = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function readAll(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

describe('createDirectClient', () => {
  it('POSTs the body with its length and keeps the connection for the next request', async () => {
    handler = (req, res) => {
      void readAll(req).then((text) => res.end(`${req.method} ${req.headers['content-length']} ${req.headers['git-protocol']} ${text}`));
    };
    sockets.clear();
    const client = createDirectClient({ timeoutMs: 5000 });
    try {
      const first = await client.request({ method: 'POST', url: `${origin}/x`, headers: { 'git-protocol': 'version=2' }, body: Buffer.from('hello') });
      expect(first.statusCode).toBe(200);
      expect(await readAll(first.body)).toBe('POST 5 version=2 hello');
      const second = await client.request({ method: 'GET', url: `${origin}/y`, headers: {} });
      expect(await readAll(second.body)).toBe('GET undefined undefined ');
      expect(sockets.size).toBe(1);
    } finally {
      client.close();
    }
  });

  it('gives up on headers that do not come within timeoutMs (UND_ERR_HEADERS_TIMEOUT)', async () => {
    handler = () => undefined; // never answers
    const client = createDirectClient({ timeoutMs: 200 });
    try {
      const error = await client.request({ method: 'GET', url: `${origin}/slow`, headers: {} }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT', message: expect.stringContaining('within 200 ms') });
    } finally {
      client.close();
    }
  });

  it('guardStall fails a body that stops for stallMs (UND_ERR_BODY_TIMEOUT) and abandons it', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('first bytes');
    };
    const client = createDirectClient({ timeoutMs: 5000 });
    try {
      const answer = await client.request({ method: 'GET', url: `${origin}/stall`, headers: {} });
      const error = await readAll(guardStall(answer.body as AsyncIterable<Buffer>, 200, 'the test server', () => answer.body.destroy())).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT', message: expect.stringContaining('the test server for 200 ms') });
      expect(answer.body.destroyed).toBe(true);
    } finally {
      client.close();
    }
  });

  it('guardStall does not count the time the reader holds the body back (a slow disk) as a stall', async () => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    handler = (_req, res) => {
      res.writeHead(200);
      // Far more than the socket's and the reader's buffers hold: the client must pause the socket.
      let sent = 0;
      const more = (): void => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      more();
    };
    const client = createDirectClient({ timeoutMs: 5000 });
    try {
      const answer = await client.request({ method: 'GET', url: `${origin}/slow-reader`, headers: {} });
      let total = 0;
      let first = true;
      for await (const piece of guardStall(answer.body as AsyncIterable<Buffer>, 200, 'the test server', () => answer.body.destroy())) {
        total += piece.length;
        if (first) {
          first = false;
          await new Promise((resolve) => setTimeout(resolve, 600)); // three stall periods without reading
        }
      }
      expect(total).toBe(8 * 1024 * 1024);
    } finally {
      client.close();
    }
  });

  it('rejects with the signal’s reason, before the answer and while the body streams', async () => {
    handler = () => undefined;
    const client = createDirectClient({ timeoutMs: 5000 });
    try {
      const before = new AbortController();
      setTimeout(() => before.abort(new Error('stopped by the test')), 50);
      await expect(client.request({ method: 'GET', url: `${origin}/a`, headers: {}, signal: before.signal })).rejects.toThrow('stopped by the test');
      handler = (_req, res) => {
        res.writeHead(200);
        res.write('partial');
      };
      const during = new AbortController();
      const answer = await client.request({ method: 'GET', url: `${origin}/b`, headers: {}, signal: during.signal });
      setTimeout(() => during.abort(new Error('stopped mid-body')), 50);
      await expect(readAll(answer.body)).rejects.toThrow('stopped mid-body');
    } finally {
      client.close();
    }
  });

  describe('through the git transport', () => {
    const transport = () => createGitHttpTransport({ url: `${origin}/acme/x.git`, net: { proxy: undefined, caFile: undefined }, timeouts: { timeoutMs: 5000, stallMs: 200 } });

    it('a gzip body that stalls fails within stallMs and its connection is closed', async () => {
      let closed = false;
      handler = (req, res) => {
        req.on('close', () => undefined);
        res.on('close', () => (closed = true));
        res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result', 'content-encoding': 'gzip' });
        const whole = gzipSync(Buffer.alloc(64 * 1024, 7));
        res.write(whole.subarray(0, whole.length >> 1)); // half, then nothing
      };
      const git = transport();
      try {
        const body = await git.post(Buffer.from('0000'));
        const started = Date.now();
        const error = await readAll(body).catch((e: unknown) => e);
        expect(error).toMatchObject({ message: expect.stringContaining('No byte of the answer') });
        expect(Date.now() - started).toBeLessThan(3000);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(closed).toBe(true);
      } finally {
        await git.close?.();
      }
    });

    it('a gzip body its reader stops early is released (the connection closes)', async () => {
      let closed = false;
      handler = (_req, res) => {
        res.on('close', () => (closed = true));
        res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result', 'content-encoding': 'gzip' });
        res.write(gzipSync(Buffer.alloc(256 * 1024, 7)).subarray(0, 2000)); // a start, then it keeps the connection open
      };
      const git = transport();
      try {
        const body = await git.post(Buffer.from('0000'));
        for await (const chunk of body) {
          expect(chunk.length).toBeGreaterThan(0);
          break; // a reader that stops (a damaged pack, say)
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(closed).toBe(true);
      } finally {
        await git.close?.();
      }
    });

    it('a stop (the run aborted by SIGINT) while the body streams stays the stop, not a connection failure', async () => {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result' });
        res.write('0008NAK\n');
      };
      const git = createGitHttpTransport({ url: `${origin}/acme/x.git`, net: { proxy: undefined, caFile: undefined }, timeouts: { timeoutMs: 5000, stallMs: 5000 } });
      try {
        const stop = new AbortController();
        const body = await git.post(Buffer.from('0000'), stop.signal);
        const reason = new InterruptedError('SIGINT');
        setTimeout(() => stop.abort(reason), 100);
        const error = await readAll(body).catch((e: unknown) => e);
        expect(error).toBe(reason);
      } finally {
        await git.close?.();
      }
    });

    it('an error page that stalls fails within stallMs with the status', async () => {
      handler = (_req, res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.write('<html>bad gateway');
      };
      const git = transport();
      try {
        const started = Date.now();
        await expect(git.post(Buffer.from('0000'))).rejects.toMatchObject({ status: 502 });
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        await git.close?.();
      }
    });
  });

  describe('over HTTPS', () => {
    let pki: TestPki;
    let secure: ReturnType<typeof createHttpsServer>;
    let secureOrigin = '';
    beforeAll(async () => {
      pki = await createTestPki();
      secure = createHttpsServer({ key: pki.server.key, cert: pki.server.cert }, (_req, res) => res.end('over tls'));
      await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
      secureOrigin = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      secure.closeAllConnections();
      await new Promise((resolve) => secure.close(resolve));
      await pki.close();
    });

    it('trusts caFile beside the roots, and without it names the certificate problem', async () => {
      const trusting = createDirectClient({ timeoutMs: 5000, caFile: pki.caFile });
      const plain = createDirectClient({ timeoutMs: 5000 });
      try {
        expect(await readAll((await trusting.request({ method: 'GET', url: `${secureOrigin}/`, headers: {} })).body)).toBe('over tls');
        await expect(plain.request({ method: 'GET', url: `${secureOrigin}/`, headers: {} })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
      } finally {
        trusting.close();
        plain.close();
      }
    });
  });
});
