/**
 * Typed failures of the git wire client. Each one is a {@link HostsyncError} (exit 1): a server
 * that speaks the wrong protocol, a broken pkt-line stream, an HTTP status, an error the server
 * reported, or a pack that is not exactly what it claims to be. Messages name the value at fault.
 */
import { HostsyncError } from '../errors.js';

/** The bytes on the wire break git's framing or the protocol v2 grammar. */
export class GitProtocolError extends HostsyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, undefined, options);
    this.name = 'GitProtocolError';
  }
}

/** A pkt-line with a hostile or impossible length, or a stream cut inside a pkt-line. */
export class PktLineError extends GitProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'PktLineError';
  }
}

/** The server answered a protocol v2 request in v0/v1 (or as a dumb HTTP server). */
export class ProtocolVersionError extends GitProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolVersionError';
  }
}

/** The server reported a failure: an `ERR` pkt-line, or side-band channel 3. */
export class GitServerError extends GitProtocolError {
  /** The server's own text, trimmed. */
  readonly serverMessage: string;
  constructor(serverMessage: string, where: string) {
    super(`The git server reported an error ${where}: ${serverMessage}`);
    this.name = 'GitServerError';
    this.serverMessage = serverMessage;
  }
}

/** An HTTP status other than 200 from the smart-HTTP endpoint. */
export class GitHttpError extends HostsyncError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'GitHttpError';
    this.status = status;
  }
}

/** The connection failed: refused, reset, cut mid-body, timed out. Worth a retry, unlike the others. */
export class GitTransportError extends HostsyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, undefined, options);
    this.name = 'GitTransportError';
  }
}

/** A pack that is corrupt, truncated, or inconsistent with its own header or trailer. */
export class PackError extends HostsyncError {
  /** Byte offset in the pack where the problem was found, when known. */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number, options?: { cause?: unknown }) {
    super(offset === undefined ? message : `${message} (pack offset ${offset})`, undefined, options);
    this.name = 'PackError';
    this.offset = offset;
  }
}

/** A delta whose instructions do not fit its base or its declared result. */
export class DeltaError extends PackError {
  constructor(message: string, offset?: number) {
    super(message, offset);
    this.name = 'DeltaError';
  }
}

/** REF_DELTA bases found neither in the pack nor through the base provider (a thin pack we cannot complete). */
export class MissingBasesError extends PackError {
  /** The base object ids that could not be found, sorted. */
  readonly missing: readonly string[];
  constructor(missing: readonly string[]) {
    const list = missing.slice(0, 10).join(', ') + (missing.length > 10 ? `, … (${missing.length} in all)` : '');
    super(
      `The pack has deltas against ${missing.length} object(s) that are neither in the pack nor available locally: ${list}. ` +
        'Fetch again without `have` lines (a full fetch) so the server sends them.',
    );
    this.name = 'MissingBasesError';
    this.missing = missing;
  }
}

/** A tree, commit or object name that does not parse as git writes it. */
export class ObjectFormatError extends HostsyncError {
  constructor(message: string) {
    super(message);
    this.name = 'ObjectFormatError';
  }
}
