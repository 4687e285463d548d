import { parseTelemetryTopic, validateTelemetry } from '@ondijon/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULTS, EXPECTED_CODE, NO_FAULTS, parseFaultSpec } from '../src/faults';
import { buildFleet } from '../src/fleet';
import { generateStream, LATE_SEQ_BASE } from '../src/generate';
import { surfaceTempC } from '../src/models';
import { generatedRegistry } from '../src/registry';
import { localHour } from '../src/sun';

const SEED = 7;
const registry = generatedRegistry(SEED, 'small');
// A third of the small registry keeps the suite fast; whole cabinets and intersections are kept together.
const fleet = buildFleet(registry, { seed: SEED, fraction: 0.35 });
const JAN = Date.parse('2026-01-12T00:00:00Z');
const JUL = Date.parse('2026-07-13T00:00:00Z');
const HOUR = 3_600_000;
const winterDay = generateStream(fleet, JAN, JAN + 24 * HOUR, SEED, NO_FAULTS);
const faulty = generateStream(fleet, JAN, JAN + 30 * HOUR, SEED, {
  ...DEFAULT_FAULTS,
  malformedJson: 0.01,
  wrongTypes: 0.01,
  clockSkew: 0.01,
  spoofedOperator: 0.01,
  duplicate: 0.01,
  outOfOrder: 0.02,
  late: 0.01,
  excludedSource: 0.01,
  burstPerHour: 0.3,
});

const payloads = (family: string, msgs = winterDay) =>
  msgs
    .filter((m) => m.tag.family === family && m.tag.outcome === 'accepted')
    .map((m) => ({ m, p: JSON.parse(m.payload) as Record<string, unknown> }));

