/**
 * JSON parsing that says where it failed. `JSON.parse` reports a character offset only sometimes
 * (and quotes the file's text, which may be private), so on failure a small scanner walks the
 * text again to find the line and column of the first error and describe it in its own words.
 */

/** Parsed JSON, or where and why it is not JSON. Line and column count from 1. */
export type JsonResult =
  | { readonly ok: true; readonly data: unknown }
  | { readonly ok: false; readonly line: number; readonly column: number; readonly reason: string };

class Scan {
  i = 0;
  constructor(readonly text: string) {}

  fail(reason: string): never {
    throw new JsonSyntax(this.i, reason);
  }

  ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] ?? '')) this.i++;
  }

  peek(): string | undefined {
    return this.text[this.i];
  }

  expect(what: string): never {
    const c = this.peek();
    this.fail(c === undefined ? `expected ${what}, found the end of the file` : `expected ${what}, found ${JSON.stringify(c)}`);
  }

  value(): void {
    this.ws();
    const c = this.peek();
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c !== undefined && /[-0-9]/.test(c)) return this.number();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return;
      }
    }
    this.expect('a value');
  }

  object(): void {
    this.i++;
    this.ws();
    if (this.peek() === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.peek() !== '"') this.expect(`a "quoted" key`);
      this.string();
      this.ws();
      if (this.peek() !== ':') this.expect("':'");
      this.i++;
      this.value();
      this.ws();
      if (this.peek() === '}') {
        this.i++;
        return;
      }
      if (this.peek() !== ',') this.expect("',' or '}'");
      this.i++;
      this.ws();
      if (this.peek() === '}') this.fail("trailing ',' before '}'");
    }
  }

  array(): void {
    this.i++;
    this.ws();
    if (this.peek() === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.value();
      this.ws();
      if (this.peek() === ']') {
        this.i++;
        return;
      }
      if (this.peek() !== ',') this.expect("',' or ']'");
      this.i++;
      this.ws();
      if (this.peek() === ']') this.fail("trailing ',' before ']'");
    }
  }

  string(): void {
    this.i++;
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') {
        this.i++;
        return;
      }
      if (c < ' ') this.fail('control character in a string; escape it');
      if (c === '\\') {
        this.i++;
        const e = this.peek();
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 1, this.i + 5))) this.i += 4;
        else if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail('invalid escape in a string');
      }
      this.i++;
    }
  }

  number(): void {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/.exec(this.text.slice(this.i));
    if (match === null) this.fail('invalid number');
    this.i += match[0].length;
  }
}

class JsonSyntax extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

/** Parse JSON text; on failure give the 1-based line and column of the first error. */
export function parseJson(text: string): JsonResult {
  try {
    return { ok: true, data: JSON.parse(text) as unknown };
  } catch {
    const scan = new Scan(text);
    try {
      scan.value();
      scan.ws();
      if (scan.peek() !== undefined) scan.fail('unexpected text after the JSON value');
    } catch (error: unknown) {
      if (error instanceof JsonSyntax) return { ok: false, ...position(text, error.offset), reason: error.reason };
      throw error;
    }
    // The scanner accepted what JSON.parse rejected: point at the end rather than guess.
    return { ok: false, ...position(text, text.length), reason: 'invalid JSON' };
  }
}
