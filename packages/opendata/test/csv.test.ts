import { describe, expect, it } from 'vitest';
import { castCell, parseCsv, parseTypedCsv, toCsv } from '../src/index';

describe('CSV (RFC 4180)', () => {
  it('round-trips commas, quotes, line breaks, edge spaces and accents', () => {
    const rows = [
      ['a,b', 'say "hi"', 'line1\r\nline2', ' padded ', 'Fénay', ''],
      ['plain', '', 'x', 'y', 'Chenôve', '""'],
    ];
    const text = toCsv(['c1', 'c2', 'c3', 'c4', 'c5', 'c6'], rows);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text).toContain('"a,b","say ""hi""","line1\r\nline2"," padded ",Fénay,');
    expect(parseCsv(text)).toEqual([['c1', 'c2', 'c3', 'c4', 'c5', 'c6'], ...rows]);
  });

  it('accepts LF line ends and rejects an unterminated quote', () => {
    expect(parseCsv('a,b\n1,2\n')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(() => parseCsv('a,"b\n1,2')).toThrow(/unterminated/);
  });

  it('casts cells by Table Schema type and refuses wrong ones', () => {
    expect(castCell('integer', '42')).toBe(42);
    expect(castCell('number', '1.5e3')).toBe(1500);
    expect(castCell('number', '')).toBeNull();
    expect(castCell('datetime', '2026-11-28T10:00:00+01:00')).toBe('2026-11-28T10:00:00+01:00');
    expect(() => castCell('datetime', '2026-11-28T10:00:00')).toThrow(/offset/);
    expect(() => castCell('integer', '1.5')).toThrow();
    expect(() => castCell('number', 'NaN')).toThrow();
    expect(() => castCell('boolean', 'yes')).toThrow();
  });

  it('refuses a header that does not match the schema', () => {
    expect(() => parseTypedCsv('x,y\r\n1,2\r\n', { fields: [{ name: 'x', type: 'integer' }] })).toThrow(
      /header/,
    );
  });
});
