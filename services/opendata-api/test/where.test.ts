import { describe, expect, it } from 'vitest';
import type { Row } from '@ondijon/opendata';
import { QueryError, type QueryField } from '../src/query';
import { compileWhere } from '../src/where';

const fields: QueryField[] = [
  { name: 'commune', type: 'string' },
  { name: 'n', type: 'integer' },
  { name: 't', type: 'datetime' },
  { name: 'status', type: 'string' },
];
const rows: Row[] = [
  { commune: '21231', n: 5, t: '2026-11-27T00:00:00Z', status: 'value' },
  { commune: '21231', n: null, t: '2026-11-27T01:00:00Z', status: 'suppressed' },
  { commune: '21003', n: 0, t: '2026-11-27T00:00:00+01:00', status: 'zero' },
];
// Each expression runs twice: parsing cells per row, and over the instants parsed once per release
// (`rows` given); both must select the same rows.
const run = (w: string) => {
  const perRow = rows.filter((r, i) => compileWhere(w, fields)(r, i)).map((r) => rows.indexOf(r));
  const pre = compileWhere(w, fields, rows);
  expect(rows.map((_, i) => i).filter((i) => pre(rows[i]!, i))).toEqual(perRow);
  return perRow;
};

describe('compileWhere (ODSQL subset)', () => {
  it('compares strings, numbers and datetimes (as instants, across offsets)', () => {
    expect(run('commune = "21231"')).toEqual([0, 1]);
    expect(run("commune != '21231'")).toEqual([2]);
    expect(run('n >= 0')).toEqual([0, 2]);
    expect(run('n < 5')).toEqual([2]);
    expect(run("t < date'2026-11-27T00:00:00Z'")).toEqual([2]);
    expect(run('t >= "2026-11-27T01:00:00Z"')).toEqual([1]);
  });

  it('combines with AND, OR, NOT and parentheses, AND binding tighter', () => {
    expect(run('commune = "21003" OR commune = "21231" AND status = "value"')).toEqual([0, 2]);
    expect(run('(commune = "21003" OR commune = "21231") AND status = "value"')).toEqual([0]);
    expect(run('NOT status = "value"')).toEqual([1, 2]);
    expect(run('n IS NULL')).toEqual([1]);
    expect(run('n is not null and n = 0')).toEqual([2]);
  });

  it.each([
    ['unknown field', 'nope = 1'],
    ['a non-number against a numeric field', 'n = "abc"'],
    ['a missing value', 'n ='],
    ['an unterminated string', 'commune = "21'],
    ['an unbalanced parenthesis', '(n = 1'],
    ['trailing input', 'n = 1 n'],
    ['an unknown character', 'n = 1 ; drop'],
    ['deep nesting', '('.repeat(200) + 'n = 1' + ')'.repeat(200)],
    ['an invalid date', "t > date'yesterday'"],
    ['too many comparisons', Array.from({ length: 65 }, () => 'n = 1').join(' OR ')],
    ['too long an expression', `commune = "${'x'.repeat(4000)}"`],
  ])('rejects %s with a QueryError', (_what, w) => {
    expect(() => compileWhere(w, fields)).toThrow(QueryError);
  });
});
