/**
 * The network settings every HTTP edge of a run is built from (decision 0008): the proxies and the
 * extra CA file. Taken from the config once; no undici here, so the unchanged poll can read them.
 */
import type { Config } from '../config/types.js';
import { proxyPassword, type ProxySettings } from './proxy-rules.js';

/** What a dispatcher (dispatcher.ts) and the poll's `node:https` request are built from. */
export interface NetSettings {
  /** Undefined: every request goes direct. */
  readonly proxy: ProxySettings | undefined;
  /** PEM file of extra CAs, trusted besides Node's roots. */
  readonly caFile: string | undefined;
}

/** Direct connections, Node's roots. */
export const DIRECT: NetSettings = { proxy: undefined, caFile: undefined };

/** The network settings of a config. */
export function netSettingsOf(config: Pick<Config, 'proxy' | 'caFile'>): NetSettings {
  return { proxy: config.proxy, caFile: config.caFile };
}

/**
 * Secrets of the network settings for the run's redactor: the proxies' passwords, and the token's
 * HTTP Basic form under a custom gitUser (the redactor knows the usual user names already).
 */
export function networkSecrets(config: Pick<Config, 'proxy' | 'gitUser' | 'token'>): string[] {
  const secrets: string[] = [];
  for (const proxy of [config.proxy?.http, config.proxy?.https]) {
    const password = proxyPassword(proxy);
    if (password !== undefined) secrets.push(password);
  }
  const token = config.token?.value;
  if (token !== undefined && token !== '') secrets.push(Buffer.from(`${config.gitUser}:${token}`).toString('base64'));
  return secrets;
}
