/** An opened destination for tests of code that works on one (restore, plan, apply), with defaults. */
import { openDestination, type Destination, type DestinationSettings } from '../../src/apply/destination.js';
import type { Logger } from '../../src/model.js';

/** Settings of a plain destination; override what a test is about. */
export function destinationSettings(dest: string, stateDir: string, overrides: Partial<DestinationSettings> = {}): DestinationSettings {
  return { dest, stateDir, layout: 'inplace', lockTimeout: 0, owner: undefined, group: undefined, prune: false, allowSystemDest: false, historyLimit: 5, backupLimitMb: 256, ...overrides };
}

/** Open `dest` for writing, without the lock (tests hold no competing runs). Close it in afterEach. */
export function openTestDestination(dest: string, stateDir: string, overrides: Partial<DestinationSettings> = {}, log: Logger = () => undefined): Promise<Destination> {
  return openDestination(destinationSettings(dest, stateDir, overrides), { log, lock: false, write: true });
}
