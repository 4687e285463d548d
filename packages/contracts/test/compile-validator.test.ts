import { isDeepStrictEqual } from 'node:util';
import {
  FAMILIES,
  sampleTelemetry,
  storedTelemetrySchemas,
  telemetrySchemas,
  toFieldIssues,
  validateTelemetry,
  type Family,
} from '../src/index';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileValidator, ZOD_PINNED_RELEASE, zodRelease } from '../src/compile-validator';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Seeded PRNG (mulberry32): the fuzzing is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Same own keys in the same order, all the way down (zod builds objects in shape order). */
function sameKeyOrder(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return true;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => sameKeyOrder((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** What the predicate promises: zod accepts `v` and outputs the same value, keys in the same order. */
function zodKeeps(schema: z.ZodType, v: unknown): boolean {
  const r = schema.safeParse(v);
  return r.success && isDeepStrictEqual(r.data, v) && sameKeyOrder(r.data, v);
}

const samples = Object.fromEntries(
  FAMILIES.map((f): [Family, Record<string, unknown>] => [f, clone(sampleTelemetry(f))]),
) as Record<Family, Record<string, unknown>>;

// Values a field may become: valid ones of every family (so that many mutants stay valid), wrong
// types, boundaries, non-finite numbers, numeric-looking and odd strings, nested shapes.
const ODD: unknown[] = [
  ...new Set(FAMILIES.flatMap((f) => Object.values(samples[f]))),
  ...['on', 'off', 'dimmed', 'lamp', 'driver', 'communication', 'breaker', 'door', 'normal'],
  ...['flashing', 'conflict', 'salting', 'idle', 'AGT-1', 'x'],
  null,
  true,
  false,
  '',
  ' ',
  'NaN',
  'Infinity',
  '1',
  '-0',
  '1e3',
  '0x10',
  '2026-01-15T06:30:00Z',
  '2026-01-15T06:30:00+01:00',
  '2026-01-15T06:30:00.123456789-23:59',
  '2024-02-29T00:00:00Z',
  '2025-02-29T00:00:00Z',
  '2026-01-15T24:00:00Z',
  '2026-01-15T06:30Z',
  '2026-01-15 06:30:00Z',
  '2026-01-15T06:30:00',
  '2026-01-15T06:30:00Z\n',
  '\ud83d\ude00',
  '\ud83d',
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  3,
  9,
  10,
  16,
  17,
  64,
  65,
  100,
  100.0001,
  255,
  256,
  360,
  512,
  3600,
  3601,
  86_400,
  86_401,
  100_000,
  100_001,
  1_000_000,
  2 ** 31,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.EPSILON,
  NaN,
  Infinity,
  -Infinity,
  47.3,
  5.03,
  [],
  [1],
  ['lamp'],
  ['lamp', 'lamp', 'lamp', 'lamp'],
  ['breaker', 'door'],
  [null],
  {},
  { lat: 47.3, lon: 5 },
  { lat: 47.3, lon: 5, x: 1 },
  { lon: 5, lat: 47.3 },
  { lat: '47.3', lon: 5 },
  { lane: 3, vehicles: 1, occupancyPct: 2.5, meanSpeedKmh: null },
  { lane: 0, vehicles: 1, occupancyPct: 2.5, meanSpeedKmh: 12 },
  [{ lane: 1, vehicles: 1, occupancyPct: 1, meanSpeedKmh: 1 }],
];
const EXTRA_KEYS = ['extra', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', 'seq ', 'Seq'];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Every object and array inside `v` (the value itself included). */
function containers(v: unknown, out: object[] = []): object[] {
  if (typeof v === 'object' && v !== null) {
    out.push(v);
    for (const x of Object.values(v)) containers(x, out);
  }
  return out;
}

function setOwn(o: object, k: PropertyKey, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

/** Applies one random mutation somewhere inside `root` (in place). */
function mutateOnce(root: Record<string, unknown>, r: () => number): void {
  const target = pick(r, containers(root));
  const value = (): unknown => structuredClone(pick(r, ODD));
  if (Array.isArray(target)) {
    const arr = target as unknown[];
    switch (Math.floor(r() * 6)) {
      case 0:
        arr[Math.floor(r() * (arr.length + 1))] = value();
        return;
      case 1:
        arr.splice(Math.floor(r() * arr.length), 1);
        return;
      case 2:
        arr.length = 0;
        return;
      case 3:
        while (arr.length > 0 && arr.length < 20) arr.push(structuredClone(arr[0]));
        return;
      case 4:
        arr.length += 1; // a hole
        return;
      default:
        if (arr.length > 0) arr.push(structuredClone(arr[arr.length - 1]));
        return;
    }
  }
  const obj = target as Record<string, unknown>;
  const keys = Object.keys(obj);
  switch (Math.floor(r() * 7)) {
    case 0:
      if (keys.length) delete obj[pick(r, keys)];
      return;
    case 1:
      setOwn(obj, pick(r, EXTRA_KEYS), value());
      return;
    case 2: {
      // Same keys, another order.
      const entries = Object.entries(obj).sort(() => r() - 0.5);
      for (const k of keys) delete obj[k];
      for (const [k, v] of entries) setOwn(obj, k, v);
      return;
    }
    case 3:
      if (keys.length) obj[pick(r, keys)] = undefined;
      return;
    default:
      if (keys.length) obj[pick(r, keys)] = value();
      return;
  }
}

describe('compileValidator on the stored telemetry schemas', () => {
  it.each(FAMILIES.map((f) => [f]))('compiles the %s schema and accepts its sample', (family) => {
    const schema = storedTelemetrySchemas[family] as unknown as z.ZodType;
    for (const fromJson of [false, true]) {
      const keeps = compileValidator(schema, { fromJson });
      expect(keeps).toBeDefined();
      expect(keeps!(clone(samples[family]))).toBe(true);
      expect(zodKeeps(schema, clone(samples[family]))).toBe(true);
    }
  });

  it.each(FAMILIES.map((f) => [f]))(
    'never accepts a mutated %s payload that zod rejects or changes, and accepts what zod keeps',
    (family) => {
      const schema = storedTelemetrySchemas[family] as unknown as z.ZodType;
      const keeps = compileValidator(schema)!;
      const keepsJson = compileValidator(schema, { fromJson: true })!;
      const r = rng(FAMILIES.indexOf(family) + 1);
      let accepted = 0;
      let kept = 0;
      let rejectedByZod = 0;
      const N = 4000;
      for (let i = 0; i < N; i++) {
        const m = clone(samples[family]);
        const times = 1 + Math.floor(r() * 3);
        for (let j = 0; j < times; j++) mutateOnce(m, r);
        const zodKept = zodKeeps(schema, structuredClone(m));
        const ok = keeps(m);
        // These mutants have no symbol keys: both variants must agree.
        expect(keepsJson(m)).toBe(ok);
        if (ok) {
          accepted++;
          if (!zodKept) expect.fail(`accepted a value zod rejects or changes: ${JSON.stringify(m)}`);
        }
        if (zodKept) kept++;
        if (!schema.safeParse(m).success) rejectedByZod++;
      }
      // Not trivially false: many mutants are valid (other valid values, optional keys…) and the
      // predicate takes all of them here (it may only miss what zod would change or reject).
      expect(kept).toBeGreaterThan(N / 50);
      expect(accepted).toBe(kept);
      // And the mutations do produce invalid payloads.
      expect(rejectedByZod).toBeGreaterThan(N / 2);
    },
  );

  it('accepts valid random variations of the payloads', () => {
    const r = rng(42);
    const between = (lo: number, hi: number, int = false) =>
      int ? lo + Math.floor(r() * (hi - lo + 1)) : lo + r() * (hi - lo);
    const faults = ['lamp', 'driver', 'communication'] as const;
    const lanes = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        lane: i + 1,
        vehicles: between(0, 10_000, true),
        occupancyPct: between(0, 100),
        meanSpeedKmh: r() < 0.2 ? null : between(0, 250),
      }));
    const variations: [Family, Record<string, unknown>][] = [];
    for (let i = 0; i < 500; i++) {
      const observedAt = new Date(Date.UTC(2026, 0, 1) + between(0, 1e10, true)).toISOString();
      const seq = between(0, Number.MAX_SAFE_INTEGER, true);
      const streetlight: Record<string, unknown> = {
        seq,
        observedAt,
        state: pick(r, ['on', 'off', 'dimmed']),
        dimLevelPct: between(0, 100),
        powerW: between(0, 2000),
        energyWh: between(0, 1_000_000),
        intervalS: between(1, 86_400, true),
        burningHours: between(0, 500_000),
        faults: faults.filter(() => r() < 0.3),
        ...(r() < 0.5 ? { presenceDetections: between(0, 1e9, true) } : {}),
      };
      const vehicle: Record<string, unknown> = {
        seq,
        observedAt: observedAt.replace('Z', '+01:00'),
        ...(r() < 0.5 ? { position: { lat: between(47.1, 47.5), lon: between(4.8, 5.3) } } : {}),
        speedKmh: between(0, 130),
        headingDeg: between(0, 360),
        activity: pick(r, ['salting', 'ploughing', 'sweeping', 'patrol', 'transit', 'idle']),
        bladeDown: r() < 0.5,
        spreaderOn: r() < 0.5,
        saltKg: between(0, 10_000),
        distanceM: between(0, 100_000),
        ...(r() < 0.5 ? { agentId: 'p-' + between(0, 1e6, true) } : {}),
      };
      const detector = {
        seq,
        observedAt,
        intervalS: between(10, 3600, true),
        lanes: lanes(between(1, 16, true)),
      };
      variations.push(
        ['streetlight', streetlight],
        ['winter-vehicle', vehicle],
        ['traffic-detector', detector],
      );
    }
    for (const [family, v] of variations) {
      const schema = storedTelemetrySchemas[family] as unknown as z.ZodType;
      expect(zodKeeps(schema, clone(v)), JSON.stringify(v)).toBe(true);
      expect(compileValidator(schema, { fromJson: true })!(clone(v)), JSON.stringify(v)).toBe(true);
    }
  });

  it('leaves to zod the values it would copy differently', () => {
    const schema = storedTelemetrySchemas.streetlight as unknown as z.ZodType;
    const keeps = compileValidator(schema)!;
    const keepsJson = compileValidator(schema, { fromJson: true })!;
    const base = () => clone(samples.streetlight);
    const reordered = Object.fromEntries(Object.entries(base()).reverse());
    expect(schema.safeParse(reordered).success).toBe(true); // zod accepts, in another key order
    expect(keeps(reordered)).toBe(false);
    expect(keeps(Object.assign(Object.create(null) as object, base()))).toBe(false);
    const inherited = Object.create({ presenceDetections: 1 }) as Record<string, unknown>;
    expect(keeps(Object.assign(inherited, base()))).toBe(false);
    const hidden = base();
    delete hidden.presenceDetections;
    Object.defineProperty(hidden, 'presenceDetections', { value: 3, enumerable: false });
    expect(keeps(hidden)).toBe(false); // zod reads it and outputs it as an own enumerable key
    const vehicle = clone(samples['winter-vehicle']);
    const position = vehicle.position;
    delete vehicle.position; // an optional key in the middle of the shape
    Object.defineProperty(vehicle, 'position', { value: position, enumerable: false });
    expect(storedTelemetrySchemas['winter-vehicle'].safeParse(vehicle).success).toBe(true);
    expect(compileValidator(storedTelemetrySchemas['winter-vehicle'])!(vehicle)).toBe(false);
    const withSymbol = { ...base(), [Symbol('s')]: 1 };
    expect(keeps(withSymbol)).toBe(false);
    // Documented: values from JSON.parse cannot have symbol keys, so fromJson does not look.
    expect(keepsJson(withSymbol)).toBe(true);
    const proto = base();
    setOwn(proto, '__proto__', {});
    expect(keeps(proto)).toBe(false);
    const holes = base();
    (holes.faults as unknown[]).length = 1;
    expect(keeps(holes)).toBe(false);
    class Faults extends Array<unknown> {}
    expect(keeps({ ...base(), faults: new Faults() })).toBe(false);
    // An optional key present with `undefined` comes out the same from zod.
    expect(zodKeeps(schema, { ...base(), presenceDetections: undefined })).toBe(true);
    expect(keeps({ ...base(), presenceDetections: undefined })).toBe(true);
    expect(keeps({ ...base(), seq: undefined })).toBe(false);
  });
});

describe('compileValidator pinning', () => {
  it('reads the internals of the zod release line the workspace installs (an upgrade must pass these tests first)', () => {
    expect(zodRelease).toBe(ZOD_PINNED_RELEASE);
  });
});

describe('compileValidator constructs', () => {
  // Small schemas covering what the compiler models, each fuzzed against zod with `values`.
  const strings = [
    '',
    'a',
    'ab',
    'abc',
    'ABC',
    'a-b_c',
    '\ud83d\ude00',
    '\ud83d\ude00\ud83d\ude00',
    '\ud83d',
    'é',
  ];
  const more = [
    ...strings,
    ...strings.map((s) => s + s + s),
    'user@example.com',
    '123e4567-e89b-42d3-a456-426614174000',
    '2026-01-15',
    '2026-01-15T06:30:00Z',
    '06:30:00',
    'P1D',
    '192.168.0.1',
  ];
  const numbers = [
    0,
    -0,
    1,
    -1,
    0.5,
    1.5,
    2,
    10,
    2 ** 31,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 32,
    2 ** 53,
    NaN,
    Infinity,
  ];
  const values: unknown[] = [
    ...more,
    ...numbers,
    null,
    undefined,
    true,
    false,
    [],
    ['a'],
    ['a', 'b', 'c'],
    [1, 'a'],
    {},
    { a: 'x' },
    { a: 'x', b: 1 },
    { b: 1, a: 'x' },
    { a: 'x', b: null },
    { a: 1 },
    { a: undefined },
    { kind: 'a', a: 'x' },
    { kind: 'b', b: 2 },
    { '2': 1, '10': 2, a: 3 },
    { a: -1 },
    JSON.parse('{"__proto__": 1, "a": 1}'),
    Object.assign(Object.create(null) as object, { a: 1 }),
    Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false }),
    { a: 1, [Symbol('s')]: 2 },
  ];
  const strict = z.strictObject({ a: z.string(), b: z.number().optional() });
  const schemas: [string, z.ZodType][] = [
    ['string', z.string()],
    ['string lengths (code points)', z.string().min(2).max(3)],
    ['string length', z.string().length(2)],
    ['regex with the g flag', z.string().regex(/^[a-c-]+$/g)],
    ['lowercase', z.string().lowercase()],
    ['email', z.email()],
    ['uuid', z.uuid()],
    ['iso date', z.iso.date()],
    ['iso time', z.iso.time()],
    ['iso duration', z.iso.duration()],
    ['ipv4', z.ipv4()],
    ['number', z.number()],
    ['exclusive bounds', z.number().gt(0).lt(2)],
    ['int', z.int()],
    ['int32', z.int32()],
    ['uint32', z.uint32()],
    ['float32', z.float32()],
    ['boolean', z.boolean()],
    ['null', z.null()],
    ['literal', z.literal(['a', 1, null])],
    ['enum', z.enum(['a', 'b'])],
    ['nullable', z.number().nullable()],
    ['optional', z.string().optional()],
    ['unknown', z.unknown()],
    ['array', z.array(z.string()).min(1).max(2)],
    ['array length', z.array(z.unknown()).length(1)],
    ['strict object', strict],
    ['strip object', z.object({ a: z.string() })],
    ['object with an unknown field', z.strictObject({ a: z.unknown() })],
    ['union', z.union([z.string(), z.number().int(), strict])],
    // zod returns the first option that succeeds: here the stripping one, which drops `b`.
    ['union with a stripping option first', z.union([z.object({ a: z.string() }), strict])],
    ['nested', z.array(z.union([strict, z.null()]))],
    ['record', z.record(z.string(), z.int().min(0))],
    ['record in an object', z.strictObject({ a: z.record(z.string(), z.string()).optional() })],
  ];

  it.each(schemas)('%s: accepts only what zod keeps', (_name, schema) => {
    const keeps = compileValidator(schema);
    expect(keeps).toBeDefined();
    let kept = 0;
    for (const v of values) {
      const zodKept = zodKeeps(schema, structuredClone(v));
      if (keeps!(v)) expect(zodKept, `${JSON.stringify(v)} (${typeof v})`).toBe(true);
      if (zodKept) kept++;
    }
    expect(kept).toBeGreaterThan(0);
  });

  it('counts string lengths as zod does (code points), on random strings', () => {
    const r = rng(7);
    const units = ['a', '\ud83d', '\ude00', '\ud83d\ude00', 'é'];
    const schema = z.string().min(3).max(5);
    const exact = z.string().length(4);
    const keeps = compileValidator(schema)!;
    const keepsExact = compileValidator(exact)!;
    for (let i = 0; i < 2000; i++) {
      const s = Array.from({ length: Math.floor(r() * 12) }, () => pick(r, units)).join('');
      expect(keeps(s), JSON.stringify(s)).toBe(schema.safeParse(s).success);
      expect(keepsExact(s), JSON.stringify(s)).toBe(exact.safeParse(s).success);
    }
  });

  it('takes the stripping option of a union as zod does', () => {
    const keeps = compileValidator(z.union([z.object({ a: z.string() }), strict]))!;
    expect(keeps({ a: 'x' })).toBe(true);
    expect(keeps({ a: 'x', b: 1 })).toBe(false); // zod's output is { a: 'x' }
  });

  it.each([
    ['a transform', z.string().transform((s) => s.trim())],
    ['a refine', z.number().refine((n) => n % 2 === 0)],
    ['a superRefine', z.strictObject({ a: z.string() }).superRefine(() => undefined)],
    ['a default', z.strictObject({ a: z.int().default(0) })],
    ['coercion', z.coerce.number()],
    ['an overwrite (trim)', z.string().trim()],
    ['a pipe', z.string().pipe(z.string())],
    ['a code-checked format (url)', z.url()],
    ['a custom string format', z.stringFormat('datetime', () => true)],
    ['a startsWith check', z.string().startsWith('a')],
    ['a multipleOf check', z.number().multipleOf(2)],
    ['a record with checked keys', z.record(z.string().min(2), z.number())],
    ['a record with enumerated keys', z.record(z.enum(['a', 'b']), z.number())],
    ['a loose record', z.looseRecord(z.string(), z.number())],
    ['a partial record', z.partialRecord(z.enum(['a', 'b']), z.number())],
    ['a loose object', z.looseObject({ a: z.string() })],
    ['a discriminated union', z.discriminatedUnion('k', [z.strictObject({ k: z.literal('a') })])],
    ['a catch', z.string().catch('x')],
    ['a deep refine', z.strictObject({ a: z.array(z.string().refine((s) => s !== 'x')) })],
  ])('returns undefined for a schema with %s', (_what, schema) => {
    expect(compileValidator(schema as z.ZodType)).toBeUndefined();
  });

  it('returns undefined for a recursive schema', () => {
    const Tree = z.strictObject({
      get children(): z.ZodArray<typeof Tree> {
        return z.array(Tree);
      },
    });
    expect(compileValidator(Tree)).toBeUndefined();
  });
});

