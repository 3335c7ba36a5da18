/**
 * The JSON body of GET git/blobs, streamed: GitHub's base64 has a line break after every 60
 * characters (Ruby's `Base64.encode64`), so a 100 MB blob never sits in memory as one string.
 */
import { Transform, type TransformCallback, type Readable } from 'node:stream';

const LINE_BYTES = 45; // 45 input bytes = 60 base64 characters
const ESCAPED_NEWLINE = '\\n';

/** Base64 the way GitHub sends blob content: 60-character lines, each ending with a newline. */
export function githubBase64(data: Uint8Array): string {
  let out = '';
  for (let i = 0; i < data.length; i += LINE_BYTES) {
    out += `${Buffer.from(data.subarray(i, i + LINE_BYTES)).toString('base64')}\n`;
  }
  return out;
}

/** Length of {@link githubBase64} of `size` bytes once JSON-escaped (each newline becomes `\n`). */
export function escapedBase64Length(size: number): number {
  const full = Math.floor(size / LINE_BYTES);
  const rest = size % LINE_BYTES;
  return full * (60 + ESCAPED_NEWLINE.length) + (rest > 0 ? 4 * Math.ceil(rest / 3) + ESCAPED_NEWLINE.length : 0);
}

/** Encode a byte stream as JSON-escaped GitHub base64, framed by `prefix` and `suffix`. */
export function base64JsonStream(source: Readable, prefix: string, suffix: string): Readable {
  let pending = Buffer.alloc(0);
  const encoder = new Transform({
    construct(callback) {
      this.push(prefix);
      callback();
    },
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      const usable = data.length - (data.length % LINE_BYTES);
      let out = '';
      for (let i = 0; i < usable; i += LINE_BYTES) {
        out += data.subarray(i, i + LINE_BYTES).toString('base64') + ESCAPED_NEWLINE;
      }
      pending = Buffer.from(data.subarray(usable));
      callback(null, out === '' ? undefined : out);
    },
    flush(callback: TransformCallback) {
      const tail = pending.length > 0 ? pending.toString('base64') + ESCAPED_NEWLINE : '';
      callback(null, tail + suffix);
    },
  });
  source.on('error', (error) => encoder.destroy(error));
  encoder.on('close', () => source.destroy());
  return source.pipe(encoder);
}
