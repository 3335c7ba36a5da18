/**
 * The protocol v2 `git-upload-pack` commands: the bodies of `command=ls-refs` and `command=fetch`
 * requests, and the `ls-refs` response (the fetch response is read in fetch-response.ts). An `ERR`
 * line anywhere ends the conversation with the server's text.
 * @see https://git-scm.com/docs/gitprotocol-v2#_ls_refs
 * @see https://git-scm.com/docs/gitprotocol-v2#_fetch
 */
import { UsageError } from '../errors.js';
import { hasFeature, type Capabilities } from './capabilities.js';
import { GitProtocolError, ProtocolVersionError } from './errors.js';
import { assertObjectId, isObjectId } from './objects.js';
import { DELIM_PKT, encodePktLine, FLUSH_PKT, PktLineReader, pktText, throwIfErrLine } from './pkt-line.js';

/** Arguments of `ls-refs`. */
export interface LsRefsRequest {
  /** Only refs starting with one of these (`refs/heads/`, `HEAD`); all refs when empty. */
  readonly refPrefixes?: readonly string[];
  /** Ask for peeled tag targets. @default true */
  readonly peel?: boolean;
  /** Ask for symbolic ref targets (HEAD → refs/heads/main). @default true */
  readonly symrefs?: boolean;
  /** Ask for an unborn HEAD (empty repository) when the server offers it. @default true */
  readonly unborn?: boolean;
}

/** One ref from `ls-refs`. */
export interface RemoteRef {
  readonly name: string;
  /** `undefined` for an unborn HEAD (a repository with no commits yet). */
  readonly oid: string | undefined;
  readonly symrefTarget?: string;
  /** The object an annotated tag finally points to. */
  readonly peeled?: string;
}

/** Arguments of `fetch`. */
export interface FetchRequest {
  /** Object ids wanted (commits, usually). */
  readonly wants: readonly string[];
  /** Objects the client has; the server leaves out what they reach and may use them as delta bases. */
  readonly haves?: readonly string[];
  /** Commits the client has without their parents (its shallow boundary). */
  readonly shallow?: readonly string[];
  /** History depth to send, counted from the wants (1: just the commits wanted). */
  readonly deepen?: number;
  /** A partial-clone filter, e.g. `blob:none`, `tree:0`, `blob:limit=1048576`. */
  readonly filter?: string;
  /** Let the server send deltas against objects the client has. @default true */
  readonly thinPack?: boolean;
  /** Accept OFS_DELTA entries. @default true */
  readonly ofsDelta?: boolean;
  /** Ask for progress text on side-band 2. @default false */
  readonly progress?: boolean;
  /** Ask for annotated tags pointing at sent objects. @default false */
  readonly includeTag?: boolean;
}

/** Options shared by the request builders. */
export interface RequestContext {
  readonly capabilities: Capabilities;
  /** Sent as `agent=…` when the server advertised `agent`, e.g. `hostsync/0.1.0`. */
  readonly agent: string;
}

const AGENT = /^[\x21-\x7e]+$/;
const ARGUMENT = /^[\x21-\x7e]+$/;

/** The capability-list lines every command request starts with. */
function requestCapabilities(context: RequestContext): string[] {
  const lines: string[] = [];
  if (context.capabilities.agent !== undefined) {
    if (!AGENT.test(context.agent)) throw new UsageError(`The git agent string must be printable ASCII without spaces, got ${JSON.stringify(context.agent)}.`);
    lines.push(`agent=${context.agent}`);
  }
  const formats = context.capabilities.objectFormats;
  if (formats.length > 0) {
    if (!formats.includes('sha1')) {
      throw new GitProtocolError(`The server offers object formats ${formats.join(', ')}, not sha1, which is all hostsync supports.`);
    }
    lines.push('object-format=sha1');
  }
  return lines;
}

function commandRequest(command: string, context: RequestContext, args: readonly string[]): Buffer {
  if (!context.capabilities.commands.has(command)) {
    throw new GitProtocolError(`The server does not offer the protocol v2 command "${command}" (it offers: ${[...context.capabilities.commands.keys()].join(', ')}).`);
  }
  const head = [`command=${command}`, ...requestCapabilities(context)].map((line) => encodePktLine(`${line}\n`));
  return Buffer.concat([...head, DELIM_PKT, ...args.map((line) => encodePktLine(`${line}\n`)), FLUSH_PKT]);
}

/** The body of an `ls-refs` request. Pure. */
export function buildLsRefsRequest(request: LsRefsRequest, context: RequestContext): Buffer {
  const args: string[] = [];
  if (request.peel !== false) args.push('peel');
  if (request.symrefs !== false) args.push('symrefs');
  if (request.unborn !== false && hasFeature(context.capabilities, 'ls-refs', 'unborn')) args.push('unborn');
  for (const prefix of request.refPrefixes ?? []) {
    if (!ARGUMENT.test(prefix)) throw new UsageError(`A ref prefix must be printable ASCII without spaces, got ${JSON.stringify(prefix)}.`);
    args.push(`ref-prefix ${prefix}`);
  }
  return commandRequest('ls-refs', context, args);
}

