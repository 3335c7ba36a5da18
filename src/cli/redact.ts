/**
 * Secrets never reach output: every line hostsync prints passes through `redact`, which replaces
 * any registered secret (the token, once loaded) with `***`.
 */
const secrets = new Set<string>();

/** Remember a value that must never be printed. Short values are ignored (they'd redact noise). */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 8) secrets.add(value);
}

/** `text` with every registered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
