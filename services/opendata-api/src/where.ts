import type { Row } from '@ondijon/opendata';
import type { FieldType } from '@ondijon/opendata';
import {
  QueryError,
  compareValues,
  dateColumn,
  fieldValue,
  numberColumn,
  valueDictionary,
  type QueryField,
} from './query';

/**
 * The subset of ODSQL `where` the Explore API accepts: comparisons `= != < <= > >=` between a field
 * and a literal (string '…' or "…", number, date'…', true/false), `IS [NOT] NULL`, AND, OR, NOT and
 * parentheses. Compiled to a row predicate; every error is a QueryError (HTTP 400), never a throw
 * of anything else. Depth and length are bounded so hostile input cannot exhaust the stack.
 */

type Tok =
  | { k: 'id'; v: string }
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'date'; v: string }
  | { k: 'op'; v: string }
  | { k: 'lp' }
  | { k: 'rp' };

/** Longest `where` accepted, in characters. */
export const MAX_WHERE_LENGTH = 4000;
/** Most comparisons in one `where` (each costs one pass over the rows at worst). */
export const MAX_WHERE_COMPARISONS = 64;
const MAX_DEPTH = 32;

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(') {
      toks.push({ k: 'lp' });
      i++;
    } else if (c === ')') {
      toks.push({ k: 'rp' });
      i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= src.length) throw new QueryError('where', `unterminated string at position ${i}`);
        if (src[j] === '\\' && j + 1 < src.length) {
          s += src[j + 1];
          j += 2;
        } else if (src[j] === c) {
          if (src[j + 1] === c) {
            s += c;
            j += 2;
          } else break;
        } else s += src[j++];
      }
      toks.push({ k: 'str', v: s });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new QueryError('where', `unterminated field name at position ${i}`);
      toks.push({ k: 'id', v: src.slice(i + 1, j) });
      i = j + 1;
    } else if ('<>=!'.includes(c)) {
      const two = src.slice(i, i + 2);
      if (['<=', '>=', '!=', '<>'].includes(two)) {
        toks.push({ k: 'op', v: two === '<>' ? '!=' : two });
        i += 2;
      } else if (c === '!') throw new QueryError('where', `unexpected "!" at position ${i}`);
      else {
        toks.push({ k: 'op', v: c });
        i++;
      }
    } else if (/[0-9.-]/.test(c)) {
      const m = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
      if (!m) throw new QueryError('where', `bad number at position ${i}`);
      toks.push({ k: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      const word = m[0];
      i += word.length;
      // date'2026-11-27' (ODSQL date literal)
      if (word.toLowerCase() === 'date' && (src[i] === "'" || src[i] === '"')) {
        const q = src[i]!;
        const j = src.indexOf(q, i + 1);
        if (j < 0) throw new QueryError('where', `unterminated date literal at position ${i}`);
        const v = src.slice(i + 1, j);
        if (Number.isNaN(Date.parse(v)))
          throw new QueryError('where', `invalid date literal "${v.slice(0, 40)}"`);
        toks.push({ k: 'date', v });
        i = j + 1;
      } else toks.push({ k: 'id', v: word });
    } else {
      throw new QueryError('where', `unexpected character "${c}" at position ${i}`);
    }
  }
  return toks;
}

type Pred = (row: Row, index: number) => boolean;

/** A numeric test of a comparison's sign per operator (an empty cell, NaN, matches none). */
function numericPred(col: Float64Array | ((i: number) => number), v: number, op: string): Pred {
  const at = typeof col === 'function' ? col : (i: number) => col[i]!;
  switch (op) {
    case '=':
      return (_r, i) => at(i) === v;
    case '!=':
      return (_r, i) => {
        const x = at(i);
        return x === x && x !== v;
      };
    case '<':
      return (_r, i) => at(i) < v;
    case '<=':
      return (_r, i) => at(i) <= v;
    case '>':
      return (_r, i) => at(i) > v;
    default:
      return (_r, i) => at(i) >= v;
  }
}

/**
 * A comparison over the release's per-column caches (built once per release): numbers and instants
 * from typed columns, other types from the column's distinct values, each compared once here, so a
 * row costs one typed-array read instead of a cell lookup, a parse and a generic comparison.
 */
function columnar(rows: Row[], field: string, type: string, op: string, v: Exclude<Literal, null>): Pred {
  if (field === '_id') return numericPred((i) => i + 1, v as number, op);
  if (type === 'datetime' || type === 'date')
    return numericPred(dateColumn(rows, field), Date.parse(String(v)), op);
  if (type === 'integer' || type === 'number') return numericPred(numberColumn(rows, field), v as number, op);
  const d = valueDictionary(rows, field);
  const pass = Uint8Array.from(d.values, (x) => {
    if (x === null) return 0;
    const c = compareValues(x, v, type as FieldType);
    const ok =
      op === '='
        ? c === 0
        : op === '!='
          ? c !== 0
          : op === '<'
            ? c < 0
            : op === '<='
              ? c <= 0
              : op === '>'
                ? c > 0
                : c >= 0;
    return ok ? 1 : 0;
  });
  return (_r, i) => pass[d.ids[i]!] === 1;
}
type Literal = string | number | boolean | null;

