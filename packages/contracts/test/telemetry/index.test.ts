import { describe, expect, it } from 'vitest';
import {
  FAMILIES,
  type Family,
  sampleTelemetry,
  storedTelemetrySchemas,
  telemetrySchemas,
  validateTelemetry,
  formatIssues,
} from '../../src/index';

const NOW = Date.parse('2026-01-15T06:31:00.000Z');

/** Per family: a numeric field with its out-of-range value, and an enum field when the family has one. */
const cases: Record<Family, { number: [string, number]; enumField?: [string, string, string] }> = {
  streetlight: { number: ['dimLevelPct', 150], enumField: ['state', 'blinking', 'state'] },
  'lighting-cabinet': { number: ['circuitsOn', 65], enumField: ['faults', 'fire', 'faults.0'] },
  'signal-controller': { number: ['plan', 256], enumField: ['mode', 'party', 'mode'] },
  'traffic-detector': { number: ['intervalS', 5] },
  'winter-vehicle': { number: ['speedKmh', 500], enumField: ['activity', 'dancing', 'activity'] },
  'weather-station': { number: ['surfaceTempC', 120] },
};

/** Validates and expects failure naming `path`. */
function expectRejected(family: Family, payload: unknown, path: string, code?: string) {
  const r = validateTelemetry(family, payload, { now: NOW });
  expect(r.ok, `${family} should reject ${path}`).toBe(false);
  if (r.ok) return;
  const issue = r.issues.find((i) => i.path === path);
  expect(issue, `issues: ${formatIssues(r.issues)}`).toBeDefined();
  if (code) expect(issue?.code).toBe(code);
}

describe.each(FAMILIES)('%s telemetry', (family) => {
  const c = cases[family];

  it('accepts a valid sample', () => {
    const r = validateTelemetry(family, sampleTelemetry(family), { now: NOW });
    expect(r.ok).toBe(true);
  });

  it('accepts a sample round-tripped through JSON', () => {
    expect(
      validateTelemetry(family, JSON.parse(JSON.stringify(sampleTelemetry(family))), { now: NOW }).ok,
    ).toBe(true);
  });

  it('rejects a missing field, naming it', () => {
    for (const field of ['seq', 'observedAt', c.number[0]]) {
      const p: Record<string, unknown> = sampleTelemetry(family);
      delete p[field];
      expectRejected(family, p, field, 'invalid_type');
    }
  });

  it('rejects a wrong type, naming the field', () => {
    expectRejected(family, { ...sampleTelemetry(family), seq: '42' }, 'seq', 'invalid_type');
    expectRejected(
      family,
      { ...sampleTelemetry(family), [c.number[0]]: 'many' },
      c.number[0],
      'invalid_type',
    );
    expectRejected(
      family,
      { ...sampleTelemetry(family), observedAt: 1768458600000 },
      'observedAt',
      'invalid_type',
    );
  });

  it('rejects an out-of-range value, naming the field', () => {
    expectRejected(family, { ...sampleTelemetry(family), [c.number[0]]: c.number[1] }, c.number[0]);
    expectRejected(family, { ...sampleTelemetry(family), seq: -1 }, 'seq', 'too_small');
  });

  it('rejects an unknown enum value, naming the field', () => {
    if (!c.enumField) {
      // Families without an enum field: a bad timestamp format stands in (the other closed-set check).
      expectRejected(
        family,
        { ...sampleTelemetry(family), observedAt: '15/01/2026 06:30' },
        'observedAt',
        'invalid_format',
      );
      return;
    }
    const [field, bad, path] = c.enumField;
    const value = path.endsWith('.0') ? [bad] : bad;
    expectRejected(family, { ...sampleTelemetry(family), [field]: value }, path, 'invalid_value');
  });

  it('rejects an extra field, naming it', () => {
    expectRejected(family, { ...sampleTelemetry(family), colour: 'red' }, 'colour', 'unrecognized_keys');
  });

  it('rejects non-finite numbers, naming the field', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expectRejected(family, { ...sampleTelemetry(family), [c.number[0]]: bad }, c.number[0]);
    }
  });

  it('rejects a timestamp far in the future, naming observedAt', () => {
    const future = new Date(NOW + 60 * 60_000).toISOString();
    const r = validateTelemetry(family, { ...sampleTelemetry(family), observedAt: future }, { now: NOW });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.futureTime).toBe(true);
    expect(r.issues).toEqual([expect.objectContaining({ path: 'observedAt', code: 'time_in_future' })]);
  });

  it('accepts small device clock skew', () => {
    const skewed = new Date(NOW + 60_000).toISOString();
    expect(
      validateTelemetry(family, { ...sampleTelemetry(family), observedAt: skewed }, { now: NOW }).ok,
    ).toBe(true);
  });

  it('reports every problem, not just the first', () => {
    const p: Record<string, unknown> = { ...sampleTelemetry(family), seq: 'x', extra: 1 };
    delete p.observedAt;
    const r = validateTelemetry(family, p, { now: NOW });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path).sort()).toEqual(['extra', 'observedAt', 'seq']);
  });

  it('has a stored schema that accepts the raw sample', () => {
    expect(storedTelemetrySchemas[family].safeParse(sampleTelemetry(family)).success).toBe(true);
    expect(Object.keys(storedTelemetrySchemas[family].shape).sort()).toEqual(
      Object.keys(telemetrySchemas[family].shape).sort(),
    );
  });
});

describe('nested paths', () => {
  it('name the lane and field of a bad lane count', () => {
    const p = sampleTelemetry('traffic-detector');
    (p.lanes[1] as Record<string, unknown>).vehicles = -3;
    (p.lanes[0] as Record<string, unknown>).bogus = true;
    const r = validateTelemetry('traffic-detector', p, { now: NOW });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path).sort()).toEqual(['lanes.0.bogus', 'lanes.1.vehicles']);
  });

  it('name the coordinate of a position out of the Métropole box', () => {
    const r = validateTelemetry(
      'winter-vehicle',
      sampleTelemetry('winter-vehicle', { position: { lat: 48.85, lon: 2.35 } }),
      { now: NOW },
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path).sort()).toEqual(['position.lat', 'position.lon']);
  });

  it('reject a non-object payload at the root', () => {
    const r = validateTelemetry('streetlight', [1, 2], { now: NOW });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]?.path).toBe('(root)');
  });
});
