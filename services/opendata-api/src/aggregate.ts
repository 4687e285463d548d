import type { FieldType, Row } from '@ondijon/opendata';
import { QueryError, Slicer, dateColumn, fieldValue, valueDictionary, type QueryField } from './query';

/**
 * The Explore v2.1 `select` with aggregates, `group_by`, and `refine`/`exclude` facets, as
 * Opendatasoft documents them, for the subset this API implements:
 *
 * - select items: `*`, a field, `count(*)`, `sum(f)`, `avg(f)`, `min(f)`, `max(f)`, each with an
 *   optional `as alias` (without one, the key is the expression as written, e.g. `count(*)`);
 * - group_by: fields, each with an optional `as alias`;
 * - refine / exclude: `field:value`, repeatable; a datetime or date field takes a year, month or day
 *   (`2026`, `2026/11`, `2026/11/27`, UTC), other fields an exact value.
 *
 * Anything else (functions, expressions, facets of unknown fields) is a QueryError naming what is
 * not supported; nothing is ignored.
 */

/** An aggregate function. */
export type AggFn = 'count' | 'sum' | 'avg' | 'min' | 'max';

/** One item of `select`. */
export type SelectItem =
  | { kind: 'field'; field: string; key: string }
  | { kind: 'agg'; fn: AggFn; field: string | null; key: string };

/** One item of `group_by`. */
export interface GroupItem {
  field: string;
  key: string;
}

/** Most items in a select or group_by. */
export const MAX_SELECT_ITEMS = 32;
/** Most refine + exclude facets in one request. */
export const MAX_FACETS = 32;

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const FIELD_RE = new RegExp(`^\`?(${IDENT})\`?(?:\\s+as\\s+\`?(${IDENT})\`?)?$`, 'i');
const AGG_RE = new RegExp(
  `^(count|sum|avg|min|max)\\s*\\(\\s*(\\*|\`?${IDENT}\`?)\\s*\\)(?:\\s+as\\s+\`?(${IDENT})\`?)?$`,
  'i',
);

function splitList(param: string, text: string): string[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > MAX_SELECT_ITEMS)
    throw new QueryError(param, `more than ${MAX_SELECT_ITEMS} items (limit)`);
  if (parts.some((p) => p === '')) throw new QueryError(param, 'empty item in the list');
  return parts;
}

/** Parses `select`. */
export function parseSelect(text: string, fields: QueryField[]): SelectItem[] {
  const types = new Map(fields.map((f) => [f.name, f.type]));
  const out: SelectItem[] = [];
  for (const part of splitList('select', text)) {
    if (part === '*') {
      for (const f of fields) out.push({ kind: 'field', field: f.name, key: f.name });
      continue;
    }
    const agg = AGG_RE.exec(part);
    if (agg) {
      const fn = agg[1]!.toLowerCase() as AggFn;
      const arg = agg[2]!.replaceAll('`', '');
      if (arg === '*' && fn !== 'count')
        throw new QueryError('select', `${fn}(*) is not supported: give a field`);
      if (arg !== '*') {
        const t = types.get(arg);
        if (!t) throw new QueryError('select', `unknown field "${arg}"`);
        if ((fn === 'sum' || fn === 'avg') && t !== 'integer' && t !== 'number')
          throw new QueryError('select', `${fn}(${arg}): the field is not numeric`);
        if ((fn === 'min' || fn === 'max') && !['integer', 'number', 'datetime', 'date'].includes(t))
          throw new QueryError('select', `${fn}(${arg}): the field is neither numeric nor a date`);
      }
      const expr = `${fn}(${arg})`;
      out.push({ kind: 'agg', fn, field: arg === '*' ? null : arg, key: agg[3] ?? expr });
      continue;
    }
    const m = FIELD_RE.exec(part);
    if (!m)
      throw new QueryError(
        'select',
        `unsupported expression "${part.slice(0, 60)}": use fields, count(*), sum, avg, min, max with "as" aliases`,
      );
    if (!types.has(m[1]!)) throw new QueryError('select', `unknown field "${m[1]!.slice(0, 60)}"`);
    out.push({ kind: 'field', field: m[1]!, key: m[2] ?? m[1]! });
  }
  const keys = out.map((s) => s.key);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i && out[i]!.kind === 'agg');
  if (dup) throw new QueryError('select', `"${dup}" is selected twice`);
  return out;
}

