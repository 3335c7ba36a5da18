import { describe, expect, it } from 'vitest';
import { parseJson } from '../../src/config/json.js';

describe('parseJson', () => {
  it('parses valid JSON', () => {
    expect(parseJson('{"a": [1, 2.5e3, "x\\u00e9", true, null]}')).toEqual({ ok: true, data: { a: [1, 2500, 'xé', true, null] } });
  });

  it.each([
    ['{\n  "a": 1,\n  "b" 2\n}', 3, 7, "expected ':', found \"2\""],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, "expected ',' or '}', found \"\\\"\""],
    ['{"a": 1,}', 1, 9, "trailing ',' before '}'"],
    ['[1, 2,]', 1, 7, "trailing ',' before ']'"],
    ['{"a": tru}', 1, 7, 'expected a value, found "t"'],
    ['{a: 1}', 1, 2, 'expected a "quoted" key, found "a"'],
    ['{"a": 1', 1, 8, "expected ',' or '}', found the end of the file"],
    ['', 1, 1, 'expected a value, found the end of the file'],
    ['{"a": 1}}', 1, 9, 'unexpected text after the JSON value'],
    ['{"a": "x\ny"}', 1, 9, 'control character in a string; escape it'],
    ['{"a": "\\q"}', 1, 9, 'invalid escape in a string'],
    ['{"a": 01}', 1, 8, "expected ',' or '}', found \"1\""],
    ['{"a": "open', 1, 12, 'unterminated string'],
    ['// comment\n{}', 1, 1, 'expected a value, found "/"'],
  ])('%j fails at %i:%i', (text, line, column, reason) => {
    expect(parseJson(text)).toEqual({ ok: false, line, column, reason });
  });
});