/**
 * The body of a `fetch` request, ending in `done` (no negotiation rounds: the caller knows what it
 * has). Pure.
 * @throws {UsageError} on a malformed id, depth or filter.
 * @throws {GitProtocolError} when the request needs a feature the server did not advertise.
 */
export function buildFetchRequest(request: FetchRequest, context: RequestContext): Buffer {
  if (request.wants.length === 0) throw new UsageError('A fetch needs at least one `want`.');
  const ids = (list: readonly string[] | undefined, what: string): readonly string[] => {
    for (const id of list ?? []) {
      if (!isObjectId(id)) throw new UsageError(`Expected each ${what} to be a 40-digit lowercase hex SHA-1, got ${JSON.stringify(id)}.`);
    }
    return list ?? [];
  };
  const requireFeature = (feature: string, why: string): void => {
    if (!hasFeature(context.capabilities, 'fetch', feature)) {
      throw new GitProtocolError(`The server does not advertise the fetch feature "${feature}", needed for ${why}.`);
    }
  };
  const args: string[] = [];
  if (request.thinPack !== false) args.push('thin-pack');
  if (request.ofsDelta !== false) args.push('ofs-delta');
  if (request.progress !== true) args.push('no-progress');
  if (request.includeTag === true) args.push('include-tag');
  const shallow = ids(request.shallow, 'shallow');
  if (shallow.length > 0 || request.deepen !== undefined) requireFeature('shallow', 'a shallow fetch (`shallow`/`deepen`)');
  for (const id of shallow) args.push(`shallow ${id}`);
  if (request.deepen !== undefined) {
    if (!Number.isSafeInteger(request.deepen) || request.deepen < 1) throw new UsageError(`Expected \`deepen\` to be a positive integer, got ${request.deepen}.`);
    args.push(`deepen ${request.deepen}`);
  }
  if (request.filter !== undefined) {
    if (!ARGUMENT.test(request.filter)) throw new UsageError(`A filter spec must be printable ASCII without spaces, got ${JSON.stringify(request.filter)}.`);
    requireFeature('filter', `the filter "${request.filter}"`);
    args.push(`filter ${request.filter}`);
  }
  for (const id of ids(request.wants, 'want')) args.push(`want ${id}`);
  for (const id of ids(request.haves, 'have')) args.push(`have ${id}`);
  args.push('done');
  return commandRequest('fetch', context, args);
}

/** Why a v2 response can be empty, for messages. */
export const EMPTY_RESPONSE = 'the server sent nothing, as a server that does not speak Git protocol v2 (or one that failed) does with a protocol v2 request.';

/**
 * Read an `ls-refs` response body: ref lines up to the flush-pkt.
 * @throws {GitServerError} on an `ERR` line; {@link ProtocolVersionError} on a v0-style line.
 */
export async function readLsRefsResponse(body: AsyncIterable<Uint8Array>): Promise<RemoteRef[]> {
  const reader = new PktLineReader(body);
  try {
    const refs: RemoteRef[] = [];
    for (;;) {
      const line = await reader.next();
      if (line === undefined) {
        throw new GitProtocolError(refs.length === 0 ? `The ls-refs response is empty: ${EMPTY_RESPONSE}` : 'The ls-refs response ended without its flush-pkt.');
      }
      if (line.kind === 'flush') {
        await reader.expectEnd();
        return refs;
      }
      if (line.kind !== 'data') throw new GitProtocolError(`Unexpected ${line.kind} packet in the ls-refs response.`);
      throwIfErrLine(line.data, 'in answer to ls-refs');
      refs.push(parseRefLine(pktText(line.data)));
    }
  } finally {
    await reader.close();
  }
}

/** Parse `<oid|unborn> <name>( symref-target:<t>| peeled:<oid>)*`. Pure. */
export function parseRefLine(text: string): RemoteRef {
  if (text.startsWith('# service=') || text.includes('\0')) {
    throw new ProtocolVersionError('The server answered ls-refs with a protocol v0/v1 reference advertisement; hostsync needs Git protocol v2.');
  }
  const [id = '', name = '', ...attributes] = text.split(' ');
  if ((id !== 'unborn' && !isObjectId(id)) || name === '') throw new GitProtocolError(`Malformed ls-refs line ${JSON.stringify(text)}.`);
  let ref: RemoteRef = { name, oid: id === 'unborn' ? undefined : id };
  for (const attribute of attributes) {
    if (attribute.startsWith('symref-target:')) ref = { ...ref, symrefTarget: attribute.slice('symref-target:'.length) };
    else if (attribute.startsWith('peeled:')) {
      const peeled = attribute.slice('peeled:'.length);
      assertObjectId(peeled, 'a peeled ref target');
      ref = { ...ref, peeled };
    }
    // Unknown attributes are skipped: the protocol may add more.
  }
  return ref;
}