/**
 * Compiles a `where` expression against the fields of a release. With the release's `rows`,
 * datetime comparisons read the instants parsed once per release (query.ts dateColumn) instead of
 * parsing each cell on each request.
 */
export function compileWhere(src: string, fields: QueryField[], rows?: Row[]): Pred {
  if (src.length > MAX_WHERE_LENGTH)
    throw new QueryError('where', `expression longer than ${MAX_WHERE_LENGTH} characters (limit)`);
  const toks = tokenize(src);
  let comparisons = 0;
  const types = new Map(fields.map((f) => [f.name, f.type]));
  let p = 0;
  const peekWord = (w: string) => {
    const t = toks[p];
    return t?.k === 'id' && t.v.toUpperCase() === w;
  };

  function literal(): Literal {
    const t = toks[p++];
    if (!t) throw new QueryError('where', 'expected a value at end of expression');
    if (t.k === 'str' || t.k === 'date') return t.v;
    if (t.k === 'num') return t.v;
    if (t.k === 'id') {
      const u = t.v.toLowerCase();
      if (u === 'true') return true;
      if (u === 'false') return false;
      if (u === 'null') return null;
    }
    throw new QueryError('where', 'expected a string, number, date or boolean value');
  }

  function coerce(field: string, v: Literal): Literal {
    const t = types.get(field)!;
    if (v === null) return null;
    if (t === 'integer' || t === 'number') {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n))
        throw new QueryError(
          'where',
          `field "${field}" is numeric; "${String(v).slice(0, 40)}" is not a number`,
        );
      return n;
    }
    if (t === 'datetime' || t === 'date') {
      const s = String(v);
      if (Number.isNaN(Date.parse(s)))
        throw new QueryError('where', `field "${field}" is a date; "${s.slice(0, 40)}" is not a date`);
      return s;
    }
    if (t === 'boolean') {
      if (typeof v !== 'boolean')
        throw new QueryError('where', `field "${field}" is boolean; use true or false`);
      return v;
    }
    return String(v);
  }

  function comparison(): Pred {
    const t = toks[p++];
    if (t?.k !== 'id') throw new QueryError('where', 'expected a field name');
    const field = t.v;
    if (!types.has(field)) throw new QueryError('where', `unknown field "${field.slice(0, 60)}"`);
    const type = types.get(field)!;
    if (++comparisons > MAX_WHERE_COMPARISONS)
      throw new QueryError('where', `more than ${MAX_WHERE_COMPARISONS} comparisons (limit)`);
    if (peekWord('IS')) {
      p++;
      const neg = peekWord('NOT');
      if (neg) p++;
      if (!peekWord('NULL')) throw new QueryError('where', 'expected NULL after IS');
      p++;
      return neg ? (r, i) => fieldValue(r, i, field) !== null : (r, i) => fieldValue(r, i, field) === null;
    }
    const op = toks[p++];
    if (op?.k !== 'op')
      throw new QueryError('where', `expected a comparison operator after "${field.slice(0, 60)}"`);
    const v = coerce(field, literal());
    if (v === null) {
      if (op.v === '=') return (r, i) => fieldValue(r, i, field) === null;
      if (op.v === '!=') return (r, i) => fieldValue(r, i, field) !== null;
      throw new QueryError('where', 'null can only be compared with = or !=');
    }
    if (rows) return columnar(rows, field, type, op.v, v);
    const cmp = (r: Row, i: number) => {
      const x = fieldValue(r, i, field);
      return x === null ? null : compareValues(x, v, type);
    };
    switch (op.v) {
      case '=':
        return (r, i) => cmp(r, i) === 0;
      case '!=':
        return (r, i) => {
          const c = cmp(r, i);
          return c !== null && c !== 0;
        };
      case '<':
        return (r, i) => (cmp(r, i) ?? 0) < 0;
      case '<=':
        return (r, i) => {
          const c = cmp(r, i);
          return c !== null && c <= 0;
        };
      case '>':
        return (r, i) => (cmp(r, i) ?? 0) > 0;
      default:
        return (r, i) => {
          const c = cmp(r, i);
          return c !== null && c >= 0;
        };
    }
  }

  function primary(depth: number): Pred {
    if (depth > MAX_DEPTH) throw new QueryError('where', `expression nested deeper than ${MAX_DEPTH}`);
    if (peekWord('NOT')) {
      p++;
      const inner = primary(depth + 1);
      return (r, i) => !inner(r, i);
    }
    if (toks[p]?.k === 'lp') {
      p++;
      const e = or(depth + 1);
      if (toks[p++]?.k !== 'rp') throw new QueryError('where', 'missing closing parenthesis');
      return e;
    }
    return comparison();
  }

  function and(depth: number): Pred {
    const parts = [primary(depth)];
    while (peekWord('AND')) {
      p++;
      parts.push(primary(depth));
    }
    return parts.length === 1 ? parts[0]! : (r, i) => parts.every((f) => f(r, i));
  }

  function or(depth: number): Pred {
    const parts = [and(depth)];
    while (peekWord('OR')) {
      p++;
      parts.push(and(depth));
    }
    return parts.length === 1 ? parts[0]! : (r, i) => parts.some((f) => f(r, i));
  }

  if (toks.length === 0) return () => true;
  const pred = or(0);
  if (p < toks.length)
    throw new QueryError('where', `unexpected input after position ${p} of the expression`);
  return pred;
}
