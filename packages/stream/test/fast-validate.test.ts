import { FAMILIES, sampleTelemetry, TOPICS, type Family, type TopicName } from '@ondijon/contracts';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { defineWindowedAggregation } from '../src/define';
import { tumbling } from '../src/windows';
import { decode } from '../src/engine';
import { envelopeCheck, fastParse } from '../src/fast-validate';
import { telemetryEnvelope, telemetryTopicOf } from '../src/fixtures';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function validOf(family: Family): { topic: TopicName; value: Record<string, unknown> } {
  const data = sampleTelemetry(family);
  const value = telemetryEnvelope(family, data as never, { equipmentId: `EQ-${family}` });
  return { topic: telemetryTopicOf(family) as TopicName, value: clone(value) };
}

// Values a field may be mutated to: wrong types, empty, edge numbers, bad formats.
const ODD: unknown[] = [
  undefined,
  null,
  '',
  'x',
  0,
  -1,
  1.5,
  2 ** 53,
  true,
  [],
  ['x'],
  {},
  { a: 1 },
  '1.0',
  'application/json',
  'Dijon Métropole',
  '21231',
  '2125',
  'S5',
  'S1',
  'fr.dijon.ondijon.telemetry.streetlight.v1',
  'fr.dijon.ondijon.Telemetry',
  '2025-02-29T10:00:00Z',
  '2024-02-29T10:00:00Z',
  '2025-01-15T10:00:00',
  '2025-01-15T10:00:00+01:00',
  '2025-01-15T24:00:00Z',
  '2025-01-15 10:00:00Z',
];

/** Every single-field mutation of `v` (top level, lineage and data), plus unknown keys. */
function* mutations(v: Record<string, unknown>): Generator<unknown> {
  const keys = [...Object.keys(v), 'extra', '__proto__', 'window'];
  for (const k of keys)
    for (const odd of ODD) {
      const m = clone(v);
      if (odd === undefined) delete m[k];
      else Object.defineProperty(m, k, { value: odd, enumerable: true, writable: true, configurable: true });
      yield m;
    }
  for (const nested of ['lineage', 'data'] as const) {
    const inner = v[nested] as Record<string, unknown>;
    for (const k of [...Object.keys(inner), 'extra', 'window', 'countsByOperator', 'fieldActions'])
      for (const odd of [
        ...ODD,
        { start: '2025-01-15T10:00:00Z', end: '2025-01-15T11:00:00Z' },
        { op: 3 },
        { op: -3 },
      ]) {
        const m = clone(v);
        const n = m[nested] as Record<string, unknown>;
        if (odd === undefined) delete n[k];
        else n[k] = odd;
        yield m;
      }
  }
  yield null;
  yield 'text';
  yield [v];
}

