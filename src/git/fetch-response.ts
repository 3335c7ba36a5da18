/**
 * Reading a protocol v2 `fetch` response: its sections (`acknowledgments`, `shallow-info`,
 * `wanted-refs`) and then the `packfile` section, whose side-band is demultiplexed as it streams —
 * 1: pack bytes, handed on as views of the received chunks; 2: progress text; 3: a fatal error.
 * @see https://git-scm.com/docs/gitprotocol-v2#_fetch
 */
import { GitProtocolError, GitServerError, ProtocolVersionError } from './errors.js';
import { isObjectId } from './objects.js';
import { PktLineReader, pktText, throwIfErrLine } from './pkt-line.js';
import { EMPTY_RESPONSE } from './upload-pack.js';

/** Negotiation results (only sent when the request did not say `done`). */
export interface Acknowledgments {
  readonly acks: readonly string[];
  readonly nak: boolean;
  readonly ready: boolean;
}

/** A fetch response up to the start of its pack. */
export interface FetchResponse {
  readonly acknowledgments: Acknowledgments | undefined;
  /** Commits whose parents were not sent: the new shallow boundary. */
  readonly shallow: readonly string[];
  /** Commits the client said were shallow and no longer are. */
  readonly unshallow: readonly string[];
  readonly wantedRefs: readonly { readonly oid: string; readonly name: string }[];
  /**
   * The pack bytes (side-band 1), streamed: iterate it to the end to read the rest of the
   * response. `undefined` when the response has no packfile section.
   */
  readonly pack: AsyncIterable<Buffer> | undefined;
}

/** Options of {@link readFetchResponse}. */
export interface FetchResponseOptions {
  /** Progress text from side-band 2 (git's "Counting objects…" lines, with their \r). */
  readonly onProgress?: (text: string) => void;
}

const SECTIONS = new Set(['acknowledgments', 'shallow-info', 'wanted-refs', 'packfile-uris', 'packfile']);

/**
 * Read a fetch response body's sections up to the packfile, which is returned as a stream.
 * @throws {GitServerError} on an `ERR` line or a side-band 3 message (from the pack stream).
 * @throws {ProtocolVersionError} when the answer is a v0/v1 one (`NAK`, `ACK`, `shallow` lines first).
 */
export async function readFetchResponse(body: AsyncIterable<Uint8Array>, options: FetchResponseOptions = {}): Promise<FetchResponse> {
  const reader = new PktLineReader(body);
  let handedOver = false;
  try {
    let acknowledgments: Acknowledgments | undefined;
    const shallow: string[] = [];
    const unshallow: string[] = [];
    const wantedRefs: { oid: string; name: string }[] = [];
    for (let first = true; ; first = false) {
      const header = await reader.next();
      if (header === undefined) throw new GitProtocolError(first ? `The fetch response is empty: ${EMPTY_RESPONSE}` : 'The fetch response ended between two sections.');
      if (header.kind !== 'data') throw new GitProtocolError(`Expected a section header in the fetch response, got a ${header.kind} packet.`);
      throwIfErrLine(header.data, 'in answer to fetch');
      const name = pktText(header.data);
      if (!SECTIONS.has(name)) {
        if (first && /^(NAK|ACK |shallow |unshallow |PACK)/.test(name)) {
          throw new ProtocolVersionError(`The server answered the fetch in protocol v0/v1 (its first line is ${JSON.stringify(name.slice(0, 60))}); hostsync needs Git protocol v2.`);
        }
        throw new GitProtocolError(`Unknown section ${JSON.stringify(name.slice(0, 60))} in the fetch response.`);
      }
      if (name === 'packfile') {
        handedOver = true;
        return { acknowledgments, shallow, unshallow, wantedRefs, pack: demultiplexPack(reader, options) };
      }
      const lines: string[] = [];
      let end = await reader.next();
      for (; end?.kind === 'data'; end = await reader.next()) {
        throwIfErrLine(end.data, `in the ${name} section of the fetch response`);
        lines.push(pktText(end.data));
      }
      if (end === undefined) throw new GitProtocolError(`The fetch response ended inside its ${name} section.`);
      if (name === 'acknowledgments') acknowledgments = parseAcknowledgments(lines);
      else if (name === 'shallow-info') parseShallowInfo(lines, shallow, unshallow);
      else if (name === 'wanted-refs') for (const line of lines) wantedRefs.push(parseWantedRef(line));
      // packfile-uris is never requested, so a server sending it is ignoring the request.
      else throw new GitProtocolError('The server sent a packfile-uris section that was not asked for.');
      if (end.kind === 'flush') {
        await reader.expectEnd();
        return { acknowledgments, shallow, unshallow, wantedRefs, pack: undefined };
      }
      if (end.kind !== 'delim') throw new GitProtocolError(`Unexpected ${end.kind} packet after the ${name} section.`);
    }
  } finally {
    if (!handedOver) await reader.close();
  }
}

