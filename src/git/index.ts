/**
 * The git wire client: fetch thin, delta-compressed packs over smart HTTP (protocol v2) and stream
 * their objects into a store, with no git binary. How it works and what it measured:
 * docs/decisions/0004-git-wire-protocol.md.
 */
export { fetchPack, lsRefs, type FetchPackOptions, type FetchPackResult, type GitCallOptions, type LsRefsOptions } from './fetch-pack.js';
export { createGitHttpTransport, type GitHttpTransport, type GitHttpTransportOptions, type TransportStats } from './http-transport.js';
export { hasCapability, hasFeature, parseCapabilityLines, type Capabilities } from './capabilities.js';
export type { FetchRequest, LsRefsRequest, RemoteRef } from './upload-pack.js';
export { readPack, type PackCounts, type PackSummary, type ReadPackOptions } from './pack.js';
export type { BaseProvider, BlobWriter, PackObjectSink, StoredObject, WholeObject } from './object-sink.js';
export { MemoryObjectStore, type MemoryObject } from './memory-store.js';
export { assertObjectId, createObjectHasher, decodeUtf8Strict, hashObject, isObjectId, type ObjectHasher, type ObjectType } from './objects.js';
export { CANONICAL_MODES, compareTreeEntries, entryKind, parseTree, serializeTree, type EntryKind, type TreeEntry } from './tree.js';
export { commitHeader, parseCommit, serializeCommit, type Commit, type CommitHeader, type Signature } from './commit.js';
export {
  DeltaError,
  GitHttpError,
  GitProtocolError,
  GitServerError,
  GitTransportError,
  MissingBasesError,
  ObjectFormatError,
  PackError,
  PktLineError,
  ProtocolVersionError,
} from './errors.js';
