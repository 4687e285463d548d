import { util, version as zodVersion } from 'zod/v4/core';
import type { z } from 'zod';

// zod's safeParse of a record's `data` costs ≈1.5–2 µs and copies the value (CPU profile of
// bench:stream: ≈8 % of the processors' CPU, plus GC). For the schemas the pipeline actually uses
// (strict objects of numbers, enums, ISO strings, arrays), the same decision is a handful of
// comparisons. `compileValidator` walks `schema._zod.def` once and returns a predicate that is
// true ONLY IF zod's safeParse would succeed AND its output would equal the input (same keys, in
// the same order, same values), so the caller can keep the input and skip zod.
//
// Soundness rule (the same as the stream decoder's fast path): the predicate may be stricter than
// zod (the caller then runs zod, which decides and names the fields), never looser. Anything the compiler does not
// understand exactly (transforms, defaults, coercion, refinements, formats checked by code rather
// than by a regular expression, records with constrained keys, tuples, pipes, lazy/recursive
// schemas…) makes it return
// `undefined` for the whole schema. The semantics mirrored here were read from zod 4.6's
// core/schemas.js and core/checks.js; packages/contracts/test/compile-validator.test.ts fuzzes them against zod.

/**
 * The zod release line whose internals the compiler reads (`major.minor`). Under another one,
 * `compileValidator` compiles nothing (every value takes zod's own parse) until the fuzz tests of
 * packages/contracts/test/compile-validator.test.ts pass on it and this is updated.
 */
export const ZOD_PINNED_RELEASE = '4.6';

/** The zod release line this process loads (`major.minor`). */
export const zodRelease = `${zodVersion.major}.${zodVersion.minor}`;

/** zod certainly fails. */
const REJECT = 0;
/** zod succeeds and its output equals the input. */
const ACCEPT = 1;
/** Anything else: zod may fail, or succeed with another value (stripped key, reordered keys…). */
const UNSURE = 2;
type Verdict = typeof REJECT | typeof ACCEPT | typeof UNSURE;
// The three-valued verdict matters only inside unions: zod returns the first option that succeeds,
// so an option may be skipped only when zod certainly rejects it.
type Decide = (v: unknown) => Verdict;

interface Check {
  _zod: { def: Record<string, unknown> & { check?: string; when?: unknown }; traits: Set<string> };
}

interface Internals {
  def: Record<string, unknown> & { type: string; checks?: Check[]; coerce?: boolean };
  traits: Set<string>;
  optin?: 'optional' | 'defaulted';
  optout?: 'optional';
  values?: Set<unknown>;
}

const internals = (schema: unknown): Internals =>
  (typeof schema === 'object' && schema !== null ? (schema as { _zod: Internals })._zod : undefined)!;

// String formats whose zod check is exactly `pattern.test(value)` (core/checks.js
// $ZodCheckStringFormat and the format schemas that only set `def.pattern`). Formats checked by code
// (url, ipv6, cidrv6, base64, base64url, jwt, custom formats…) are left to zod.
const PATTERN_FORMATS = new Set([
  '$ZodGUID',
  '$ZodUUID',
  '$ZodEmail',
  '$ZodEmoji',
  '$ZodNanoID',
  '$ZodCUID',
  '$ZodCUID2',
  '$ZodULID',
  '$ZodXID',
  '$ZodKSUID',
  '$ZodISODateTime',
  '$ZodISODate',
  '$ZodISOTime',
  '$ZodISODuration',
  '$ZodIPv4',
  '$ZodMAC',
  '$ZodCIDRv4',
  '$ZodE164',
  '$ZodCheckRegex',
  '$ZodCheckLowerCase',
  '$ZodCheckUpperCase',
]);
const CODE_FORMATS = [
  '$ZodURL',
  '$ZodIPv6',
  '$ZodCIDRv6',
  '$ZodBase64',
  '$ZodBase64URL',
  '$ZodCreditCard',
  '$ZodIBAN',
  '$ZodJWT',
  '$ZodCustomStringFormat',
  '$ZodCheckIncludes',
  '$ZodCheckStartsWith',
  '$ZodCheckEndsWith',
];

