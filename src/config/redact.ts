/**
 * Belt and braces for the rule that a token never appears in a message: should a user paste it
 * into another setting (a repository, a ref), the messages about that setting still hide it.
 */

/** Pieces shorter than this are too common to hide without mangling ordinary messages. */
const MIN_SECRET_LENGTH = 8;

/** A function that replaces every occurrence of the secrets (and of each whitespace-separated piece of them) with `***`. */
export function createRedactor(secrets: readonly (string | undefined)[]): (message: string) => string {
  const pieces = new Set<string>();
  for (const secret of secrets) {
    if (secret === undefined) continue;
    for (const piece of [secret.trim(), ...secret.split(/\s+/)]) {
      if (piece.length >= MIN_SECRET_LENGTH) pieces.add(piece);
    }
  }
  // Longest first, so a whole secret is replaced before any piece of it.
  const ordered = [...pieces].sort((a, b) => b.length - a.length);
  return (message) => ordered.reduce((text, piece) => text.split(piece).join('***'), message);
}
