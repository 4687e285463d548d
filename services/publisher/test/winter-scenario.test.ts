// The winter service from processor to release, without Kafka: the real winter-commune-day
// processor (the stream harness runs the runtime's code path) feeds the real release builder and
// pre-release check, with the repository's equipment registry. Two properties of issue 13:
// - no cell with fewer than k contributors is published as an exact value, zero or not; only a
//   structural zero (no winter equipment in the commune's registry) is an exact zero;
// - daily rows are Paris days: one row per commune on the 23-hour and 25-hour days too, nothing
//   past the declared end of the period.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMUNE_CODES, COMMUNES } from '@ondijon/contracts';
import {
  PrivacyBudgetLedger,
  createNoiseMemory,
  datasetPolicy,
  loadPolicy,
  seededRng,
} from '@ondijon/governance';
import { winterCommuneDay } from '@ondijon/processors';
import { runProcessor, telemetryEnvelope, tumbling, type HarnessInput } from '@ondijon/stream';
import { preReleaseCheck } from '../src/check';
import { REPO_ROOT } from '../src/config';
import { DATASET_SPECS } from '../src/datasets';
import { loadEquipmentPresence } from '../src/equipment';
import { buildRelease, type BuiltRelease, type StagedAggregate } from '../src/release';
import { dayBounds } from '../src/time';

const policy = loadPolicy();
const rules = datasetPolicy(policy, 'winter-commune-day');
const spec = DATASET_SPECS['winter-commune-day']!;
const K = rules.threshold!.persons!;
const equipment = loadEquipmentPresence(join(REPO_ROOT, 'infra', 'registry', 'equipment.json'));
const hasWinterEquipment = (c: string) => equipment.has(c, spec.equipmentFamilies);
const NOW = new Date('2026-12-01T00:00:00Z');
const centre = (insee: string) => {
  const c = COMMUNES.find((x) => x.insee === insee)!;
  return { lat: c.lat, lon: c.lon };
};

let seq = 0;
/** One vehicle report at the centre of a commune (so the processor places it there). */
function report(
  vehicle: string,
  commune: string,
  at: string,
  activity: 'idle' | 'salting',
): HarnessInput<'tel.s2.winter.v1'> {
  const salting = activity === 'salting';
  seq++;
  return {
    topic: 'tel.s2.winter.v1',
    value: telemetryEnvelope(
      'winter-vehicle',
      {
        seq,
        observedAt: at,
        position: centre(commune),
        speedKmh: salting ? 30 : 0,
        headingDeg: 0,
        activity,
        bladeDown: false,
        spreaderOn: salting,
        saltKg: salting ? 100 : 0,
        distanceM: salting ? 2000 : 0,
      },
      { equipmentId: vehicle, commune, sensitivity: 'S2', operator: 'dijon-metropole' },
    ),
  };
}

/** The latest revision of each aggregate the processor emitted, as the publisher stages them. */
function staged(
  records: HarnessInput<'tel.s2.winter.v1'>[],
  processor = winterCommuneDay,
): StagedAggregate[] {
  const { latest, deadLetters } = runProcessor(processor, records);
  expect(deadLetters).toEqual([]);
  return [...latest.values()].map((env) => {
    const e = env as unknown as {
      sensitivity: StagedAggregate['sensitivity'];
      policyrevision: string;
      data: StagedAggregate['data'] & { key: string };
    };
    return {
      key: e.data.key,
      topic: 'agg.s2.winter-commune-day.v1',
      sensitivity: e.sensitivity,
      policyRevision: e.policyrevision,
      data: e.data,
    };
  });
}

function release(day: string, aggregates: StagedAggregate[]): BuiltRelease {
  const onDay = aggregates.filter((a) => dayBounds(day).start.toISOString() === a.data.windowStart);
  return buildRelease({
    spec,
    rules,
    policyRevision: policy.revision,
    day,
    staged: onDay.length > 0 ? onDay : aggregates,
    previous: [],
    noiseMemory: createNoiseMemory(),
    rng: seededRng(`winter-${day}`),
    ledger: new PrivacyBudgetLedger(),
    now: NOW,
    equipment,
  });
}

function check(b: BuiltRelease) {
  return preReleaseCheck(b, {
    spec,
    rules,
    previous: [],
    ledger: new PrivacyBudgetLedger(),
    now: NOW,
    forbiddenFields: new Set(['agentId']),
    pseudonymPrefix: policy.pseudonymisation.prefix,
    equipment,
  });
}