/** The checks zod runs for a schema: the schema itself when it is a check (formats), then `def.checks`. */
function checksOf(zod: Internals, schema: unknown): Check[] {
  const own = zod.def.checks ?? [];
  return zod.traits.has('$ZodCheck') ? [schema as Check, ...own] : own;
}

/** A check that fails makes zod fail for sure, unless it has a `when` (which may skip it). */
const failVerdict = (checks: readonly Check[]): Verdict =>
  checks.some((c) => c._zod.def.when !== undefined) ? UNSURE : REJECT;

interface Compiler {
  compiling: Set<unknown>;
  done: Map<unknown, Decide>;
  fromJson: boolean;
}

function compileNode(schema: unknown, c: Compiler): Decide | undefined {
  const cached = c.done.get(schema);
  if (cached) return cached;
  // A schema met again while compiling itself is recursive (getters, z.lazy): left to zod.
  if (c.compiling.has(schema)) return undefined;
  c.compiling.add(schema);
  const node = compileFresh(schema, c);
  c.compiling.delete(schema);
  if (node) c.done.set(schema, node);
  return node;
}

function compileFresh(schema: unknown, c: Compiler): Decide | undefined {
  const zod = internals(schema);
  if (typeof zod !== 'object' || zod === null || typeof zod.def !== 'object') return undefined;
  const def = zod.def;
  if (def.coerce) return undefined;
  switch (def.type) {
    case 'string':
      return compileString(zod, schema);
    case 'number':
      return compileNumber(zod, schema);
    case 'array':
      return compileArray(zod, schema, c);
    case 'object':
      return compileObject(zod, schema, c);
    case 'record':
      return compileRecord(zod, schema, c);
  }
  // The remaining kinds take no checks of their own here.
  if (checksOf(zod, schema).length > 0) return undefined;
  switch (def.type) {
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? ACCEPT : REJECT);
    case 'null':
      return (v) => (v === null ? ACCEPT : REJECT);
    case 'unknown':
    case 'any':
      // zod returns the input itself.
      return () => ACCEPT;
    case 'enum':
    case 'literal': {
      // The very set zod tests with (core/schemas.js $ZodEnum/$ZodLiteral: `values.has(input)`).
      const values = zod.values;
      if (!(values instanceof Set)) return undefined;
      return (v) => (values.has(v) ? ACCEPT : REJECT);
    }
    case 'optional': {
      const inner = compileNode(def.innerType, c);
      if (!inner) return undefined;
      if (internals(def.innerType).optin === 'defaulted') return undefined;
      // exactOptional passes `undefined` on to its inner schema.
      if (zod.traits.has('$ZodExactOptional')) return inner;
      if (!zod.traits.has('$ZodOptional')) return undefined;
      return (v) => (v === undefined ? ACCEPT : inner(v));
    }
    case 'nullable': {
      const inner = compileNode(def.innerType, c);
      if (!inner || !zod.traits.has('$ZodNullable')) return undefined;
      return (v) => (v === null ? ACCEPT : inner(v));
    }
    case 'union':
      return compileUnion(zod, c);
    default:
      return undefined;
  }
}

function compileUnion(zod: Internals, c: Compiler): Decide | undefined {
  const def = zod.def;
  // Exclusive (xor) and discriminated unions pick their option differently: left to zod.
  if (
    zod.traits.has('$ZodXor') ||
    zod.traits.has('$ZodDiscriminatedUnion') ||
    def.inclusive === false ||
    def.discriminator !== undefined
  )
    return undefined;
  const options: Decide[] = [];
  for (const o of def.options as unknown[]) {
    const n = compileNode(o, c);
    if (!n) return undefined;
    options.push(n);
  }
  // zod returns the first option that succeeds: an option is passed over only when it surely fails.
  return (v) => {
    for (let i = 0; i < options.length; i++) {
      const r = options[i]!(v);
      if (r !== REJECT) return r;
    }
    return REJECT;
  };
}

