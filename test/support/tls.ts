/**
 * Certificates made with openssl for HTTPS tests — a private CA and server certificates it signs
 * (one for 127.0.0.1/localhost, one for another name, one self-signed) — and an HTTPS front: a
 * reverse proxy on 127.0.0.1 that terminates TLS and forwards every request to a plain-HTTP server
 * (the fake GitHub), rewriting its redirects to the front's origin. Nothing here trusts anything
 * by default: the client must be given the CA.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

export interface TestPki {
  readonly dir: string;
  /** The private CA's certificate (PEM), and its file. */
  readonly caPem: string;
  readonly caFile: string;
  /** Signed by the CA for IP 127.0.0.1 and DNS localhost. */
  readonly server: KeyPair;
  /** Signed by the CA for another host name only (a hostname mismatch at 127.0.0.1). */
  readonly otherName: KeyPair;
  /** Self-signed for 127.0.0.1. */
  readonly selfSigned: KeyPair;
  close(): Promise<void>;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  await run('openssl', [...args], { cwd });
}

async function signed(dir: string, name: string, subjectAltName: string): Promise<KeyPair> {
  await writeFile(join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return { key: await readFile(join(dir, `${name}.key`), 'utf8'), cert: await readFile(join(dir, `${name}.pem`), 'utf8') };
}

/** Make a CA and the server certificates in a temp dir. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-pki-'));
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=hostsync test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const server = await signed(dir, 'server', 'IP:127.0.0.1,DNS:localhost');
  const otherName = await signed(dir, 'other', 'DNS:git.other.example');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], dir);
  const selfSigned = { key: await readFile(join(dir, 'self.key'), 'utf8'), cert: await readFile(join(dir, 'self.pem'), 'utf8') };
  return {
    dir,
    caPem: await readFile(join(dir, 'ca.pem'), 'utf8'),
    caFile: join(dir, 'ca.pem'),
    server,
    otherName,
    selfSigned,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface TlsFront {
  /** `https://127.0.0.1:PORT` */
  readonly origin: string;
  readonly port: number;
  /** Requests forwarded so far. */
  readonly requests: number;
  /** Serve another certificate from now on (new connections). */
  use(pair: KeyPair): void;
  close(): Promise<void>;
}

/** An HTTPS reverse proxy on 127.0.0.1 in front of `backend` (an http:// origin). */
export async function startTlsFront(backend: string, pair: KeyPair): Promise<TlsFront> {
  const target = new URL(backend);
  let requests = 0;
  let origin = '';
  const server: Server = createServer({ key: pair.key, cert: pair.cert }, (req, res) => {
    requests += 1;
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        const headers = { ...answer.headers };
        const location = headers['location'];
        if (typeof location === 'string' && location.startsWith(target.origin)) headers['location'] = origin + location.slice(target.origin.length);
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `https://127.0.0.1:${port}`;
  return {
    origin,
    port,
    get requests() {
      return requests;
    },
    use(next) {
      server.setSecureContext({ key: next.key, cert: next.cert });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
