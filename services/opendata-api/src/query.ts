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

// Per-release column caches. Releases are immutable and the reader hands out the same parsed rows
// array until the release changes, so everything derived from a column is computed once per loaded
// release (keyed by the rows array itself) and costs O(1) to find afterwards: datetimes parsed to
// instants, and for sorting, each column's dense rank and its ascending and descending orders. A
// request's sort, whatever order_by it rotates through, then never compares cell values again.
const dateColumns = new WeakMap<Row[], Map<string, Float64Array>>();
const rankColumns = new WeakMap<Row[], Map<string, ColumnOrder>>();

/** Rank of an empty cell: sorts after every value in both directions. */
export const NULL_RANK = 0xffffffff;

interface ColumnOrder {
  /** Dense rank of each row's value (equal values share a rank); NULL_RANK for an empty cell. */
  rank: Uint32Array;
  /** Rows by value ascending, empty cells last, ties by position. */
  asc: Uint32Array;
  /** Rows by value descending, empty cells last, ties by position. */
  desc: Uint32Array;
}

/** Instants (epoch ms; NaN for an empty cell) of a datetime or date column, parsed once per release. */
export function dateColumn(rows: Row[], field: string): Float64Array {
  let perRows = dateColumns.get(rows);
  if (!perRows) dateColumns.set(rows, (perRows = new Map()));
  let col = perRows.get(field);
  if (!col) {
    col = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![field];
      col[i] = v === null || v === undefined ? NaN : Date.parse(String(v));
    }
    perRows.set(field, col);
  }
  return col;
}

const dictionaries = new WeakMap<Row[], Map<string, TextDictionary>>();
const valueDictionaries = new WeakMap<Row[], Map<string, ValueDictionary>>();
const numberColumns = new WeakMap<Row[], Map<string, Float64Array>>();

/** A column as its distinct values and, per row, the id of its value. */
export interface ValueDictionary {
  ids: Uint32Array;
  values: (string | number | boolean | null)[];
}

/** The value dictionary of a column, built once per release and field. */
export function valueDictionary(rows: Row[], field: string): ValueDictionary {
  let perRows = valueDictionaries.get(rows);
  if (!perRows) valueDictionaries.set(rows, (perRows = new Map()));
  let d = perRows.get(field);
  if (!d) {
    const ids = new Uint32Array(rows.length);
    const values: ValueDictionary['values'] = [];
    const seen = new Map<unknown, number>();
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![field] ?? null;
      let id = seen.get(v);
      if (id === undefined) {
        id = values.length;
        values.push(v);
        seen.set(v, id);
      }
      ids[i] = id;
    }
    d = { ids, values };
    perRows.set(field, d);
  }
  return d;
}

/** A numeric column as numbers (NaN for an empty cell), built once per release and field. */
export function numberColumn(rows: Row[], field: string): Float64Array {
  let perRows = numberColumns.get(rows);
  if (!perRows) numberColumns.set(rows, (perRows = new Map()));
  let col = perRows.get(field);
  if (!col) {
    col = Float64Array.from(rows, (r) => (typeof r[field] === 'number' ? r[field] : NaN));
    perRows.set(field, col);
  }
  return col;
}

/** A column as distinct lower-case texts and, per row, the id of its text. */
export interface TextDictionary {
  ids: Uint32Array;
  values: string[];
}

/** The text dictionary of a column (an empty cell is the text ''), built once per release and field. */
export function textDictionary(rows: Row[], field: string): TextDictionary {
  let perRows = dictionaries.get(rows);
  if (!perRows) dictionaries.set(rows, (perRows = new Map()));
  let d = perRows.get(field);
  if (!d) {
    const ids = new Uint32Array(rows.length);
    const values: string[] = [];
    const seen = new Map<string, number>();
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![field];
      const text = v === null || v === undefined ? '' : String(v).toLowerCase();
      let id = seen.get(text);
      if (id === undefined) {
        id = values.length;
        values.push(text);
        seen.set(text, id);
      }
      ids[i] = id;
    }
    d = { ids, values };
    perRows.set(field, d);
  }
  return d;
}