describe('validateTelemetry with its compiled fast path (the raw schemas ingest checks)', () => {
  it.each(FAMILIES.map((f) => [f]))(
    'gives exactly what zod alone gives for mutated %s payloads',
    (family) => {
      const schema = telemetrySchemas[family] as unknown as z.ZodType;
      expect(compileValidator(schema, { fromJson: true })).toBeDefined();
      const r = rng(100 + FAMILIES.indexOf(family));
      const now = Date.UTC(2026, 10, 28, 12);
      let fast = 0;
      for (let i = 0; i < 3000; i++) {
        const m = clone(samples[family]);
        const times = Math.floor(r() * 3); // 0 to 2 mutations: valid payloads too
        for (let j = 0; j < times; j++) mutateOnce(m, r);
        const got = validateTelemetry(family, m, { now, fromJson: true });
        // The reference: zod only, then the same future-time rule.
        const parsed = schema.safeParse(structuredClone(m));
        if (!parsed.success) {
          expect(got).toEqual({ ok: false, issues: toFieldIssues(parsed.error), futureTime: false });
          continue;
        }
        const observed = Date.parse((parsed.data as { observedAt: string }).observedAt);
        if (observed > now + 5 * 60_000) {
          expect(got.ok).toBe(false);
          continue;
        }
        expect(got.ok).toBe(true);
        if (got.ok) {
          expect(got.value).toStrictEqual(parsed.data);
          if (got.value === m) fast++;
        }
      }
      // The fast path was taken (the value is the payload itself) for a good share of valid payloads.
      expect(fast).toBeGreaterThan(300);
    },
  );
});