function compileString(zod: Internals, schema: unknown): Decide | undefined {
  const checks = checksOf(zod, schema);
  const tests: ((s: string) => boolean)[] = [];
  for (const ch of checks) {
    const d = ch._zod.def;
    const traits = ch._zod.traits;
    switch (d.check) {
      case 'string_format': {
        const pattern = d.pattern;
        if (!(pattern instanceof RegExp)) return undefined;
        if (![...traits].some((t) => PATTERN_FORMATS.has(t))) return undefined;
        if (CODE_FORMATS.some((t) => traits.has(t))) return undefined;
        tests.push((s) => {
          pattern.lastIndex = 0; // as zod does (a global or sticky pattern keeps state)
          return pattern.test(s);
        });
        break;
      }
      // Lengths in Unicode code points, counted by zod's own function (core/checks.js).
      case 'min_length': {
        const min = d.minimum;
        if (typeof min !== 'number') return undefined;
        tests.push((s) => s.length >= min && (s.length >= 2 * min || util.codePointLength(s) >= min));
        break;
      }
      case 'max_length': {
        const max = d.maximum;
        if (typeof max !== 'number') return undefined;
        tests.push((s) => s.length <= max || util.codePointLength(s) <= max);
        break;
      }
      case 'length_equals': {
        const len = d.length;
        if (typeof len !== 'number') return undefined;
        tests.push((s) => s.length >= len && s.length <= 2 * len && util.codePointLength(s) === len);
        break;
      }
      default:
        return undefined;
    }
  }
  const fail = failVerdict(checks);
  if (tests.length === 0) return (v) => (typeof v === 'string' ? ACCEPT : REJECT);
  if (tests.length === 1) {
    const t = tests[0]!;
    return (v) => (typeof v !== 'string' ? REJECT : t(v) ? ACCEPT : fail);
  }
  return (v) => {
    if (typeof v !== 'string') return REJECT;
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return fail;
    return ACCEPT;
  };
}

function compileNumber(zod: Internals, schema: unknown): Decide | undefined {
  const checks = checksOf(zod, schema);
  let lo = -Infinity;
  let loInclusive = true;
  let hi = Infinity;
  let hiInclusive = true;
  let int = false;
  const atLeast = (value: number, inclusive: boolean) => {
    if (value > lo || (value === lo && !inclusive)) [lo, loInclusive] = [value, inclusive];
  };
  const atMost = (value: number, inclusive: boolean) => {
    if (value < hi || (value === hi && !inclusive)) [hi, hiInclusive] = [value, inclusive];
  };
  for (const ch of checks) {
    const d = ch._zod.def;
    switch (d.check) {
      case 'greater_than':
      case 'less_than': {
        const value = d.value;
        if (typeof value !== 'number' || Number.isNaN(value)) return undefined;
        if (d.check === 'greater_than') atLeast(value, !!d.inclusive);
        else atMost(value, !!d.inclusive);
        break;
      }
      case 'number_format': {
        const format = d.format as keyof typeof util.NUMBER_FORMAT_RANGES;
        const range = Object.hasOwn(util.NUMBER_FORMAT_RANGES, format)
          ? util.NUMBER_FORMAT_RANGES[format]
          : undefined;
        if (!range) return undefined;
        // Integer formats: Number.isInteger then Number.isSafeInteger, then the format's range.
        if (format.includes('int')) int = true;
        atLeast(range[0], true);
        atMost(range[1], true);
        break;
      }
      default:
        return undefined;
    }
  }
  const fail = failVerdict(checks);
  // z.number() itself rejects NaN and ±Infinity; Number.isSafeInteger implies finite.
  if (int && loInclusive && hiInclusive)
    return (v) =>
      typeof v !== 'number' ? REJECT : Number.isSafeInteger(v) && v >= lo && v <= hi ? ACCEPT : fail;
  if (loInclusive && hiInclusive)
    return (v) =>
      typeof v !== 'number' || !Number.isFinite(v) ? REJECT : v >= lo && v <= hi ? ACCEPT : fail;
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return REJECT;
    if (int && !Number.isSafeInteger(v)) return fail;
    return (loInclusive ? v >= lo : v > lo) && (hiInclusive ? v <= hi : v < hi) ? ACCEPT : fail;
  };
}

