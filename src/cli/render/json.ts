/**
 * The envelope of every `--json` document (docs/output.md): `format` (bumped when a field changes
 * meaning or goes away; new fields do not bump it), the command, `ok`, then the command's fields.
 * A failed run prints one too: `{format, command, ok: false, error: {message, exitCode}}`.
 */

/** The version of the `--json` shapes. */
export const JSON_FORMAT = 1;

/** A command's document with the envelope in front. */
export function jsonDocument(command: string, body: { readonly ok: boolean } & Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { format: JSON_FORMAT, command, ...body };
}

/** The error object of a failed run. */
export function jsonError(message: string, exitCode: number): { message: string; exitCode: number } {
  return { message, exitCode };
}

/** The document of a run that failed before (or instead of) printing its own. */
export function failureDocument(command: string | undefined, message: string, exitCode: number): Record<string, unknown> {
  return { format: JSON_FORMAT, command: command ?? null, ok: false, error: jsonError(message, exitCode) };
}
