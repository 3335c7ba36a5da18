/**
 * The single executable's entry (scripts/build-binary.ts): the CLI's bundle is an asset of the
 * executable, compiled with the same V8 code cache as bin/hostsync.js's (code-cache.ts, decision 0017)
 * and known by the executable file itself — a new build is a new file. Node's built-ins only.
 */
import { statSync, type Stats } from 'node:fs';
import { getAsset } from 'node:sea';
import { runSource, SEA_BUNDLE_ASSET } from './code-cache.js';

/** The executable's stat data, for the cache's name; undefined (then no cache) when it cannot be had. */
function executable(): Stats | undefined {
  try {
    return statSync(process.execPath);
  } catch {
    return undefined; // replaced since it started ("… (deleted)"), no /proc: compile from source
  }
}

runSource(
  { source: getAsset(SEA_BUNDLE_ASSET, 'utf8'), identity: executable(), filename: `${process.execPath}/${SEA_BUNDLE_ASSET}`, requireFrom: process.execPath },
  process.argv,
);
