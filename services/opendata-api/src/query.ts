import type { FieldType, Row, TableSchema } from '@ondijon/opendata';

/** A field as the query engine sees it: the release's Table Schema plus the synthetic `_id` (1-based row number). */
export interface QueryField {
  name: string;
  type: FieldType;
}

/** An invalid query parameter: each API maps it to its own error shape (CKAN 409, Explore 400). */
export class QueryError extends Error {
  constructor(
    /** The parameter at fault (`where`, `filters`, `sort`…). */
    readonly param: string,
    message: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

/** One sort key. */
export interface SortKey {
  field: string;
  desc: boolean;
}

/** What to run over a release's rows. */
export interface QuerySpec {
  predicate?: ((row: Row, index: number) => boolean) | undefined;
  sort?: SortKey[] | undefined;
  offset: number;
  /** -1 = no limit (exports). */
  limit: number;
  /** Count every match (costs a full scan when a limit stops early). */
  total: boolean;
}

/** Fields of a release for querying, `_id` first. */
export function queryFields(schema: TableSchema): QueryField[] {
  return [{ name: '_id', type: 'integer' }, ...schema.fields.map((f) => ({ name: f.name, type: f.type }))];
}

/** Text of a scalar parameter or cell; objects become JSON (never "[object Object]"). */
export function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}

/** Value of a field in a row; `_id` is the 1-based position. */
export function fieldValue(row: Row, index: number, field: string): string | number | boolean | null {
  return field === '_id' ? index + 1 : (row[field] ?? null);
}

/** Compares two cell values of the same field type; nulls sort last. Datetimes compare as instants. */
export function compareValues(a: unknown, b: unknown, type: FieldType): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (type === 'datetime') return Date.parse(a as string) - Date.parse(b as string);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = asText(a);
  const sb = asText(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

// Sorted orders are expensive on a year of rows (~200 k); releases are immutable, so each order is
// computed once per parsed release and reused (keyed by the rows array itself). `rank[i]` is row i's
// position in that order, so a filtered subset sorts by comparing two integers.
const orderCache = new WeakMap<Row[], Map<string, { order: Uint32Array; rank: Uint32Array }>>();

function sortedOrder(
  rows: Row[],
  sort: SortKey[],
  types: Map<string, FieldType>,
): { order: Uint32Array; rank: Uint32Array } {
  const key = sort.map((s) => `${s.field}:${s.desc ? 'd' : 'a'}`).join(',');
  let perRows = orderCache.get(rows);
  if (!perRows) orderCache.set(rows, (perRows = new Map()));
  const hit = perRows.get(key);
  if (hit) return hit;
  const idx = Array.from({ length: rows.length }, (_, i) => i);
  idx.sort((i, j) => {
    for (const s of sort) {
      const t = types.get(s.field) ?? 'string';
      const a = fieldValue(rows[i]!, i, s.field);
      const b = fieldValue(rows[j]!, j, s.field);
      // Empty cells (suppressed, missing) sort last in both directions, so a descending sort starts
      // with the largest values (Postgres, behind CKAN, would put NULLs first on DESC).
      if (a === null || b === null) {
        if (a !== b) return a === null ? 1 : -1;
        continue;
      }
      let c = compareValues(a, b, t);
      if (s.desc) c = -c;
      if (c !== 0) return c;
    }
    return i - j;
  });
  const order = Uint32Array.from(idx);
  const rank = new Uint32Array(order.length);
  for (let k = 0; k < order.length; k++) rank[order[k]!] = k;
  const entry = { order, rank };
  perRows.set(key, entry);
  if (perRows.size > 16) perRows.delete(perRows.keys().next().value!);
  return entry;
}

/** Runs a query: filter, order, page. Returns matching row indexes (into `rows`) and the total when asked. */
export function runQuery(
  rows: Row[],
  fields: QueryField[],
  spec: QuerySpec,
): { indexes: number[]; total: number | undefined } {
  const types = new Map(fields.map((f) => [f.name, f.type]));
  const sorted = spec.sort?.length ? sortedOrder(rows, spec.sort, types) : undefined;
  const n = rows.length;
  const end = spec.limit < 0 ? Infinity : spec.offset + spec.limit;
  if (sorted && spec.predicate) {
    // Filter in storage order (sequential memory access), then order the matches by rank: measured
    // ~5x faster than walking the global order with random access on 201 480 rows (bench:api).
    const matches: number[] = [];
    for (let i = 0; i < n; i++) if (spec.predicate(rows[i]!, i)) matches.push(i);
    const rank = sorted.rank;
    matches.sort((a, b) => rank[a]! - rank[b]!);
    return { indexes: matches.slice(spec.offset, end), total: spec.total ? matches.length : undefined };
  }
  const order = sorted?.order;
  const out: number[] = [];
  let matched = 0;
  for (let k = 0; k < n; k++) {
    const i = order ? order[k]! : k;
    if (spec.predicate && !spec.predicate(rows[i]!, i)) continue;
    if (matched >= spec.offset && matched < end) out.push(i);
    matched++;
    if (matched >= end && !spec.total) break;
    // Without a predicate the total is the row count: no need to walk the rest.
    if (matched >= end && !spec.predicate) {
      matched = n;
      break;
    }
  }
  return { indexes: out, total: spec.total ? matched : undefined };
}

/** Parses a sort/order_by list: `a, b desc, c asc`. Unknown fields are a QueryError. */
export function parseSort(param: string, text: string, fields: QueryField[]): SortKey[] {
  const names = new Set(fields.map((f) => f.name));
  const keys: SortKey[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*`?([A-Za-z_][A-Za-z0-9_]*)`?(?:\s+(asc|desc))?\s*$/i.exec(part);
    if (!m)
      throw new QueryError(param, `cannot parse "${part.trim().slice(0, 60)}": expected "field [asc|desc]"`);
    if (!names.has(m[1]!)) throw new QueryError(param, `unknown field "${m[1]}"`);
    keys.push({ field: m[1]!, desc: m[2]?.toLowerCase() === 'desc' });
  }
  if (keys.length > 8) throw new QueryError(param, 'at most 8 sort keys');
  return keys;
}

/** Parses a select/fields list of field names. `*` selects all. */
export function parseFieldList(param: string, text: string, fields: QueryField[]): string[] {
  const names = new Set(fields.map((f) => f.name));
  const out: string[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim().replace(/^`(.*)`$/, '$1');
    if (name === '*') {
      out.push(...fields.map((f) => f.name));
      continue;
    }
    if (!names.has(name)) throw new QueryError(param, `unknown field "${name.slice(0, 60)}"`);
    out.push(name);
  }
  if (out.length === 0) throw new QueryError(param, 'no field selected');
  return [...new Set(out)];
}

/** Projects a row onto fields (with `_id` if asked). */
export function project(row: Row, index: number, names: string[]): Row {
  const out: Row = {};
  for (const n of names) out[n] = fieldValue(row, index, n);
  return out;
}
