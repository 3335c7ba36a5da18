/**
 * Real servers for tests (tinyproxy, lighttpd, sshd): started in the foreground on a free loopback
 * port, waited for until the port accepts connections, stopped by their own pid. Every server binds
 * 127.0.0.1 only; `stop()` kills exactly the process this module started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether 127.0.0.1:port accepts a connection. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A server process this test started. */
export interface Daemon {
  readonly pid: number;
  readonly port: number;
  /** What it printed on stdout and stderr. */
  output(): string;
  /** Send a signal to this process (e.g. SIGHUP: reopen logs). */
  signal(name: NodeJS.Signals): void;
  /** SIGTERM (SIGKILL after 5 s) to this process only; resolves when it has exited. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  readonly port: number;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** @default 15000 */
  readonly timeoutMs?: number;
}

/** Start `command args…` and wait until it listens on `options.port`. */
export async function startDaemon(command: string, args: readonly string[], options: DaemonOptions): Promise<Daemon> {
  const child: ChildProcess = spawn(command, [...args], {
    cwd: options.cwd,
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-65_536)));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-65_536)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failed: Error | undefined;
  child.once('error', (error) => (failed = error));
  const daemon: Daemon = {
    pid: child.pid ?? -1,
    port: options.port,
    output: () => output,
    signal(name) {
      if (child.exitCode === null && child.signalCode === null) child.kill(name);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    if (failed !== undefined) throw new Error(`${command} did not start: ${failed.message}`);
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode} before listening on ${options.port}:\n${output}`);
    if (await accepts(options.port)) return daemon;
    await sleep(50);
  }
  await daemon.stop();
  throw new Error(`${command} did not listen on 127.0.0.1:${options.port} within ${options.timeoutMs ?? 15_000} ms:\n${output}`);
}

/** The first of `paths` that exists (Debian puts daemons in /usr/sbin), or undefined. */
export function findBinary(...paths: string[]): string | undefined {
  return paths.find((path) => existsSync(path));
}
