/**
 * A dispatcher made on first use: undici (~150 ms of start-up, ~17 MB) and `net/dispatcher.ts` are
 * imported only when an edge sends its first request, so a run that never does — an unchanged poll,
 * whose one request is on node:http — never loads them. Shared by the REST, LFS and git HTTP edges.
 */
import type { Dispatcher } from 'undici';
import type { DispatcherOptions } from './dispatcher.js';
import type { NetSettings } from './settings.js';

export interface LazyDispatcher {
  /** The dispatcher, made on the first call (rejects when it cannot be, e.g. an unreadable caFile). */
  get(): Promise<Dispatcher>;
  /** Close it if it was made; one that could not be made has nothing to close. */
  close(): Promise<void>;
}

export function lazyDispatcher(net: NetSettings, options: DispatcherOptions): LazyDispatcher {
  let made: Promise<Dispatcher> | undefined;
  return {
    get: () => (made ??= import('./dispatcher.js').then(({ createDispatcher }) => createDispatcher(net, options))),
    async close() {
      const dispatcher = await made?.catch(() => undefined);
      made = undefined;
      await dispatcher?.close();
    },
  };
}
