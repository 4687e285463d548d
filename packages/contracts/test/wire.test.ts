import { describe, expect, it } from 'vitest';
import { asciiJson, DATA_OWNER, stringifyAscii } from '../src/index';

describe('ASCII-only JSON', () => {
  const values: unknown[] = [
    { owner: DATA_OWNER },
    { note: 'quote " and \\ and é, ü, €, 中文, 😀 (a surrogate pair)', n: 1.5, list: ['à', null, true] },
    'plain ascii',
    { 'clé é': 'valeur' },
    { control: '\u0001\n\t', lone: '\ud800 lone surrogate' },
  ];

  it('writes only ASCII bytes and the same JSON value', () => {
    for (const v of values) {
      const text = stringifyAscii(v);
      expect(/^[\x00-\x7f]*$/.test(text)).toBe(true);
      expect(Buffer.from(text, 'utf8').length).toBe(text.length);
      expect(JSON.parse(text)).toEqual(v);
    }
  });

  it('leaves ASCII JSON untouched and escapes each non-ASCII unit', () => {
    expect(asciiJson('{"a":"b"}')).toBe('{"a":"b"}');
    expect(asciiJson('"Dijon Métropole"')).toBe('"Dijon M\\u00e9tropole"');
    expect(asciiJson('"😀"')).toBe('"\\ud83d\\ude00"');
    expect(asciiJson('"€"')).toBe('"\\u20ac"');
  });
});