function compileArray(zod: Internals, schema: unknown, c: Compiler): Decide | undefined {
  const checks = checksOf(zod, schema);
  let min = 0;
  let max = Infinity;
  for (const ch of checks) {
    const d = ch._zod.def;
    // Arrays are measured by `.length` (code points only concern strings).
    if (d.check === 'min_length' && typeof d.minimum === 'number') min = Math.max(min, d.minimum);
    else if (d.check === 'max_length' && typeof d.maximum === 'number') max = Math.min(max, d.maximum);
    else if (d.check === 'length_equals' && typeof d.length === 'number') {
      min = Math.max(min, d.length);
      max = Math.min(max, d.length);
    } else return undefined;
  }
  const element = compileNode(zod.def.element, c);
  if (!element) return undefined;
  const fail = failVerdict(checks);
  return (v) => {
    if (!Array.isArray(v)) return REJECT;
    // zod's output is a plain new Array: an array subclass or one from another realm is not equal.
    if (Object.getPrototypeOf(v) !== Array.prototype) return UNSURE;
    const n = v.length;
    if (n < min || n > max) return fail;
    for (let i = 0; i < n; i++) {
      const x: unknown = v[i];
      // A hole would come out as an explicit `undefined`.
      if (x === undefined && !(i in v)) return UNSURE;
      const r = element(x);
      if (r !== ACCEPT) return r;
    }
    return ACCEPT;
  };
}

function compileObject(zod: Internals, schema: unknown, c: Compiler): Decide | undefined {
  const def = zod.def;
  if (checksOf(zod, schema).length > 0) return undefined;
  const catchall = def.catchall === undefined ? undefined : internals(def.catchall).def.type;
  // Strict (catchall never) or strip (no catchall); loose/catchall objects are left to zod.
  if (catchall !== undefined && catchall !== 'never') return undefined;
  const strict = catchall === 'never';
  const shape = def.shape as Record<PropertyKey, unknown>;
  if (typeof shape !== 'object' || shape === null) return undefined;
  if (Object.getOwnPropertySymbols(shape).length > 0) return undefined;
  const keys = Object.keys(shape);
  const nodes: Decide[] = [];
  const optional: boolean[] = [];
  for (const k of keys) {
    // zod reads `input[key]` and tests `key in input`, which see inherited members of a plain
    // object ('constructor', 'toString'…) and treat `__proto__` specially: left to zod.
    if (k in Object.prototype || k === '__proto__') return undefined;
    const field = shape[k];
    const n = compileNode(field, c);
    if (!n) return undefined;
    const { optin, optout } = internals(field);
    // An absent key is skipped only when the field is optional in and out (handlePropertyResult).
    if (optin === undefined) optional.push(false);
    else if (optin === 'optional' && optout === 'optional') optional.push(true);
    else return undefined;
    nodes.push(n);
  }
  const keySet = new Set(keys);
  const required = keys.filter((_, i) => !optional[i]);
  const n = keys.length;
  const objectProto = Object.prototype;
  const fromJson = c.fromJson;

  // Off the fast path: does zod certainly fail (unknown key of a strict object, missing required
  // key), or may it succeed with another value (keys in another order, stripped keys…)?
  const slow = (v: Record<string, unknown>): Verdict => {
    for (const k in v) if (!keySet.has(k)) return strict ? REJECT : UNSURE;
    for (const k of required) if (!(k in v)) return REJECT;
    return UNSURE;
  };

  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return REJECT;
    // zod's output is a plain object: other prototypes (null, class instances) are left to it.
    if (Object.getPrototypeOf(v) !== objectProto) return UNSURE;
    const o = v as Record<string, unknown>;
    // zod builds its output in shape order; input keys must come in that order (optional ones may
    // be missing), so that keeping the input is indistinguishable from taking zod's output.
    let p = 0;
    for (const k in o) {
      while (p < n && keys[p] !== k) {
        // A skipped key must be absent: not present elsewhere, nor non-enumerable.
        if (!optional[p] || keys[p]! in o) return slow(o);
        p++;
      }
      if (p === n) return slow(o);
      const r = nodes[p]!(o[k]);
      if (r !== ACCEPT) return r;
      p++;
    }
    for (; p < n; p++) if (!optional[p] || keys[p]! in o) return slow(o);
    // zod copies no symbol-keyed property.
    if (!fromJson && Object.getOwnPropertySymbols(o).length > 0) return UNSURE;
    return ACCEPT;
  };
}

