/**
 * One run per destination at a time. The lock is a listening Unix socket in Linux's abstract
 * namespace (`\0hostsync-<key>`): binding it is atomic, the kernel releases it the moment the
 * process dies (even on SIGKILL, so there are no stale locks), and a waiter can ask the holder
 * for its PID by connecting. Elsewhere a socket file in the state dir is used, removed when stale.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode, ExitCode, HostsyncError } from '../errors.js';

export interface Lock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** Seconds to wait for a holder to finish. 0: fail at once. */
  readonly timeoutSec: number;
  /** Where a socket file goes on systems without abstract sockets. */
  readonly fallbackDir: string;
  /** What is being locked, for messages (DEST). */
  readonly what: string;
  readonly onWait?: ((holderPid: number | undefined) => void) | undefined;
}

function socketAddress(key: string, fallbackDir: string): string {
  return process.platform === 'linux' ? `\0hostsync-${key}` : join(fallbackDir, `${key}.lock`);
}

function listen(address: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.end(`${process.pid}\n`));
    server.once('error', (error) => (errorCode(error) === 'EADDRINUSE' ? resolve(undefined) : reject(error)));
    server.listen({ path: address, exclusive: true }, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Ask the holder for its PID; undefined when nobody answers (a stale socket file). */
function holderPid(address: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: address });
    let data = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('close', () => resolve(/^\d+$/.test(data.trim()) ? Number(data.trim()) : undefined));
    socket.on('error', () => resolve(undefined));
  });
}

/** Take the lock for `key`, waiting up to `timeoutSec`; throws exit code 4 naming the holder. */
export async function acquireLock(key: string, options: LockOptions): Promise<Lock> {
  const address = socketAddress(key, options.fallbackDir);
  const deadline = Date.now() + options.timeoutSec * 1000;
  let warned = false;
  for (;;) {
    const server = await listen(address);
    if (server !== undefined) {
      return {
        release: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
          }),
      };
    }
    const pid = await holderPid(address);
    if (pid === undefined && process.platform !== 'linux') {
      await rm(address, { force: true }); // the holder died; its socket file stayed
      continue;
    }
    if (Date.now() >= deadline) {
      throw new HostsyncError(
        `Another hostsync run${pid !== undefined ? ` (PID ${pid})` : ''} is updating ${options.what}${options.timeoutSec > 0 ? `; waited ${options.timeoutSec} s` : ''}. Let it finish, or pass --lock-timeout SECONDS to wait.`,
        ExitCode.Locked,
      );
    }
    if (!warned) {
      options.onWait?.(pid);
      warned = true;
    }
    await sleep(Math.min(250, Math.max(10, deadline - Date.now())));
  }
}
