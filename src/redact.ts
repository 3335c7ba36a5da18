/**
 * The one redactor. Every channel hostsync writes to — log lines, failure lines, `--json`, the
 * metrics file, messages of errors from git or the network — passes through a redactor that knows
 * the run's secrets, so a token never leaves the process in any form it may take on the wire:
 * as given, each whitespace-separated piece of it, URL-encoded, and inside an HTTP Basic
 * credential (`base64("x-access-token:<token>")`, what git and GitHub's git endpoints receive).
 * Passwords in URLs (`https://user:secret@proxy`) are masked whatever they are.
 */

/** Pieces shorter than this are too common to hide without mangling ordinary messages. */
export const MIN_SECRET_LENGTH = 8;

/** User names hostsync sends a token under in HTTP Basic auth (GitHub, Gitea/Forgejo, GitLab). */
const BASIC_USERS = ['x-access-token', 'oauth2', 'git', 'hostsync'];

/** Replaces secrets with `***`; `add` registers more (the token, once read; a minted App token). */
export interface Redactor {
  (text: string): string;
  add(secret: string | undefined): void;
}

/** The forms one secret can take in output. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  const trimmed = secret.trim();
  for (const piece of [trimmed, ...trimmed.split(/\s+/)]) if (piece.length >= MIN_SECRET_LENGTH) forms.add(piece);
  if (trimmed.length >= MIN_SECRET_LENGTH) {
    forms.add(encodeURIComponent(trimmed));
    for (const user of BASIC_USERS) forms.add(Buffer.from(`${user}:${trimmed}`).toString('base64'));
  }
  return [...forms];
}

/** `scheme://user:password@host` → `scheme://user:***@host`. */
function maskUrlPasswords(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):([^\s/@]+)@/gi, '$1:***@');
}

/** A redactor for `secrets` (undefined and short values are ignored). */
export function createRedactor(secrets: Iterable<string | undefined> = []): Redactor {
  let ordered: string[] = [];
  const all = new Set<string>();
  const add = (secret: string | undefined): void => {
    if (secret === undefined) return;
    let grew = false;
    for (const form of secretForms(secret)) {
      if (!all.has(form)) {
        all.add(form);
        grew = true;
      }
    }
    // Longest first, so a whole secret is replaced before any piece of it.
    if (grew) ordered = [...all].sort((a, b) => b.length - a.length);
  };
  for (const secret of secrets) add(secret);
  const redact = ((text: string): string => {
    let out = maskUrlPasswords(text);
    for (const form of ordered) if (out.includes(form)) out = out.split(form).join('***');
    return out;
  }) as Redactor;
  redact.add = add;
  return redact;
}