const communeRows = (b: BuiltRelease) => b.rows.filter((r) => r.level === 'commune');
const valueColumns = spec.columns.map((c) => c.column);

describe('winter scenario: one to three idle vehicles in a commune', () => {
  // Communes with registered winter vehicles: five with 1–3 idle vehicles (the exact zeros),
  // one with k active vehicles, one with k idle vehicles, the others with no report at all.
  const withVehicles = COMMUNE_CODES.filter((c) => equipment.has(c, ['winter-vehicle']));
  const [busy, quiet, ...rest] = withVehicles;
  const idle = rest.slice(0, 5);
  const silent = rest.slice(5);
  const structural = COMMUNE_CODES.filter((c) => !hasWinterEquipment(c));
  const day = '2026-01-10';
  const at = (h: number) => new Date(Date.parse('2026-01-09T23:00:00Z') + h * 3_600_000).toISOString();
  const records = [
    ...Array.from({ length: K }, (_, v) => report(`WV-${busy}-${v}`, busy!, at(6 + (v % 4)), 'salting')),
    ...Array.from({ length: K }, (_, v) => report(`WV-${quiet}-${v}`, quiet!, at(7), 'idle')),
    ...idle.flatMap((c, i) =>
      Array.from({ length: 1 + (i % 3) }, (_, v) => report(`WV-${c}-${v}`, c, at(8 + v), 'idle')),
    ),
  ];
  const aggregates = staged(records);
  const persons = new Map(
    aggregates.map((a) => [String(a.data.group.commune), a.data.contributors.persons ?? 0]),
  );
  const b = release(day, aggregates);
  const rows = communeRows(b);

  it('has the scenario it claims: 1–3 vehicles and all-zero values in five communes, structural communes', () => {
    expect(idle).toHaveLength(5);
    expect(structural.length).toBeGreaterThan(0);
    expect(silent.length).toBeGreaterThan(0);
    for (const c of idle) {
      const a = aggregates.find((x) => x.data.group.commune === c)!;
      expect(a.data.contributors.persons).toBeGreaterThanOrEqual(1);
      expect(a.data.contributors.persons).toBeLessThanOrEqual(3);
      expect(Object.values(a.data.values).every((v) => v === 0 || v === null)).toBe(true);
    }
  });

  it('publishes no cell with fewer than k contributors as an exact value, zero or not', () => {
    expect(rows).toHaveLength(23);
    const leaks = rows.filter((r) => {
      const commune = String(r.area_id);
      const below = (persons.get(commune) ?? 0) < K;
      const exact = valueColumns.some((c) => r[c] !== null);
      const structuralZero = r.status === 'zero' && !hasWinterEquipment(commune);
      return below && exact && !structuralZero;
    });
    expect(leaks.map((r) => `${String(r.area_id)}: ${String(r.status)}`)).toEqual([]);
    for (const c of [...idle, ...silent])
      expect(rows.find((r) => r.area_id === c)!.status, c).toBe('suppressed');
    expect(check(b)).toEqual([]);
  });

  it('puts zeros computed from at least k vehicles through the same rules: noised, not an exact zero', () => {
    const r = rows.find((x) => x.area_id === quiet)!;
    expect(r.status).toBe('noised');
    expect(rows.find((x) => x.area_id === busy)!.status).toBe('noised');
  });

  it('publishes a commune without winter equipment in the registry as an exact structural zero', () => {
    for (const c of structural) {
      const r = rows.find((x) => x.area_id === c)!;
      expect(r.status, c).toBe('zero');
      for (const col of spec.columns)
        expect(r[col.column], `${c} ${col.column}`).toBe(col.nullable ? null : 0);
    }
    const meaning = b.tableSchema.fields.find((f) => f.name === 'status')!.description!;
    expect(meaning).toMatch(/zero: exact structural zero/);
    expect(meaning).toMatch(/winter-vehicle, weather-station/);
  });

  it('without the registry publishes no exact zero at all (fails closed)', () => {
    const blind = buildRelease({
      spec,
      rules,
      policyRevision: policy.revision,
      day,
      staged: aggregates,
      previous: [],
      noiseMemory: createNoiseMemory(),
      rng: seededRng('blind'),
      ledger: new PrivacyBudgetLedger(),
      now: NOW,
    });
    expect(blind.rows.filter((r) => r.status === 'zero')).toEqual([]);
    expect(
      communeRows(blind)
        .filter((r) => r.status !== 'suppressed')
        .map((r) => r.area_id),
    ).toEqual([busy, quiet].sort());
  });

  it('the pre-release check rejects the old behaviour: an idle commune published as an exact zero', () => {
    const forged = { ...b, rows: b.rows.map((r) => ({ ...r })), status: new Map(b.status) };
    const victim = forged.rows.find((r) => r.level === 'commune' && r.area_id === idle[0])!;
    for (const col of spec.columns) victim[col.column] = col.nullable ? null : 0;
    victim.status = 'zero';
    const id = [...b.cells.values()].find(
      (c) => c.place.level === 'commune' && c.place.areaId === idle[0],
    )!.id;
    forged.status.set(id, 'zero');
    expect(check(forged).map((f) => f.rule)).toEqual(
      expect.arrayContaining(['threshold-or-dominance', 'status']),
    );
  });
});