/** Rank and orders of a column (computed once per release and field). */
export function columnOrder(rows: Row[], field: string, type: FieldType): ColumnOrder {
  let perRows = rankColumns.get(rows);
  if (!perRows) rankColumns.set(rows, (perRows = new Map()));
  const hit = perRows.get(field);
  if (hit) return hit;
  const n = rows.length;
  const asc = new Uint32Array(n);
  const rank = new Uint32Array(n);
  const desc = new Uint32Array(n);
  if (field === '_id') {
    for (let i = 0; i < n; i++) {
      asc[i] = i;
      rank[i] = i;
      desc[i] = n - 1 - i;
    }
  } else {
    const dates = type === 'datetime' || type === 'date' ? dateColumn(rows, field) : undefined;
    const isNull = (i: number) => (dates ? Number.isNaN(dates[i]!) : rows[i]![field] === null);
    const idx = Array.from({ length: n }, (_, i) => i).filter((i) => !isNull(i));
    const cmp = dates
      ? (i: number, j: number) => dates[i]! - dates[j]!
      : (i: number, j: number) => compareValues(rows[i]![field], rows[j]![field], type);
    idx.sort((i, j) => cmp(i, j) || i - j);
    rank.fill(NULL_RANK);
    let r = 0;
    for (let k = 0; k < idx.length; k++) {
      if (k > 0 && cmp(idx[k - 1]!, idx[k]!) !== 0) r++;
      rank[idx[k]!] = r;
      asc[k] = idx[k]!;
    }
    // Empty cells after the values, in position order, in both directions.
    let k = idx.length;
    for (let i = 0; i < n; i++) if (rank[i] === NULL_RANK) asc[k++] = i;
    // Descending: blocks of equal values in reverse, each block still in position order.
    let out = 0;
    let end = idx.length;
    while (end > 0) {
      let start = end - 1;
      while (start > 0 && rank[idx[start - 1]!] === rank[idx[end - 1]!]) start--;
      for (let q = start; q < end; q++) desc[out++] = idx[q]!;
      end = start;
    }
    for (let q = idx.length; q < n; q++) desc[out++] = asc[q]!;
  }
  const entry = { rank, asc, desc };
  perRows.set(field, entry);
  return entry;
}

/**
 * Orders row indexes (given in position order) by several keys: a stable counting sort per key,
 * last key first (LSD radix over the columns' dense ranks), so O(keys × (matches + distinct values))
 * whatever the keys, with empty cells last in both directions and ties by position.
 */
async function multiKeyOrder(
  rows: Row[],
  indexes: Uint32Array,
  sort: SortKey[],
  types: Map<string, FieldType>,
  slicer: Slicer,
): Promise<Uint32Array> {
  let cur: Uint32Array = indexes;
  let next: Uint32Array = new Uint32Array(cur.length);
  for (let k = sort.length - 1; k >= 0; k--) {
    const key = sort[k]!;
    const rank = columnOrder(rows, key.field, types.get(key.field) ?? 'string').rank;
    let max = 0;
    for (let q = 0; q < cur.length; q++) {
      const r = rank[cur[q]!]!;
      if (r !== NULL_RANK && r > max) max = r;
    }
    // Buckets 0..max for values (reversed when descending), max+1 for empty cells.
    const counts = new Uint32Array(max + 3);
    const bucket = (r: number) => (r === NULL_RANK ? max + 1 : key.desc ? max - r : r);
    for (let q = 0; q < cur.length; q++) counts[bucket(rank[cur[q]!]!) + 1]!++;
    for (let b = 1; b < counts.length; b++) counts[b]! += counts[b - 1]!;
    for (let q = 0; q < cur.length; q++) {
      const i = cur[q]!;
      next[counts[bucket(rank[i]!)]!++] = i;
    }
    [cur, next] = [next, cur];
    await slicer.yield();
  }
  return cur;
}

/** Releases with at least this many rows have their long scans run in the scan worker (scan-pool.ts). */
export const OFFLOAD_ABOVE = 20_000;

