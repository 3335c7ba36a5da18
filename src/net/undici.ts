/**
 * undici, as one module of ours: the HTTP edges import this one lazily (`await import('./undici.js')`),
 * never `undici` itself, so a bundle can split undici into a chunk that only runs that need it load.
 * (A bundler gives a lazily imported CommonJS package only a default export; this module has named ones.)
 */
export { Agent, fetch, ProxyAgent, request } from 'undici';
export type { Dispatcher } from 'undici';
