/**
 * Debian's tinyproxy as the forward proxy of a test: on a free loopback port, logging every request
 * (`Request (file descriptor N): GET http://… HTTP/1.1`, `CONNECT host:port HTTP/1.1`), optionally
 * demanding Basic credentials. `requests()` reads its log, so a test counts what really passed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort, startDaemon } from './daemon.js';

/** One request as tinyproxy logged it. */
export interface ProxiedRequest {
  readonly method: string;
  /** `http://host:port/path` for forwarded requests, `host:port` for CONNECT. */
  readonly target: string;
}

export interface Tinyproxy {
  /** `http://127.0.0.1:PORT` (with the credentials when BasicAuth is on). */
  readonly url: string;
  readonly port: number;
  /** Requests in the log so far, in order. */
  requests(): Promise<ProxiedRequest[]>;
  /** Forget what was logged so far (counts start again from here). */
  resetLog(): Promise<void>;
  log(): Promise<string>;
  close(): Promise<void>;
}

/** The tinyproxy binary, or undefined when it is not installed (.ci/run installs it). */
export const TINYPROXY = findBinary('/usr/bin/tinyproxy', '/usr/sbin/tinyproxy');

/** Start tinyproxy; with `auth`, every request must carry it (Proxy-Authorization: Basic). */
export async function startTinyproxy(options: { readonly auth?: { readonly user: string; readonly password: string } } = {}): Promise<Tinyproxy> {
  if (TINYPROXY === undefined) throw new Error('tinyproxy is not installed (apt-get install tinyproxy; .ci/run does it)');
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-tinyproxy-'));
  const port = await freePort();
  const logFile = join(dir, 'tinyproxy.log');
  const config = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 60',
    `LogFile "${logFile}"`,
    'LogLevel Connect',
    'MaxClients 100',
    'Allow 127.0.0.1',
    'DisableViaHeader Yes',
    ...(options.auth === undefined ? [] : [`BasicAuth ${options.auth.user} ${options.auth.password}`]),
    '',
  ].join('\n');
  await writeFile(join(dir, 'tinyproxy.conf'), config);
  const daemon = await startDaemon(TINYPROXY, ['-d', '-c', join(dir, 'tinyproxy.conf')], { port, cwd: dir });
  let skip = 0;
  const log = async (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  const credentials = options.auth === undefined ? '' : `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.password)}@`;
  return {
    url: `http://${credentials}127.0.0.1:${port}`,
    port,
    log,
    async requests() {
      const lines = (await log()).split('\n').filter((line) => /Request \(file descriptor \d+\): /.test(line));
      return lines.slice(skip).map((line) => {
        const [, method = '', target = ''] = /Request \(file descriptor \d+\): (\S+) (\S+)/.exec(line) ?? [];
        return { method, target };
      });
    },
    async resetLog() {
      skip = (await log()).split('\n').filter((line) => /Request \(file descriptor \d+\): /.test(line)).length;
    },
    async close() {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
