/**
 * Facts about where output goes that the CLI needs before and after config loads (and the entry
 * point when it prints a failure), so they are not part of Config. A module of its own with no
 * imports: main.ts needs it for every failure line and should not load the config parser for that.
 * The environment is read here because src/config is its only reader.
 */

/**
 * systemd's `JOURNAL_STREAM`: "DEV:INODE" of the stream a service's stdout/stderr were connected to
 * (https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#%24JOURNAL_STREAM).
 */
export function journalStream(env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const value = env['JOURNAL_STREAM'];
  return value === undefined || value === '' ? undefined : value;
}

/** `TERM=dumb`: a terminal that cannot erase a line, so no spinners or progress bar. */
export function isDumbTerminal(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return env['TERM'] === 'dumb';
}
