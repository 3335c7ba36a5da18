/**
 * The allowed-signers file of git's `gpg.ssh.allowedSignersFile`, parsed as OpenSSH reads it
 * (ssh-keygen(1), "ALLOWED SIGNERS"; `parse_principals_key_and_options` in sshsig.c):
 *
 *     principals [options] keytype base64-key [comment]
 *
 * principals is a comma-separated pattern list (may be quoted); options are `cert-authority`,
 * `namespaces="…"`, `valid-after="…"`, `valid-before="…"`; `#` comments and blank lines are skipped.
 * Pure: text in, entries and per-line errors out. Where OpenSSH would skip a bad line and go on,
 * this refuses it, so a typo in a pinned key cannot silently unpin a signer.
 */
import { SshFormatError } from './errors.js';
import { parseSshPublicKey, sshFingerprint, sshKeyType } from './ssh-key.js';

/** One line of an allowed-signers file. */
export interface AllowedSigner {
  /** 1-based line number in the file, for messages. */
  readonly line: number;
  /** The principals as written: a comma-separated OpenSSH pattern list, e.g. `alice@example.com,ci-*`. */
  readonly principals: string;
  /** `cert-authority`: the key signs certificates rather than commits. */
  readonly certAuthority: boolean;
  /** `namespaces="…"` pattern list, or undefined when the key may sign for any namespace. */
  readonly namespaces: string | undefined;
  /** `valid-after` as epoch seconds (signatures at an earlier committer time are refused). */
  readonly validAfter: number | undefined;
  /** `valid-before` as epoch seconds (signatures at a later committer time are refused). */
  readonly validBefore: number | undefined;
  /** The key type token, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** The key blob in wire format: what a signature's embedded key is compared with. */
  readonly publicKey: Buffer;
  /** `SHA256:…` of the key. */
  readonly fingerprint: string;
  readonly comment: string | undefined;
}

/** A problem on one line; `message` names the file and line and says what to change. */
export interface AllowedSignersIssue {
  readonly line: number;
  readonly message: string;
}

/** Result of {@link parseAllowedSigners}: the entries of the good lines, and what is wrong with the others. */
export interface AllowedSignersParse {
  readonly entries: readonly AllowedSigner[];
  /** Lines that do not parse; a file with any is refused by the loader. */
  readonly errors: readonly AllowedSignersIssue[];
  /** Lines that parse but can never let a commit through (unsupported key type, `cert-authority`). */
  readonly warnings: readonly AllowedSignersIssue[];
}

/** Options of {@link parseAllowedSigners}. */
export interface ParseAllowedSignersOptions {
  /**
   * Turns a local wall-clock time (a `valid-after`/`valid-before` without `Z`) into epoch seconds.
   * OpenSSH uses the host's time zone, and so does the default; tests pass a fixed zone.
   * @default local time of this process
   */
  readonly localTime?: (year: number, month: number, day: number, hour: number, minute: number, second: number) => number;
}

/** Key types OpenSSH recognises at the start of a key (`peek_type_nid`), certificates included. */
const KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ecdsa-sha2-nistp256@openssh\.com|sk-ssh-ed25519@openssh\.com|ssh-xmss@openssh\.com)(-cert-v01@openssh\.com)?$/;
const KEY_TYPE_CERT = /-cert-v01@openssh\.com$/;
const FORMAT_HINT = 'expected `principals [options] keytype base64-key [comment]`, e.g. `alice@example.com namespaces="git" ssh-ed25519 AAAAC3Nza…`';
const OPTION_NAMES = 'cert-authority, namespaces="…", valid-after="…", valid-before="…"';

const defaultLocalTime: NonNullable<ParseAllowedSignersOptions['localTime']> = (year, month, day, hour, minute, second) =>
  new Date(year, month - 1, day, hour, minute, second).getTime() / 1000;

/** Parse the text of an allowed-signers file; `file` is only used in messages. */
export function parseAllowedSigners(text: string, file: string, options: ParseAllowedSignersOptions = {}): AllowedSignersParse {
  const localTime = options.localTime ?? defaultLocalTime;
  const entries: AllowedSigner[] = [];
  const errors: AllowedSignersIssue[] = [];
  const warnings: AllowedSignersIssue[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/^[ \t\r]+/, '').replace(/\r$/, '');
    if (content === '' || content.startsWith('#')) return;
    const where = `${file} line ${line}`;
    try {
      const entry = parseLine(content, line, localTime);
      entries.push(entry);
      const unusable = unusableReason(entry);
      if (unusable !== undefined) warnings.push({ line, message: `${where}: ${unusable}; commits signed with this key will be refused.` });
    } catch (error) {
      if (!(error instanceof LineError || error instanceof SshFormatError)) throw error;
      errors.push({ line, message: `${where}: ${error.message}` });
    }
  });
  return { entries, errors, warnings };
}