/** Parses `group_by`. */
export function parseGroupBy(text: string, fields: QueryField[]): GroupItem[] {
  const names = new Set(fields.map((f) => f.name));
  return splitList('group_by', text).map((part) => {
    const m = FIELD_RE.exec(part);
    if (!m)
      throw new QueryError(
        'group_by',
        `unsupported expression "${part.slice(0, 60)}": group by fields (with "as" aliases) only`,
      );
    if (!names.has(m[1]!)) throw new QueryError('group_by', `unknown field "${m[1]!.slice(0, 60)}"`);
    return { field: m[1]!, key: m[2] ?? m[1]! };
  });
}

/** True when the select has aggregates (the query is then aggregated, grouped or not). */
export const hasAggregates = (select: SelectItem[] | undefined) => !!select?.some((s) => s.kind === 'agg');

/** A group key part: the type marked, so 1, "1" and null stay apart. */
const keyOf = (v: string | number | boolean | null) =>
  v === null ? '\u0000' : typeof v === 'string' ? `s${v}` : typeof v === 'number' ? `n${v}` : `b${v}`;

interface Acc {
  values: (string | number | boolean | null)[];
  count: number;
  sums: number[];
  ns: number[];
  mins: (number | null)[];
  maxs: (number | null)[];
  minRows: number[];
  maxRows: number[];
}

/**
 * Groups the matching rows and computes the aggregates: one output row per group, keyed by the
 * group_by keys then the select keys. Without group_by, one row over every match. O(matches).
 */
export async function aggregate(
  rows: Row[],
  fields: QueryField[],
  indexes: Iterable<number>,
  select: SelectItem[] | undefined,
  groupBy: GroupItem[],
): Promise<Row[]> {
  const slicer = new Slicer();
  const types = new Map(fields.map((f) => [f.name, f.type]));
  const items = select ?? groupBy.map((g) => ({ kind: 'field' as const, field: g.field, key: g.key }));
  for (const s of items)
    if (s.kind === 'field' && !groupBy.some((g) => g.field === s.field || g.key === s.field))
      throw new QueryError('select', `"${s.field}" is neither aggregated nor in group_by`);
  const aggs = items.filter((s): s is Extract<SelectItem, { kind: 'agg' }> => s.kind === 'agg');
  const numeric = aggs.map((a) => {
    if (!a.field) return undefined;
    const t = types.get(a.field) as FieldType;
    return t === 'datetime' || t === 'date' ? dateColumn(rows, a.field) : undefined;
  });
  const groups = new Map<string, Acc>();
  for (const i of indexes) {
    if (slicer.due()) await slicer.yield();
    const row = rows[i]!;
    const values = groupBy.map((g) => fieldValue(row, i, g.field));
    const key =
      groupBy.length === 1 ? keyOf(values[0]!) : groupBy.length ? values.map(keyOf).join('\u0001') : '';
    let acc = groups.get(key);
    if (!acc) {
      acc = {
        values,
        count: 0,
        sums: aggs.map(() => 0),
        ns: aggs.map(() => 0),
        mins: aggs.map(() => null),
        maxs: aggs.map(() => null),
        minRows: aggs.map(() => -1),
        maxRows: aggs.map(() => -1),
      };
      groups.set(key, acc);
    }
    acc.count++;
    for (let a = 0; a < aggs.length; a++) {
      const f = aggs[a]!.field;
      if (!f) continue;
      const dates = numeric[a];
      const raw = dates ? dates[i]! : fieldValue(row, i, f);
      if (raw === null || (typeof raw === 'number' && Number.isNaN(raw))) continue;
      if (aggs[a]!.fn === 'count') {
        acc.ns[a]!++;
        continue;
      }
      const x = raw as number;
      acc.sums[a]! += x;
      acc.ns[a]!++;
      if (acc.mins[a] === null || x < acc.mins[a]!) {
        acc.mins[a] = x;
        acc.minRows[a] = i;
      }
      if (acc.maxs[a] === null || x > acc.maxs[a]!) {
        acc.maxs[a] = x;
        acc.maxRows[a] = i;
      }
    }
  }
  if (groups.size === 0 && groupBy.length === 0)
    groups.set('', {
      values: [],
      count: 0,
      sums: aggs.map(() => 0),
      ns: aggs.map(() => 0),
      mins: aggs.map(() => null),
      maxs: aggs.map(() => null),
      minRows: aggs.map(() => -1),
      maxRows: aggs.map(() => -1),
    });
  const round = (x: number) => Math.round(x * 1e9) / 1e9;
  const out: Row[] = [];
  for (const acc of groups.values()) {
    const r: Row = {};
    groupBy.forEach((g, k) => (r[g.key] = acc.values[k]!));
    let a = 0;
    for (const s of items) {
      if (s.kind === 'field') {
        const g = groupBy.findIndex((x) => x.field === s.field || x.key === s.field);
        r[s.key] = acc.values[g]!;
        continue;
      }
      const k = a++;
      const dates = numeric[k];
      // min/max of a date answer the cell as published, not an epoch number.
      const cell = (rowIndex: number) => (rowIndex < 0 ? null : (rows[rowIndex]![s.field!] ?? null));
      switch (s.fn) {
        case 'count':
          r[s.key] = s.field ? acc.ns[k]! : acc.count;
          break;
        case 'sum':
          r[s.key] = acc.ns[k] ? round(acc.sums[k]!) : null;
          break;
        case 'avg':
          r[s.key] = acc.ns[k] ? round(acc.sums[k]! / acc.ns[k]) : null;
          break;
        case 'min':
          r[s.key] = dates ? cell(acc.minRows[k]!) : acc.mins[k]!;
          break;
        case 'max':
          r[s.key] = dates ? cell(acc.maxRows[k]!) : acc.maxs[k]!;
          break;
      }
    }
    out.push(r);
  }
  return out;
}