describe('generateStream', () => {
  it('is deterministic from the seed', () => {
    const again = generateStream(
      buildFleet(generatedRegistry(SEED, 'small'), { seed: SEED, fraction: 0.35 }),
      JAN,
      JAN + 24 * HOUR,
      SEED,
      NO_FAULTS,
    );
    expect(again).toEqual(winterDay);
    const other = generateStream(fleet, JAN, JAN + 24 * HOUR, SEED + 1, NO_FAULTS);
    expect(other.map((m) => m.payload)).not.toEqual(winterDay.map((m) => m.payload));
  });

  it('publishes in non-decreasing time with ordinals, and every clean message is valid telemetry', () => {
    expect(winterDay.length).toBeGreaterThan(1000);
    winterDay.forEach((m, i) => {
      expect(m.tag.n).toBe(i);
      if (i > 0) expect(m.at).toBeGreaterThanOrEqual(winterDay[i - 1]!.at);
      const topic = parseTelemetryTopic(m.topic);
      expect(topic.kind).toBe('telemetry');
      if (topic.kind !== 'telemetry') return;
      expect(validateTelemetry(topic.family, JSON.parse(m.payload), { now: JAN + 48 * HOUR }).ok).toBe(true);
      expect(m.tag.outcome).toBe('accepted');
    });
    // Every device reports: one report per interval.
    const ids = new Set(winterDay.map((m) => m.tag.equipmentId));
    expect(ids.size).toBe(fleet.devices.length);
  });

  it('lights street lights at dusk, dims them at night and switches them off by day', () => {
    const byLocalHour = (h0: number, h1: number) =>
      payloads('streetlight')
        .filter(({ m }) => localHour(m.at) >= h0 && localHour(m.at) < h1)
        .map(({ p }) => p.state);
    const noon = byLocalHour(11, 14);
    expect(noon.every((s) => s === 'off')).toBe(true);
    const evening = byLocalHour(19, 22);
    expect(evening.filter((s) => s === 'on').length / evening.length).toBeGreaterThan(0.9);
    const night = byLocalHour(0, 4);
    expect(night.filter((s) => s === 'dimmed').length / night.length).toBeGreaterThan(0.9);
    // Energy only while lit.
    for (const { m, p } of payloads('streetlight'))
      if (localHour(m.at) >= 11 && localHour(m.at) < 14) expect(p.energyWh).toBe(0);
  });

  it('has morning and evening traffic peaks over a quiet night (a Monday)', () => {
    const vehicles = (h0: number, h1: number) =>
      payloads('traffic-detector')
        .filter(({ m }) => localHour(m.at) >= h0 && localHour(m.at) < h1)
        .reduce((s, { p }) => s + (p.lanes as { vehicles: number }[]).reduce((a, l) => a + l.vehicles, 0), 0);
    expect(vehicles(7.5, 8.5)).toBeGreaterThan(5 * vehicles(2.5, 3.5));
    expect(vehicles(17, 18)).toBeGreaterThan(5 * vehicles(2.5, 3.5));
    expect(vehicles(7.5, 8.5)).toBeGreaterThan(1.5 * vehicles(13.5, 14.5) * 0.9);
  });

  it('salts only below freezing: in January yes, in July never', () => {
    const jan = payloads('winter-vehicle');
    expect(jan.some(({ p }) => (p.saltKg as number) > 0)).toBe(true);
    for (const { m, p } of jan) {
      if ((p.saltKg as number) > 0) expect(surfaceTempC(SEED, m.tag.commune, m.at)).toBeLessThan(0);
      if (p.activity === 'salting') expect(p.spreaderOn).toBe(true);
    }
    const jul = generateStream(fleet, JUL, JUL + 24 * HOUR, SEED, NO_FAULTS);
    const julVehicles = payloads('winter-vehicle', jul);
    expect(julVehicles.length).toBeGreaterThan(0);
    expect(
      julVehicles.every(({ p }) => p.saltKg === 0 && p.activity !== 'salting' && p.activity !== 'ploughing'),
    ).toBe(true);
    // And no street light is on at local noon in July either.
    expect(
      payloads('streetlight', jul)
        .filter(({ m }) => Math.floor(localHour(m.at)) === 12)
        .every(({ p }) => p.state === 'off'),
    ).toBe(true);
  });

  it('tags every injected fault with its expected fate', () => {
    const history = new Map<string, typeof faulty>();
    const kinds = new Set(faulty.map((m) => m.tag.fault));
    for (const k of [
      'malformed-json',
      'wrong-types',
      'duplicate',
      'out-of-order',
      'late',
      'clock-skew',
      'spoofed-operator',
      'excluded-source',
    ])
      expect(kinds).toContain(k);
    expect(faulty.some((m) => m.tag.burst)).toBe(true);
    for (let i = 0; i < faulty.length; i++) {
      const m = faulty[i]!;
      const before = history.get(m.tag.equipmentId) ?? [];
      history.set(m.tag.equipmentId, [...before, m]);
      const topic = parseTelemetryTopic(m.topic);
      switch (m.tag.fault) {
        case 'malformed-json':
          expect(() => JSON.parse(m.payload)).toThrow();
          break;
        case 'wrong-types':
          expect(
            topic.kind === 'telemetry' && validateTelemetry(topic.family, JSON.parse(m.payload)).ok,
          ).toBe(false);
          break;
        case 'clock-skew': {
          const v =
            topic.kind === 'telemetry'
              ? validateTelemetry(topic.family, JSON.parse(m.payload), { now: Date.now() })
              : undefined;
          expect(v?.ok === false && v.futureTime).toBe(true);
          break;
        }
        case 'spoofed-operator':
          expect(topic.kind === 'telemetry' && topic.operator !== m.tag.operator).toBe(true);
          break;
        case 'excluded-source':
          expect(topic.kind).toBe('excluded');
          break;
        case 'duplicate': {
          const original = before.findLast((o) => o.tag.seq === m.tag.seq);
          expect(original?.payload).toBe(m.payload);
          expect(original?.tag.outcome).toBe('accepted');
          break;
        }
        case 'out-of-order': {
          // Published at its successor's slot (after it, unless the successor itself was lost to a fault).
          expect(m.at).toBeGreaterThan(Date.parse(m.tag.observedAt));
          expect(before.filter((o) => o.tag.seq < LATE_SEQ_BASE).at(-1)!.tag.seq).toBeLessThanOrEqual(
            m.tag.seq + 1,
          );
          // Still in the same window as its successor: never late — unless a burst also held it, which
          // moves it to the burst's end (bursts are their own fault, accounted as revisions).
          const win = m.tag.family === 'traffic-detector' ? HOUR / 4 : HOUR;
          if (!m.tag.burst)
            expect(Math.floor(Date.parse(m.tag.observedAt) / win)).toBe(Math.floor(m.at / win));
          break;
        }
        case 'late':
          // Exactly lateBy behind its publish slot (a burst may hold it a little longer).
          expect(m.at - Date.parse(m.tag.observedAt)).toBeGreaterThanOrEqual(DEFAULT_FAULTS.lateByMs);
          expect(m.at - Date.parse(m.tag.observedAt)).toBeLessThanOrEqual(
            DEFAULT_FAULTS.lateByMs + DEFAULT_FAULTS.burstMs,
          );
          expect(m.tag.seq).toBeGreaterThanOrEqual(LATE_SEQ_BASE);
          break;
        default:
          expect(m.tag.outcome).toBe('accepted');
      }
      if (m.tag.outcome === 'rejected') expect(m.tag.expectedCode).toBe(EXPECTED_CODE[m.tag.fault!]);
      else expect(m.tag.expectedCode).toBeUndefined();
    }
  });

  it('keeps bursts in order: messages held in a burst are released together at its end', () => {
    const burst = faulty.filter((m) => m.tag.burst);
    expect(burst.length).toBeGreaterThan(0);
    for (let i = 1; i < faulty.length; i++) expect(faulty[i]!.at).toBeGreaterThanOrEqual(faulty[i - 1]!.at);
    expect(new Set(burst.map((m) => m.at)).size).toBeLessThan(burst.length);
  });
});

describe('parseFaultSpec', () => {
  it('reads presets and explicit rates, and names unknown faults', () => {
    expect(parseFaultSpec('none')).toEqual(NO_FAULTS);
    expect(parseFaultSpec('default')).toEqual(DEFAULT_FAULTS);
    expect(parseFaultSpec('late=0.5,duplicate=0.1')).toMatchObject({
      late: 0.5,
      duplicate: 0.1,
      malformedJson: 0,
    });
    expect(() => parseFaultSpec('nonsense=1')).toThrow(/unknown fault/);
  });
});