/** A line-level parse failure; the message is completed with file and line by the caller. */
class LineError extends Error {}

function parseLine(content: string, line: number, localTime: NonNullable<ParseAllowedSignersOptions['localTime']>): AllowedSigner {
  const [principals, afterPrincipals] = takePrincipals(content);
  if (principals === '') throw new LineError(`the principals field is empty; ${FORMAT_HINT}.`);
  let rest = afterPrincipals;
  if (rest === '') throw new LineError(`only one field; ${FORMAT_HINT}.`);

  // OpenSSH first tries to read a key here, and only if that fails takes the field as options.
  let optionText = '';
  const firstField = rest.split(/[ \t]/, 1)[0] ?? '';
  if (!KEY_TYPE.test(firstField)) {
    // Named like a key type but not one: say so rather than "unknown option".
    if (/^(ssh|ecdsa|sk|rsa)-/.test(firstField)) throw new LineError(`'${firstField}' is not an SSH key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, …); ${FORMAT_HINT}.`);
    const end = endOfOptions(rest);
    optionText = rest.slice(0, end);
    rest = rest.slice(end).replace(/^[ \t]+/, '');
    if (rest === '') throw new LineError(`no key after the options '${optionText}'; ${FORMAT_HINT}.`);
  }
  const options = parseOptions(optionText, localTime);

  const [keyType = '', base64 = '', ...commentWords] = rest.split(/[ \t]+/);
  if (!KEY_TYPE.test(keyType)) {
    throw new LineError(`'${keyType}' is not an SSH key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, …)${optionText === '' ? ` nor options (${OPTION_NAMES})` : ''}; ${FORMAT_HINT}.`);
  }
  if (base64 === '') throw new LineError(`the ${keyType} key has no base64 data; paste the whole line of the signer's .pub file after the principals.`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new LineError(`the ${keyType} key data is not valid base64 (was the line wrapped or cut?).`);
  }
  const publicKey = Buffer.from(base64, 'base64');
  const blobType = sshKeyType(publicKey);
  if (blobType !== keyType) throw new LineError(`the line says '${keyType}' but the key data is a '${blobType}' key; copy the line from the signer's .pub file again.`);
  // Parsed now so a malformed key is reported here, not at the first commit it should verify.
  parseSshPublicKey(publicKey);

  return {
    line,
    principals,
    certAuthority: options.certAuthority,
    namespaces: options.namespaces,
    validAfter: options.validAfter,
    validBefore: options.validBefore,
    keyType,
    publicKey,
    fingerprint: sshFingerprint(publicKey),
    comment: commentWords.length > 0 ? commentWords.join(' ') : undefined,
  };
}

/** The principals field (quoted or not) and the text after it with leading blanks removed. */
function takePrincipals(content: string): [string, string] {
  if (content.startsWith('"')) {
    const close = content.indexOf('"', 1);
    if (close === -1) throw new LineError('the quoted principals field has no closing quote.');
    return [content.slice(1, close), content.slice(close + 1).replace(/^[ \t]+/, '')];
  }
  const match = /^([^ \t]*)[ \t]*(.*)$/.exec(content);
  return [match?.[1] ?? '', match?.[2] ?? ''];
}

/** Index just past the options field: blanks end it, except inside quotes (`sshkey_advance_past_options`). */
function endOfOptions(text: string): number {
  let quoted = false;
  let i = 0;
  for (; i < text.length; i += 1) {
    const c = text[i];
    if (!quoted && (c === ' ' || c === '\t')) break;
    if (c === '\\' && text[i + 1] === '"') i += 1;
    else if (c === '"') quoted = !quoted;
  }
  if (quoted) throw new LineError(`the options field has an unterminated quote: ${text}`);
  return i;
}

interface SignerOptions {
  certAuthority: boolean;
  namespaces: string | undefined;
  validAfter: number | undefined;
  validBefore: number | undefined;
}

