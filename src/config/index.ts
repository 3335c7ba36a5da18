/**
 * The public face of src/config: what other modules import. See docs/configuration.md.
 */

export type * from './types.js';
export { wantsColor } from './color.js';
export { CONFIG_KEYS, DEFAULTS, HOOK_KEYS, KNOWN_PRESETS, LAYOUTS, RANGES, REBUILD_KEYS, REBUILD_WHEN, envNameOf, kebabOf } from './keys.js';
export type { IntegerRange, KeySpec } from './keys.js';
export { DEFAULT_CONFIG_FILE, colorWanted, loadConfig, processEnv, tryReadConfigFile } from './load.js';
export type { LoadOptions } from './load.js';
export { defaultStateDir, parseConfig, resolveTokenFile } from './parse.js';
export { CREDENTIAL_NAME, discoverToken } from './token.js';
export type { TokenDiscovery, TokenDiscoveryInput } from './token.js';
export { readFileWithMode } from './files.js';
export type { FileContent, ReadFileFn } from './files.js';
