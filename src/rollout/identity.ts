/**
 * Who this host is, for its rollout wave and the `%H`/`%I` of a ref: the configured `hostId`, else
 * an id derived from /etc/machine-id, else the host name. The machine id itself never leaves the
 * host: systemd asks applications to use a keyed hash of it, not the id
 * (https://www.freedesktop.org/software/systemd/man/latest/machine-id.html), so the id is
 * HMAC-SHA256(machine id, "hostsync rollout"), 16 hex digits of it.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { hostIdProblem } from '../config/rollout.js';

export type HostIdSource = 'config' | 'machine-id' | 'hostname';

export interface HostIdentity {
  /** The id waves are derived from, and `%I`. */
  readonly hostId: string;
  readonly source: HostIdSource;
  /** The host name, `%H`. */
  readonly hostName: string;
}

/** Where the identity comes from; tests replace them. */
export interface IdentityDeps {
  /** @default '/etc/machine-id' */
  readonly machineIdFile?: string | undefined;
  /** @default os.hostname */
  readonly hostname?: (() => string) | undefined;
}

export const MACHINE_ID_FILE = '/etc/machine-id';

/** The id derived from a machine id: a keyed hash, so the machine id itself is never shown or sent. */
export function hostIdFromMachineId(machineId: string): string {
  return createHmac('sha256', machineId.trim().toLowerCase()).update('hostsync rollout').digest('hex').slice(0, 16);
}

/** A host name as a host id: lower case, anything outside [a-z0-9._-] as '-'. */
export function hostIdFromHostName(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/\.{2,}/g, '.').replace(/^[^a-z0-9]+/, '').slice(0, 64).replace(/(\.lock|\.)+$/, '');
  return cleaned === '' || hostIdProblem(cleaned) !== undefined ? 'unnamed-host' : cleaned;
}

/** This host's identity: `configured` when set, else from the machine id, else from the host name. */
export async function hostIdentity(configured: string | undefined, deps: IdentityDeps = {}): Promise<HostIdentity> {
  const hostName = (deps.hostname ?? os.hostname)();
  if (configured !== undefined) return { hostId: configured, source: 'config', hostName };
  const machineId = await readFile(deps.machineIdFile ?? MACHINE_ID_FILE, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  // systemd writes 32 lower-case hex digits; "uninitialized" (first boot) or an empty file is no id.
  if (/^[0-9a-f]{32}$/i.test(machineId)) return { hostId: hostIdFromMachineId(machineId), source: 'machine-id', hostName };
  return { hostId: hostIdFromHostName(hostName), source: 'hostname', hostName };
}