describe('fast envelope validation', () => {
  it('is enabled: the compiler models every construct of the Envelope schema', () => {
    // When this fails, Envelope uses a construct compileValidator leaves to zod: every record takes
    // the full zod parse (correct, slower) until the compiler models it.
    expect(envelopeCheck).toBeDefined();
  });

  it.each(FAMILIES.map((f) => [f]))('accepts a valid %s envelope, with the same value as zod', (family) => {
    const { topic, value } = validOf(family);
    const zod = (TOPICS[topic].schema as unknown as z.ZodType).safeParse(clone(value));
    expect(zod.success).toBe(true);
    const fast = fastParse(topic, clone(value));
    expect(fast).toBeDefined();
    expect(fast!.data).toEqual(zod.data);
  });

  it.each(FAMILIES.map((f) => [f]))(
    'never accepts a mutated %s envelope that zod rejects (and agrees on values)',
    (family) => {
      const { topic, value } = validOf(family);
      const schema = TOPICS[topic].schema as unknown as z.ZodType;
      let fastAccepted = 0;
      let checked = 0;
      for (const m of mutations(value)) {
        checked++;
        const zod = schema.safeParse(clone(m));
        const fast = fastParse(topic, clone(m));
        if (fast) {
          fastAccepted++;
          expect(zod.success, JSON.stringify(m)).toBe(true);
          expect(fast.data).toEqual(zod.data);
        }
      }
      expect(checked).toBeGreaterThan(500);
      // Some mutations are valid (e.g. another valid commune or class): the fast path takes them.
      expect(fastAccepted).toBeGreaterThan(0);
    },
  );

  it.each(FAMILIES.map((f) => [f]))(
    'keeps the data of a valid %s envelope as is (compiled check, no zod copy)',
    (family) => {
      const { topic, value } = validOf(family);
      const data = value.data;
      const fast = fastParse(topic, value);
      expect(fast).toBeDefined();
      expect(fast!.data).toBe(value);
      expect(value.data).toBe(data);
    },
  );

  it('hands data zod would change to zod, and takes its output', () => {
    const { topic, value } = validOf('streetlight');
    // Valid, but in another key order: zod outputs the keys in schema order.
    value.data = Object.fromEntries(Object.entries(value.data as object).reverse());
    const data = value.data;
    const zod = (TOPICS[topic].schema as unknown as z.ZodType).safeParse(clone(value));
    const fast = fastParse(topic, value);
    expect(fast).toBeDefined();
    expect(value.data).not.toBe(data);
    expect(Object.keys(value.data as object)).toEqual(Object.keys((zod.data as { data: object }).data));
    expect(fast!.data).toEqual(zod.data);
  });

  it('leaves to zod what it cannot decide', () => {
    expect(envelopeCheck!(null)).toBe(false);
    const { value } = validOf('streetlight');
    expect(envelopeCheck!(value)).toBe(true);
    const inherited = Object.create({ extra: 1 }) as Record<string, unknown>;
    Object.assign(inherited, value);
    expect(envelopeCheck!(inherited)).toBe(false);
    // Attributes out of schema order: zod would reorder them, so the fast path leaves it to zod.
    const { id, ...rest } = value;
    expect(envelopeCheck!({ ...rest, id })).toBe(false);
    expect(fastParse('tel.s1.lighting.v1', { ...rest, id })).toBeUndefined();
    // A topic that is not an envelope (dead letters) never takes the fast path.
    expect(fastParse('dlq.s3.stream.v1', value)).toBeUndefined();
  });
});

describe('decode keeps the same strictness', () => {
  const proc = defineWindowedAggregation({
    name: 'fast-decode-test',
    version: '1.0.0',
    inputs: ['tel.s1.lighting.v1'],
    output: 'agg.s1.lighting-commune-hour.v1',
    window: tumbling('1h'),
    graceMs: 0,
    late: 'revise',
    key: () => ({ commune: '21231' }),
    init: () => ({}),
    add: (acc) => acc,
    result: () => ({
      energyKwh: 0,
      burningHours: 0,
      luminairesReporting: 0,
      cabinetsReporting: 0,
      faultsLamp: 0,
      faultsDriver: 0,
      faultsCommunication: 0,
      dimmedShare: null,
    }),
  });
  const raw = (value: unknown) => ({
    topic: 'tel.s1.lighting.v1' as const,
    key: 'k',
    value: Buffer.from(JSON.stringify(value)),
    partition: 0,
    offset: '7',
  });
  const base = () => validOf('streetlight').value;

  it('decodes a valid record', () => {
    const d = decode(proc, raw(base()));
    expect(d.ok).toBe(true);
  });

  it.each([
    ['an unknown envelope attribute', (v: Record<string, unknown>) => (v.extra = 1), 'extra'],
    ['a bad time', (v: Record<string, unknown>) => (v.time = '2025-13-01T00:00:00Z'), 'time'],
    ['a bad type', (v: Record<string, unknown>) => (v.type = 'telemetry'), 'type'],
    ['a missing lineage', (v: Record<string, unknown>) => delete v.lineage, 'lineage'],
    [
      'an unknown lineage field',
      (v: Record<string, unknown>) => ((v.lineage as Record<string, unknown>).x = 1),
      'lineage.x',
    ],
    [
      'a negative energy',
      (v: Record<string, unknown>) => ((v.data as Record<string, unknown>).energyWh = -1),
      'data',
    ],
    ['a wrong class', (v: Record<string, unknown>) => (v.sensitivity = 'S9'), 'sensitivity'],
  ])('dead-letters %s with a reason naming the field', (_what, mutate, path) => {
    const v = base();
    mutate(v);
    const d = decode(proc, raw(v));
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.deadLetter.code).toBe('ONDIJON_RECORD_INVALID');
    expect(d.deadLetter.reason).toBe('record does not match the schema of tel.s1.lighting.v1');
    expect(d.deadLetter.issues!.map((i) => i.path).some((p) => p.startsWith(path))).toBe(true);
  });
});
