/**
 * The protocol v2 capability advertisement — the answer to `GET info/refs?service=git-upload-pack`
 * with `Git-Protocol: version=2`: `version 2`, then `key[=value]` lines, then a flush. A server
 * that answers with a ref advertisement instead (`# service=…`, `<oid> HEAD\0caps…`) speaks v0/v1.
 * @see https://git-scm.com/docs/gitprotocol-v2#_capability_advertisement
 */
import { GitProtocolError, ProtocolVersionError } from './errors.js';
import { PktLineReader, pktText, type PktLine } from './pkt-line.js';

/** What a v2 server offers. */
export interface Capabilities {
  /** Every capability line as sent, e.g. `agent=git/2.39.5`, `fetch=shallow wait-for-done filter`. */
  readonly lines: readonly string[];
  /** The server's agent string, if advertised (then, and only then, may the client send its own). */
  readonly agent: string | undefined;
  /** Hash algorithms from `object-format=…`; empty when not advertised (SHA-1 implied). */
  readonly objectFormats: readonly string[];
  /** Commands (`ls-refs`, `fetch`, …) and the features each advertises. */
  readonly commands: ReadonlyMap<string, ReadonlySet<string>>;
}

/** True when the server advertised `command` with `feature` (e.g. `fetch`, `shallow`). */
export function hasFeature(capabilities: Capabilities, command: string, feature: string): boolean {
  return capabilities.commands.get(command)?.has(feature) === true;
}

/** True when the server's advertisement names `key` (with or without a value). */
export function hasCapability(capabilities: Capabilities, key: string): boolean {
  return capabilities.lines.some((line) => line === key || line.startsWith(`${key}=`));
}

const V0_MESSAGE =
  'The server answered with a protocol v0/v1 reference advertisement, not protocol v2. hostsync only speaks ' +
  'Git protocol v2 (git ≥ 2.18 on the server, with protocol v2 allowed and the Git-Protocol header passed to it).';

/**
 * Read the advertisement from the response body.
 * @throws {ProtocolVersionError} when the server speaks v0/v1.
 * @throws {GitProtocolError} when the advertisement is cut short or malformed.
 */
export async function readCapabilities(body: AsyncIterable<Uint8Array>): Promise<Capabilities> {
  const reader = new PktLineReader(body);
  try {
    return await readAdvertisement(reader);
  } finally {
    await reader.close();
  }
}

async function readAdvertisement(reader: PktLineReader): Promise<Capabilities> {
  let first: PktLine | undefined = await reader.next();
  // git's own client tolerates a "# service=" header (some servers send it in v2 too), then a flush.
  if (first?.kind === 'data' && pktText(first.data).startsWith('# service=')) {
    const flush = await reader.next();
    if (flush?.kind !== 'flush') throw new GitProtocolError('The advertisement has no flush-pkt after its "# service=" line.');
    first = await reader.next();
  }
  if (first === undefined) throw new GitProtocolError('The capability advertisement is empty.');
  if (first.kind !== 'data') throw new ProtocolVersionError(`${V0_MESSAGE} (It sent a ${first.kind} packet first, as a v0 server with no refs does.)`);
  const version = pktText(first.data);
  if (version !== 'version 2') {
    throw new ProtocolVersionError(version.startsWith('version ') ? `The server speaks protocol ${version.slice(8)}, not 2. ${V0_MESSAGE}` : V0_MESSAGE);
  }
  const capabilityLines: string[] = [];
  for (let line = await reader.next(); ; line = await reader.next()) {
    if (line === undefined) throw new GitProtocolError('The capability advertisement ended without its flush-pkt.');
    if (line.kind === 'flush') break;
    if (line.kind !== 'data') throw new GitProtocolError(`Unexpected ${line.kind} packet in the capability advertisement.`);
    capabilityLines.push(pktText(line.data));
  }
  await reader.expectEnd();
  return parseCapabilityLines(capabilityLines);
}

/** Build {@link Capabilities} from the advertised lines. Pure. */
export function parseCapabilityLines(lines: readonly string[]): Capabilities {
  let agent: string | undefined;
  const objectFormats: string[] = [];
  const commands = new Map<string, Set<string>>();
  for (const line of lines) {
    const equals = line.indexOf('=');
    const key = equals === -1 ? line : line.slice(0, equals);
    const value = equals === -1 ? '' : line.slice(equals + 1);
    if (key === 'agent') agent = value;
    else if (key === 'object-format') objectFormats.push(...value.split(' ').filter((v) => v !== ''));
    else commands.set(key, new Set(value.split(' ').filter((v) => v !== '')));
  }
  return { lines: [...lines], agent, objectFormats, commands };
}