/** Sorts aggregated rows by output keys (`key [asc|desc]`, nulls last). */
export function sortAggregated(out: Row[], orderBy: string, keys: string[]): Row[] {
  const spec = splitList('order_by', orderBy).map((part) => {
    const m = /^(.*?)(?:\s+(asc|desc))?$/i.exec(part)!;
    const key = m[1]!.trim().replaceAll('`', '');
    const norm = key.replace(/\s+/g, '').toLowerCase();
    const found = keys.find((k) => k === key || k.replace(/\s+/g, '').toLowerCase() === norm);
    if (!found)
      throw new QueryError(
        'order_by',
        `"${key.slice(0, 60)}" is not a selected or grouped key (${keys.join(', ')})`,
      );
    return { key: found, desc: m[2]?.toLowerCase() === 'desc' };
  });
  const idx = out.map((_, i) => i);
  idx.sort((a, b) => {
    for (const s of spec) {
      const x = out[a]![s.key] ?? null;
      const y = out[b]![s.key] ?? null;
      if (x === y) continue;
      if (x === null) return 1;
      if (y === null) return -1;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : 1;
      return s.desc ? -c : c;
    }
    return a - b;
  });
  return idx.map((i) => out[i]!);
}

/** A parsed refine/exclude facet as a row predicate. */
export function facetPredicate(
  param: 'refine' | 'exclude',
  text: string,
  fields: QueryField[],
  rows: Row[],
): (row: Row, i: number) => boolean {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new QueryError(param, `expected "field:value", got "${text.slice(0, 60)}"`);
  const field = text.slice(0, colon).trim();
  const value = text.slice(colon + 1);
  const f = fields.find((x) => x.name === field);
  if (!f) throw new QueryError(param, `unknown facet field "${field.slice(0, 60)}"`);
  let match: (row: Row, i: number) => boolean;
  if (f.type === 'datetime' || f.type === 'date') {
    const m = /^(\d{4})(?:[/-](\d{1,2}))?(?:[/-](\d{1,2}))?$/.exec(value.trim());
    if (!m)
      throw new QueryError(param, `facet "${field}" takes a year, month or day: 2026, 2026/11, 2026/11/27`);
    const [y, mo, d] = [Number(m[1]), m[2] ? Number(m[2]) - 1 : undefined, m[3] ? Number(m[3]) : undefined];
    const start = Date.UTC(y, mo ?? 0, d ?? 1);
    const end =
      d !== undefined
        ? Date.UTC(y, mo, d + 1)
        : mo !== undefined
          ? Date.UTC(y, mo + 1, 1)
          : Date.UTC(y + 1, 0, 1);
    const col = dateColumn(rows, field);
    match = (_r, i) => col[i]! >= start && col[i]! < end;
  } else if (f.type === 'integer' || f.type === 'number') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new QueryError(param, `facet "${field}" is numeric`);
    match = (r, i) => fieldValue(r, i, field) === n;
  } else if (f.type === 'boolean') {
    if (value !== 'true' && value !== 'false')
      throw new QueryError(param, `facet "${field}" takes true or false`);
    const b = value === 'true';
    match = (r) => r[field] === b;
  } else {
    // Through the column's distinct values (built once per release): one typed read per row.
    const d = valueDictionary(rows, field);
    const id = d.values.indexOf(value);
    const ids = d.ids;
    match = id < 0 ? () => false : (_r, i) => ids[i] === id;
  }
  return param === 'refine' ? match : (r, i) => !match(r, i);
}