describe('winter days are Paris days, daylight-saving days included', () => {
  // Every commune with registered vehicles gets k active vehicles reporting just after midnight and
  // just before midnight (Paris) of the day, and on both neighbouring days next to the boundaries.
  const withVehicles = COMMUNE_CODES.filter((c) => equipment.has(c, ['winter-vehicle']));
  const cases = [
    { day: '2026-03-29', start: '2026-03-28T23:00:00Z', end: '2026-03-29T22:00:00Z', hours: 23 },
    { day: '2026-10-25', start: '2026-10-24T22:00:00Z', end: '2026-10-25T23:00:00Z', hours: 25 },
  ];
  for (const { day, start, end, hours } of cases) {
    it(`${day} (${hours} h): one row per commune, no day twice, nothing past the declared end`, () => {
      const s = Date.parse(start);
      const e = Date.parse(end);
      const times = [s - 30 * 60_000, s + 30 * 60_000, e - 30 * 60_000, e + 30 * 60_000].map((t) =>
        new Date(t).toISOString(),
      );
      const records = withVehicles.flatMap((c) =>
        Array.from({ length: K }, (_, v) => times.map((t) => report(`WV-${c}-${v}`, c, t, 'salting'))).flat(),
      );
      const aggregates = staged(records);
      const b = release(day, aggregates);
      expect(new Date(b.notes.period.start).toISOString()).toBe(new Date(start).toISOString());
      expect(new Date(b.notes.period.end).toISOString()).toBe(new Date(end).toISOString());

      const rows = communeRows(b);
      expect(rows).toHaveLength(23);
      expect(new Set(rows.map((r) => r.area_id)).size).toBe(23);
      for (const r of b.rows) {
        expect((r.period_start as Date).toISOString()).toBe(new Date(start).toISOString());
        expect((r.period_end as Date).toISOString()).toBe(new Date(end).toISOString());
        expect(r.resolution).toBe('P1D');
      }
      // Only the two reports inside the Paris day count in each commune's cell.
      for (const c of withVehicles) {
        const a = aggregates.find(
          (x) => x.data.group.commune === c && x.data.windowStart === new Date(s).toISOString(),
        )!;
        expect(a.data.windowEnd).toBe(new Date(e).toISOString());
        expect(a.data.inputRecords).toBe(2 * K);
        expect(rows.find((r) => r.area_id === c)!.status).toBe('noised');
      }
      expect(b.notes.lineage.outOfPeriodAggregates).toBe(0);
      expect(check(b)).toEqual([]);
    });
  }

  it('leaves out daily aggregates on another day boundary (UTC days) instead of a second row per commune', () => {
    const utcDays = { ...winterCommuneDay, window: tumbling('1d') };
    const day = '2026-03-29';
    const aggregates = staged(
      withVehicles.flatMap((c) =>
        Array.from({ length: K }, (_, v) => report(`WV-${c}-${v}`, c, '2026-03-29T12:00:00Z', 'salting')),
      ),
      utcDays,
    );
    // A UTC day starts inside the Paris day and ends past it.
    expect(aggregates.every((a) => a.data.windowStart === '2026-03-29T00:00:00.000Z')).toBe(true);
    const b = release(day, aggregates);
    expect(b.notes.lineage.outOfPeriodAggregates).toBe(withVehicles.length);
    const rows = communeRows(b);
    expect(rows).toHaveLength(23);
    expect(rows.every((r) => (r.period_end as Date).getTime() <= dayBounds(day).end.getTime())).toBe(true);
    expect(check(b)).toEqual([]);
  });
});