/**
 * `z.record(z.string(), value)` (core/schemas.js $ZodRecord, key schema without values nor checks): a
 * plain object whose every value is accepted; zod copies its own enumerable keys in order, skipping
 * `__proto__` (then the output differs: left to zod).
 */
function compileRecord(zod: Internals, schema: unknown, c: Compiler): Decide | undefined {
  const def = zod.def;
  if (checksOf(zod, schema).length > 0 || def.partial || (def.mode !== undefined && def.mode !== 'strict'))
    return undefined;
  const key = internals(def.keyType);
  if (key?.def.type !== 'string' || key.values !== undefined || checksOf(key, def.keyType).length > 0)
    return undefined;
  const value = compileNode(def.valueType, c);
  if (!value) return undefined;
  const objectProto = Object.prototype;
  const fromJson = c.fromJson;
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return REJECT;
    if (Object.getPrototypeOf(v) !== objectProto) return UNSURE;
    const o = v as Record<string, unknown>;
    let n = 0;
    for (const k in o) {
      if (k === '__proto__') return UNSURE;
      const r = value(o[k]);
      if (r !== ACCEPT) return r;
      n++;
    }
    // Non-enumerable and symbol keys: zod's output differs or zod fails (a symbol is not a string key).
    if (!fromJson && Reflect.ownKeys(o).length !== n) return UNSURE;
    return ACCEPT;
  };
}

/** Options of `compileValidator`. */
export interface CompileValidatorOptions {
  /**
   * The values come from `JSON.parse`, so they cannot have symbol-keyed properties (which zod does
   * not copy): the predicate does not look for them. Saves `Object.getOwnPropertySymbols` per
   * object, measured at ≈65 ns of a ≈235 ns streetlight check. Default false.
   */
  fromJson?: boolean;
}

/**
 * Compiles a zod 4 schema into a predicate that is true only if `schema.safeParse(v)` succeeds with
 * an output equal to `v` (so `v` can be kept as is); `undefined` when the schema uses a construct
 * the compiler does not model exactly (transforms, defaults, coercion, refinements…), or when zod is
 * not the release line the compiler was written against (`ZOD_PINNED_RELEASE`).
 */
export function compileValidator(
  schema: z.ZodType,
  options: CompileValidatorOptions = {},
): ((v: unknown) => boolean) | undefined {
  if (zodRelease !== ZOD_PINNED_RELEASE) return undefined;
  const node = compileNode(schema, {
    compiling: new Set(),
    done: new Map(),
    fromJson: options.fromJson === true,
  });
  if (!node) return undefined;
  return (v) => node(v) === ACCEPT;
}
