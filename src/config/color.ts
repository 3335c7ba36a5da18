/**
 * Whether output should be coloured. Not part of {@link Config}: the CLI asks this directly,
 * but the environment is read here because src/config is its only reader.
 * Follows Node's own rules (https://nodejs.org/api/cli.html#force_color1-2-3):
 * `FORCE_COLOR` wins over `NO_COLOR` (https://no-color.org), which wins over the terminal.
 */

/**
 * `true` when colour is wanted: `FORCE_COLOR` set to anything but `0`/`false` forces it on
 * (`0`/`false` forces it off); otherwise a non-empty `NO_COLOR` or `TERM=dumb` turns it off;
 * otherwise colour follows whether the stream is a terminal.
 */
export function wantsColor(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  const noColor = env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return isTTY;
}
