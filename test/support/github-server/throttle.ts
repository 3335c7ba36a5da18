/**
 * Link simulation for benchmarks: one bandwidth budget shared by every response body of the server
 * (a token bucket with a small burst); the sender waits on it slice by slice.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Slice size: small enough that concurrent downloads interleave fairly. */
export const THROTTLE_SLICE = 16 * 1024;
/** Burst the bucket may hold, in milliseconds of bandwidth. */
const BURST_MS = 20;

/** A server-wide token bucket. `bytesPerSec` 0 means unlimited. */
export class Throttle {
  bytesPerSec = 0;
  /** performance.now() at which the link is free again. */
  private freeAt = 0;

  /** Wait until `bytes` may be sent. */
  async take(bytes: number): Promise<void> {
    if (this.bytesPerSec <= 0) return;
    const now = performance.now();
    const start = Math.max(now - BURST_MS, this.freeAt);
    this.freeAt = start + (bytes * 1000) / this.bytesPerSec;
    const wait = this.freeAt - now - BURST_MS;
    if (wait > 0) await sleep(wait);
  }
}
