/**
 * The certificate authorities every HTTPS connection of a run trusts: Node's bundled roots plus the
 * PEM file of the `caFile` setting (a GitHub Enterprise Server or git host signed by an internal
 * CA, a TLS-inspecting proxy). Given to undici (`connect.ca`, `requestTls.ca`) and to the poll's
 * `node:https` request alike, so it works in the single executable too, where
 * NODE_EXTRA_CA_CERTS is read only at startup and only if set in the environment. No undici here:
 * the unchanged poll imports this module.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { HostsyncError } from '../errors.js';

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

const cache = new Map<string, readonly string[]>();

/**
 * Node's roots and the certificates of `file` (read once per process). Throws a HostsyncError
 * naming the file when it cannot be read or holds no PEM certificate.
 */
export function caBundle(file: string): readonly string[] {
  const known = cache.get(file);
  if (known !== undefined) return known;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : String(error);
    throw new HostsyncError(`Cannot read caFile ${file} (${code}). Point caFile at a readable PEM file of your CA's certificate(s).`, 2, { cause: error });
  }
  const certificates = text.match(PEM) ?? [];
  if (certificates.length === 0) {
    throw new HostsyncError(`caFile ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----). Convert a DER file with: openssl x509 -inform der -in CA.cer -out ca.pem`, 2);
  }
  const bundle = [...rootCertificates, ...certificates];
  cache.set(file, bundle);
  return bundle;
}
