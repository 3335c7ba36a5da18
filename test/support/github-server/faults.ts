/**
 * Fault injection: pick the rule for a request, and the replies and body transforms faults need.
 */
import { STATUS_CODES } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { DOCS, errorReply, jsonReply } from './reply.js';
import type { FaultAction, FaultRule, Reply, RequestInfo } from './types.js';

/** The action of the first rule matching `req` that has uses left; spends one use. */
export function takeFault(rules: readonly FaultRule[], req: RequestInfo): FaultAction | undefined {
  for (const rule of rules) {
    if (rule.times !== undefined && rule.times <= 0) continue;
    if (!rule.match(req)) continue;
    if (rule.times !== undefined) rule.times -= 1;
    return rule.action;
  }
  return undefined;
}

/** The immediate answer of a `{status}` fault: the given body, or a GitHub-style error body. */
export function statusFaultReply(action: { readonly status: number; readonly body?: unknown; readonly headers?: Readonly<Record<string, string>> }): Reply {
  const extra = { ...action.headers };
  if (typeof action.body === 'string' || Buffer.isBuffer(action.body)) {
    const data = Buffer.isBuffer(action.body) ? action.body : Buffer.from(action.body, 'utf8');
    return { status: action.status, headers: { 'content-type': 'text/plain; charset=utf-8', ...extra }, body: { kind: 'buffer', data } };
  }
  if (action.body !== undefined) return withHeaders(jsonReply(action.status, action.body), extra);
  return withHeaders(errorReply(action.status, STATUS_CODES[action.status] ?? 'Error', DOCS.rest), extra);
}

/** GitHub's secondary rate limit answer. */
export function secondaryLimitReply(retryAfterSec: number, status: 403 | 429, requestId: string): Reply {
  const message = `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`;
  return withHeaders(jsonReply(status, { message, documentation_url: DOCS.secondaryLimit }), { 'retry-after': String(retryAfterSec) });
}

function withHeaders(reply: Reply, headers: Record<string, string>): Reply {
  return { ...reply, headers: { ...reply.headers, ...headers } };
}

/** Flip one bit in the middle of every chunk: same length, different bytes. */
export function corruptTransform(): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const copy = Buffer.from(chunk);
      const at = copy.length >> 1;
      if (copy.length > 0) copy[at] = (copy[at] ?? 0) ^ 0x01;
      callback(null, copy);
    },
  });
}
