/**
 * A response body that arrives, but too slowly to ever finish, is as broken as one that stops:
 * undici's `bodyTimeout` only notices silence, so a server trickling one byte a second would keep
 * a run alive forever. Like git's `http.lowSpeedLimit`/`http.lowSpeedTime` (and curl's), a body
 * averaging under `limit` bytes/s over `windowMs` is abandoned with a message naming the endpoint.
 */
import { Transform } from 'node:stream';
import { HostsyncError } from '../errors.js';

/** The minimum rate of a transfer, and the window it is measured over. */
export interface LowSpeed {
  /** Bytes per second; 0 turns the check off. */
  readonly limit: number;
  readonly windowMs: number;
}

/** A body slower than the minimum rate. Retryable: the next attempt may be faster. */
export class LowSpeedError extends HostsyncError {
  readonly retryable = true;
  constructor(what: string, bytes: number, low: LowSpeed) {
    super(
      `${what} arrived at ${Math.round(bytes / (low.windowMs / 1000))} bytes/s over the last ${Math.round(low.windowMs / 1000)} s, under lowSpeedLimit (${low.limit} bytes/s); gave up on it. Check the link or the server, or lower lowSpeedLimit / raise lowSpeedTimeSec.`,
    );
    this.name = 'LowSpeedError';
  }
}

/** How often the rate is looked at. */
const TICK_MS = 1000;

/** A pass-through that fails when fewer than `limit × window` bytes went through in the last window. */
export function lowSpeedGuard(low: LowSpeed, what: string, now: () => number = Date.now): Transform {
  const samples: { at: number; total: number }[] = [];
  let total = 0;
  const started = now();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      clearInterval(timer);
      callback();
    },
    destroy(error, callback) {
      clearInterval(timer);
      callback(error);
    },
  });
  if (low.limit > 0) {
    timer = setInterval(() => {
      const at = now();
      samples.push({ at, total });
      while (samples.length > 1 && (samples[1]?.at ?? at) <= at - low.windowMs) samples.shift();
      if (at - started < low.windowMs) return;
      const base = samples[0]?.at !== undefined && samples[0].at <= at - low.windowMs ? samples[0].total : 0;
      const moved = total - base;
      if (moved < (low.limit * low.windowMs) / 1000) guard.destroy(new LowSpeedError(what, moved, low));
    }, TICK_MS);
    timer.unref();
  }
  return guard;
}

/** An async iterable of chunks, failing like {@link lowSpeedGuard} when it arrives too slowly. */
export async function* guardIterable(source: AsyncIterable<Buffer>, low: LowSpeed, what: string, now: () => number = Date.now): AsyncGenerator<Buffer> {
  if (low.limit <= 0) {
    yield* source;
    return;
  }
  // A pull-based check: every chunk (and a timer between chunks) compares the bytes of the last window.
  const iterator = source[Symbol.asyncIterator]();
  const started = now();
  const samples: { at: number; total: number }[] = [{ at: started, total: 0 }];
  let total = 0;
  const tooSlow = (): LowSpeedError | undefined => {
    const at = now();
    if (at - started < low.windowMs) return undefined;
    while (samples.length > 1 && (samples[1]?.at ?? at) <= at - low.windowMs) samples.shift();
    const moved = total - (samples[0]?.total ?? 0);
    return moved < (low.limit * low.windowMs) / 1000 ? new LowSpeedError(what, moved, low) : undefined;
  };
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const watchdog = new Promise<never>((_, reject) => {
        const tick = (): void => {
          const slow = tooSlow();
          if (slow !== undefined) reject(slow);
          else timer = setTimeout(tick, TICK_MS);
        };
        timer = setTimeout(tick, TICK_MS);
      });
      watchdog.catch(() => undefined);
      let next: IteratorResult<Buffer>;
      try {
        next = await Promise.race([iterator.next(), watchdog]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done === true) return;
      total += next.value.length;
      samples.push({ at: now(), total });
      yield next.value;
    }
  } finally {
    // Not awaited: a body that stopped mid-chunk would hold the return until it ends; the caller
    // aborts the request (its signal) to release it.
    void iterator.return?.()?.catch(() => undefined);
  }
}