/** The options field, as `sshsigopt_parse` reads it: names case-insensitive, values quoted. */
function parseOptions(text: string, localTime: NonNullable<ParseAllowedSignersOptions['localTime']>): SignerOptions {
  const result: SignerOptions = { certAuthority: false, namespaces: undefined, validAfter: undefined, validBefore: undefined };
  let rest = text;
  while (rest !== '') {
    const lower = rest.toLowerCase();
    if (lower.startsWith('cert-authority') && (rest.length === 14 || rest[14] === ',')) {
      result.certAuthority = true;
      rest = rest.slice(14);
    } else {
      const name = ['namespaces', 'valid-after', 'valid-before'].find((candidate) => lower.startsWith(`${candidate}=`));
      if (name === undefined) {
        const shown = rest.split(/[,=]/, 1)[0] ?? rest;
        throw new LineError(`unknown option '${shown}'; the options are ${OPTION_NAMES}, separated by commas without spaces.`);
      }
      const [value, after] = dequote(rest.slice(name.length + 1), name);
      rest = after;
      if (name === 'namespaces') {
        if (result.namespaces !== undefined) throw new LineError('"namespaces" is given twice.');
        result.namespaces = value;
      } else {
        const seconds = parseSignerTime(value, name, localTime);
        if (name === 'valid-after') {
          if (result.validAfter !== undefined) throw new LineError('"valid-after" is given twice.');
          result.validAfter = seconds;
        } else {
          if (result.validBefore !== undefined) throw new LineError('"valid-before" is given twice.');
          result.validBefore = seconds;
        }
      }
    }
    if (rest === '') break;
    if (!rest.startsWith(',')) throw new LineError(`unexpected '${rest}' after an option; separate options with commas.`);
    rest = rest.slice(1);
    if (rest === '') throw new LineError('the options end with a comma.');
  }
  if (result.validAfter !== undefined && result.validBefore !== undefined && result.validBefore <= result.validAfter) {
    throw new LineError('"valid-before" is not later than "valid-after", so the key could never sign.');
  }
  return result;
}

/** A `"…"` option value (`\"` escapes a quote) and the text after it (`opt_dequote`). */
function dequote(text: string, name: string): [string, string] {
  if (!text.startsWith('"')) throw new LineError(`the value of "${name}" must be in double quotes, e.g. ${name}="${name === 'namespaces' ? 'git' : '20250101'}".`);
  let value = '';
  let i = 1;
  for (; i < text.length && text[i] !== '"'; i += 1) {
    if (text[i] === '\\' && text[i + 1] === '"') i += 1;
    value += text[i];
  }
  if (i >= text.length) throw new LineError(`the value of "${name}" has no closing quote.`);
  return [value, text.slice(i + 1)];
}

/**
 * `YYYYMMDD[Z]`, `YYYYMMDDHHMM[Z]` or `YYYYMMDDHHMMSS[Z]` (`parse_absolute_time` in misc.c):
 * UTC with a `Z` or `UTC` suffix, the host's local time without one.
 */
function parseSignerTime(value: string, name: string, localTime: NonNullable<ParseAllowedSignersOptions['localTime']> = defaultLocalTime): number {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z|UTC)?$/i.exec(value);
  const invalid = (): LineError =>
    new LineError(`"${name}" time '${value}' is not YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z for UTC.`);
  if (match === null) throw invalid();
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((group) => Number(match[group] ?? '0')) as [number, number, number, number, number, number];
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(utc);
  // Date.UTC rolls 2025-02-30 over to March; OpenSSH's strptime refuses such dates, and so does this.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw invalid();
  }
  const seconds = match[7] === undefined ? localTime(year, month, day, hour, minute, second) : utc / 1000;
  if (!Number.isFinite(seconds) || seconds <= 0) throw invalid();
  return seconds;
}

/** Why a parsed line can never let a commit through here, if it cannot. */
function unusableReason(entry: AllowedSigner): string | undefined {
  if (entry.certAuthority) return 'cert-authority keys are not supported yet (SSH certificates are not verified)';
  if (KEY_TYPE_CERT.test(entry.keyType)) return `a certificate (${entry.keyType}) cannot be pinned; pin the signer's own key`;
  const key = parseSshPublicKey(entry.publicKey);
  return key.kind === 'unsupported' ? key.reason : undefined;
}