/** Longest stretch of work, in ms, before a long query lets other requests run. */
export const SLICE_MS = 1;

/**
 * Cooperative time slicing for work over every row: `due()` is cheap to call per row and true when
 * the current slice has run SLICE_MS; `yield()` then gives the event loop to other requests
 * (setImmediate: pending I/O runs first). One hostile request then delays a plain one by a slice,
 * not by its whole run.
 */
export class Slicer {
  private last = performance.now();
  private n = 0;
  due(): boolean {
    return (++this.n & 1023) === 0 && performance.now() - this.last > SLICE_MS;
  }
  async yield(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    this.last = performance.now();
  }
}

/**
 * At most one long query scans at a time; the others wait their turn (FIFO) without using the
 * CPU. With time slicing, a cheap request then waits for at most one slice of one long query.
 */
class Gate {
  private busy = false;
  private readonly waiting: (() => void)[] = [];
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((r) => this.waiting.push(r));
    else this.busy = true;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy = false;
    }
  }
}
/** The gate of long scans (runQuery over a large release, aggregation). */
export const heavyGate = new Gate();
/** Releases with fewer rows than this are scanned without taking the gate (a scan is < 1 ms). */
const GATE_ABOVE = 20_000;

/** Runs a query: filter, order, page. Returns matching row indexes (into `rows`) and the total when asked. */
export async function runQuery(
  rows: Row[],
  fields: QueryField[],
  spec: QuerySpec,
): Promise<{ indexes: number[]; total: number | undefined }> {
  // A page in storage order with no filter reads only its rows (the total is the row count): no
  // scan, no gate.
  const cheap = !spec.predicate && !spec.sort?.length;
  if (rows.length < GATE_ABOVE || cheap) return runQueryNow(rows, fields, spec);
  return heavyGate.run(() => runQueryNow(rows, fields, spec));
}

async function runQueryNow(
  rows: Row[],
  fields: QueryField[],
  spec: QuerySpec,
): Promise<{ indexes: number[]; total: number | undefined }> {
  const slicer = new Slicer();
  const types = new Map(fields.map((f) => [f.name, f.type]));
  const n = rows.length;
  const end = spec.limit < 0 ? Infinity : spec.offset + spec.limit;
  const pred = spec.predicate;
  if (spec.sort && spec.sort.length > 1) {
    // Several keys: a linear-time radix order of the matches over the columns' precomputed ranks.
    const matches = new Uint32Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (!pred || pred(rows[i]!, i)) matches[m++] = i;
      if (slicer.due()) await slicer.yield();
    }
    const ordered = await multiKeyOrder(rows, matches.subarray(0, m), spec.sort, types, slicer);
    return {
      indexes: Array.from(ordered.subarray(spec.offset, Math.min(m, end))),
      total: spec.total ? m : undefined,
    };
  }
  let order: Uint32Array | undefined;
  if (spec.sort?.length === 1) {
    const key = spec.sort[0]!;
    const col = columnOrder(rows, key.field, types.get(key.field) ?? 'string');
    order = key.desc ? col.desc : col.asc;
  }
  if (order && pred) {
    // Filter in storage order (sequential access), then walk the column's order over the matches.
    const hit = new Uint8Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (pred(rows[i]!, i)) {
        hit[i] = 1;
        total++;
      }
      if (slicer.due()) await slicer.yield();
    }
    const out: number[] = [];
    let matched = 0;
    for (let k = 0; k < n && matched < end; k++) {
      const i = order[k]!;
      if (!hit[i]) continue;
      if (matched >= spec.offset) out.push(i);
      matched++;
    }
    return { indexes: out, total: spec.total ? total : undefined };
  }
  const out: number[] = [];
  let matched = 0;
  for (let k = 0; k < n; k++) {
    if (slicer.due()) await slicer.yield();
    const i = order ? order[k]! : k;
    if (pred && !pred(rows[i]!, i)) continue;
    if (matched >= spec.offset && matched < end) out.push(i);
    matched++;
    if (matched >= end && !spec.total) break;
    // Without a predicate the total is the row count: no need to walk the rest.
    if (matched >= end && !pred) {
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
