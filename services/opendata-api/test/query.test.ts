import { describe, expect, it } from 'vitest';
import { exampleRows, parseTypedCsv, toCsv, withStatusField, EXAMPLE_SCHEMA } from '@ondijon/opendata';
import { parseSort, queryFields, runQuery } from '../src/query';

const schema = withStatusField(EXAMPLE_SCHEMA);
const input = exampleRows(new Date('2026-01-01T00:00:00Z'), 30);
const rows = parseTypedCsv(
  toCsv(
    schema.fields.map((f) => f.name),
    input.map((r) =>
      schema.fields.map((f) => {
        const v = r[f.name];
        return v instanceof Date
          ? v.toISOString().replace('.000Z', 'Z')
          : v === null || v === undefined
            ? ''
            : String(v);
      }),
    ),
  ),
  schema,
);
const fields = queryFields(schema);

function naive(
  pred: ((i: number) => boolean) | undefined,
  key: (i: number) => number,
  offset: number,
  limit: number,
) {
  const m = rows.map((_, i) => i).filter((i) => !pred || pred(i));
  m.sort((a, b) => key(a) - key(b) || a - b);
  return { indexes: m.slice(offset, offset + limit), total: m.length };
}

describe('runQuery', () => {
  it('filtered + sorted pages equal a naive filter-sort-slice (nulls last, ties by position)', async () => {
    const sort = parseSort('sort', 'energy_kwh desc', fields);
    const pred = (i: number) => rows[i]!.commune === '21231' || rows[i]!.status === 'zero';
    const key = (i: number) => (rows[i]!.energy_kwh === null ? Infinity : -(rows[i]!.energy_kwh as number));
    for (const [offset, limit] of [
      [0, 10],
      [5, 7],
      [40, 100],
    ] as const) {
      expect(
        await runQuery(rows, fields, { predicate: (r, i) => pred(i), sort, offset, limit, total: true }),
      ).toEqual(naive(pred, key, offset, limit));
    }
    expect(await runQuery(rows, fields, { sort, offset: 3, limit: 5, total: true })).toEqual(
      naive(undefined, key, 3, 5),
    );
  });

  it('counts totals with and without a predicate, and pages in storage order', async () => {
    expect(await runQuery(rows, fields, { offset: 0, limit: 2, total: true })).toEqual({
      indexes: [0, 1],
      total: rows.length,
    });
    expect((await runQuery(rows, fields, { offset: 0, limit: 2, total: false })).total).toBeUndefined();
    const r = await runQuery(rows, fields, {
      predicate: (row) => row.status === 'suppressed',
      offset: 0,
      limit: -1,
      total: true,
    });
    expect(r.indexes).toHaveLength(r.total!);
    expect(r.total).toBe(rows.filter((x) => x.status === 'suppressed').length);
  });
});

describe('runQuery sorts from per-column ranks', () => {
  // Reference: compare cell values directly (nulls last in both directions, ties by position).
  const reference = (text: string, pred?: (i: number) => boolean) => {
    const keys = parseSort('sort', text, fields);
    const m = rows.map((_, i) => i).filter((i) => !pred || pred(i));
    const val = (i: number, f: string) => (f === '_id' ? i + 1 : rows[i]![f]);
    m.sort((a, b) => {
      for (const k of keys) {
        const x = val(a, k.field);
        const y = val(b, k.field);
        if (x === y) continue;
        if (x === null) return 1;
        if (y === null) return -1;
        const c = typeof x === 'number' ? x - (y as number) : String(x) < String(y) ? -1 : 1;
        return k.desc ? -c : c;
      }
      return a - b;
    });
    return m;
  };
  it.each([
    'energy_kwh',
    'energy_kwh desc',
    'status desc',
    'commune, energy_kwh desc',
    'status desc, period_start desc, _id desc',
    'period_start desc',
  ])('"%s" equals a direct comparison of values, with and without a filter', async (text) => {
    const sort = parseSort('sort', text, fields);
    expect((await runQuery(rows, fields, { sort, offset: 0, limit: -1, total: true })).indexes).toEqual(
      reference(text),
    );
    const pred = (i: number) => rows[i]!.status !== 'value' || i % 3 === 0;
    expect(
      (
        await runQuery(rows, fields, {
          sort,
          predicate: (_r, i) => pred(i),
          offset: 2,
          limit: 50,
          total: true,
        })
      ).indexes,
    ).toEqual(reference(text, pred).slice(2, 52));
  });
});