function parseAcknowledgments(lines: readonly string[]): Acknowledgments {
  const acks: string[] = [];
  let nak = false;
  let ready = false;
  for (const line of lines) {
    if (line === 'NAK') nak = true;
    else if (line === 'ready') ready = true;
    else if (line.startsWith('ACK ') && isObjectId(line.slice(4))) acks.push(line.slice(4));
    else throw new GitProtocolError(`Malformed acknowledgments line ${JSON.stringify(line)}.`);
  }
  return { acks, nak, ready };
}

function parseShallowInfo(lines: readonly string[], shallow: string[], unshallow: string[]): void {
  for (const line of lines) {
    const [kind, id = '', ...rest] = line.split(' ');
    if (rest.length === 0 && isObjectId(id) && kind === 'shallow') shallow.push(id);
    else if (rest.length === 0 && isObjectId(id) && kind === 'unshallow') unshallow.push(id);
    else throw new GitProtocolError(`Malformed shallow-info line ${JSON.stringify(line)}.`);
  }
}

function parseWantedRef(line: string): { oid: string; name: string } {
  const space = line.indexOf(' ');
  const oid = line.slice(0, space);
  if (space === -1 || !isObjectId(oid)) throw new GitProtocolError(`Malformed wanted-refs line ${JSON.stringify(line)}.`);
  return { oid, name: line.slice(space + 1) };
}

/**
 * The packfile section's packets, side-band 1 payloads yielded as views of the received chunks
 * (never copied), until the flush-pkt that ends the response. Side-band 2 goes to `onProgress`;
 * side-band 3 throws the server's message.
 */
async function* demultiplexPack(reader: PktLineReader, options: FetchResponseOptions): AsyncGenerator<Buffer, void, undefined> {
  try {
    for (;;) {
      const header = await reader.nextHeader();
      if (header === undefined) throw new GitProtocolError('The fetch response ended inside the packfile section, before its flush-pkt (connection cut?).');
      if (header.kind === 'flush') break;
      if (header.kind !== 'data') throw new GitProtocolError(`Unexpected ${header.kind} packet in the packfile section.`);
      if (header.length === 0) throw new GitProtocolError('Empty packet without a side-band number in the packfile section.');
      const band = (await reader.payload(header, 1))[0];
      if (band === 1) {
        yield* reader.pieces(header, header.length - 1);
        continue;
      }
      const rest = await reader.payload(header, header.length - 1);
      if (band === 2) {
        if (rest.length > 0) options.onProgress?.(rest.toString('utf8'));
      } else if (band === 3) {
        throw new GitServerError(rest.toString('utf8').trim(), 'while sending the pack (side-band 3)');
      } else {
        throwIfErrLine(Buffer.concat([Buffer.from([band ?? 0]), rest]), 'while sending the pack');
        throw new GitProtocolError(`Packet with side-band ${band ?? '(none)'} in the packfile section; only 1, 2 and 3 exist.`);
      }
    }
    await reader.expectEnd();
  } finally {
    await reader.close();
  }
}
