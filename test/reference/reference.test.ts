// The reference computation on a stream small enough to compute by hand. Pure (needs no stack); named
// *.int.test.ts because the vitest projects only collect unit tests under packages/ and services/.
import type { Equipment } from '@ondijon/contracts';
import { describe, expect, it } from 'vitest';
import { cellKey, computeReference, nearestCommuneOf, parisDayOf, type TruthMessage } from './reference';

const base = { commissionedOn: '2020-01-01', contractRef: 'C', location: { lat: 47.33, lon: 5.03 } };
const registry: Equipment[] = [
  {
    ...base,
    equipmentId: 'SL-1',
    family: 'streetlight',
    operator: 'citelum',
    commune: '21231',
    cabinetId: 'LC-1',
  },
  {
    ...base,
    equipmentId: 'SL-2',
    family: 'streetlight',
    operator: 'citelum',
    commune: '21231',
    cabinetId: 'LC-1',
  },
  { ...base, equipmentId: 'LC-1', family: 'lighting-cabinet', operator: 'citelum', commune: '21231' },
  {
    ...base,
    equipmentId: 'TD-1',
    family: 'traffic-detector',
    operator: 'bouygues-es',
    commune: '21231',
    intersectionId: 'INT-1',
    lanes: 2,
  },
  {
    ...base,
    equipmentId: 'SC-1',
    family: 'signal-controller',
    operator: 'bouygues-es',
    commune: '21231',
    intersectionId: 'INT-1',
  },
  { ...base, equipmentId: 'WV-1', family: 'winter-vehicle', operator: 'dijon-metropole', commune: '21231' },
  { ...base, equipmentId: 'WS-1', family: 'weather-station', operator: 'dijon-metropole', commune: '21231' },
];

let n = 0;
function msg(
  equipmentId: string,
  family: string,
  seq: number,
  observedAt: string,
  body: Record<string, unknown>,
  outcome: TruthMessage['tag']['outcome'] = 'accepted',
  expectedCode?: string,
): TruthMessage {
  return {
    topic: `ondijon/v1/${family}/x/${equipmentId}`,
    payload: JSON.stringify({ seq, observedAt, ...body }),
    at: Date.parse(observedAt),
    tag: {
      family,
      equipmentId,
      seq,
      observedAt,
      outcome,
      fault: outcome === 'accepted' ? null : outcome,
      ...(expectedCode ? { expectedCode } : {}),
      ...{ n: n++ },
    },
  };
}
const light = (state: string, energyWh: number, faults: string[] = []) => ({
  state,
  dimLevelPct: 0,
  powerW: 0,
  energyWh,
  intervalS: 900,
  burningHours: 1,
  faults,
});

const stream: TruthMessage[] = [
  msg('SL-1', 'streetlight', 1, '2026-01-12T18:05:00Z', light('on', 25)),
  msg('SL-1', 'streetlight', 2, '2026-01-12T18:20:00Z', light('dimmed', 12.5, ['driver'])),
  msg('SL-1', 'streetlight', 2, '2026-01-12T18:20:00Z', light('dimmed', 12.5, ['driver']), 'duplicate'),
  msg('SL-2', 'streetlight', 1, '2026-01-12T18:10:00Z', light('off', 0, ['lamp'])),
  msg('SL-2', 'streetlight', 2, '2026-01-12T19:10:00Z', light('on', 30)),
  msg('LC-1', 'lighting-cabinet', 1, '2026-01-12T18:30:00Z', { energyWh: 99 }),
  msg('SL-2', 'streetlight', 3, '2026-01-12T18:40:00Z', {}, 'rejected', 'ONDIJON_PAYLOAD_NOT_JSON'),
  msg('SL-1', 'streetlight', 1_000_000_000_001, '2026-01-04T18:00:00Z', light('on', 25), 'late'),
  msg('TD-1', 'traffic-detector', 1, '2026-01-12T08:05:00Z', {
    intervalS: 300,
    lanes: [
      { lane: 1, vehicles: 30, occupancyPct: 10, meanSpeedKmh: 40 },
      { lane: 2, vehicles: 10, occupancyPct: 4, meanSpeedKmh: 60 },
    ],
  }),
  msg('TD-1', 'traffic-detector', 2, '2026-01-12T08:20:00Z', {
    intervalS: 300,
    lanes: [
      { lane: 1, vehicles: 0, occupancyPct: 0, meanSpeedKmh: null },
      { lane: 2, vehicles: 20, occupancyPct: 6, meanSpeedKmh: 45 },
    ],
  }),
  msg('SC-1', 'signal-controller', 1, '2026-01-12T02:00:00Z', {
    mode: 'flashing',
    lampFailures: 1,
    faults: ['lamp-failure'],
    intervalS: 300,
  }),
  msg('SC-1', 'signal-controller', 2, '2026-01-12T02:05:00Z', {
    mode: 'normal',
    lampFailures: 0,
    faults: [],
    intervalS: 300,
  }),
  msg('WV-1', 'winter-vehicle', 1, '2026-01-12T05:00:00Z', {
    position: { lat: 47.3318, lon: 5.0336 },
    activity: 'salting',
    saltKg: 300,
    distanceM: 2000,
  }),
  msg('WV-1', 'winter-vehicle', 2, '2026-01-12T05:05:00Z', {
    position: { lat: 47.3318, lon: 5.0336 },
    activity: 'idle',
    saltKg: 0,
    distanceM: 0,
  }),
  msg('WS-1', 'weather-station', 1, '2026-01-12T05:00:00Z', { surfaceTempC: -2 }),
  msg('WS-1', 'weather-station', 2, '2026-01-12T06:00:00Z', { surfaceTempC: 1 }),
];

describe('computeReference', () => {
  const ref = computeReference(stream, registry);

  it('accounts for every message', () => {
    expect(ref.sent).toBe(stream.length);
    expect(ref.duplicates).toBe(1);
    expect(ref.deadLettersByCode).toEqual({ ONDIJON_PAYLOAD_NOT_JSON: 1 });
    expect(ref.lateEventIds.size).toBe(1);
    expect(ref.accepted + ref.duplicates + 1 + ref.lateEventIds.size).toBe(ref.sent);
  });

  it('computes lighting per commune-hour from luminaires (cabinets count as reporting, their meters are not added)', () => {
    const h18 = ref.cells.get(
      cellKey('lighting-commune-hour', { commune: '21231' }, '2026-01-12T18:00:00Z'),
    )!;
    expect(h18.values).toEqual({
      energyKwh: 0.0375,
      burningHours: 0.5,
      luminairesReporting: 2,
      cabinetsReporting: 1,
      faultsLamp: 1,
      faultsDriver: 1,
      faultsCommunication: 0,
      dimmedShare: 900 / 2700,
    });
    expect(h18.contributors).toEqual({ equipment: 3, operators: 1 });
    expect(h18.inputRecords).toBe(4);
    expect(
      ref.cells.get(cellKey('lighting-commune-hour', { commune: '21231' }, '2026-01-12T19:00:00Z'))!.values
        .energyKwh,
    ).toBe(0.03);
  });

  it('computes traffic flow per 15 min and hour: time-weighted occupancy, vehicle-weighted speed', () => {
    const hour = ref.cells.get(
      cellKey(
        'traffic-flow',
        { scope: 'intersection', id: 'INT-1', commune: '21231', resolution: 'PT1H' },
        '2026-01-12T08:00:00Z',
      ),
    )!;
    expect(hour.values.intensity).toBe(60);
    expect(hour.values.occupancyPct).toBe(5);
    expect(hour.values.averageVehicleSpeedKmh).toBeCloseTo((30 * 40 + 10 * 60 + 20 * 45) / 60, 12);
    const q1 = ref.cells.get(
      cellKey(
        'traffic-flow',
        { scope: 'commune', id: '21231', commune: '21231', resolution: 'PT15M' },
        '2026-01-12T08:15:00Z',
      ),
    )!;
    expect(q1.values).toEqual({
      intensity: 20,
      occupancyPct: 3,
      averageVehicleSpeedKmh: 45,
      detectorsReporting: 1,
    });
  });

  it('computes signal status: fault reports, lamp failures, seconds not normal', () => {
    const c = ref.cells.get(
      cellKey(
        'signal-status',
        { scope: 'intersection', id: 'INT-1', commune: '21231' },
        '2026-01-12T02:00:00Z',
      ),
    )!;
    expect(c.values).toEqual({
      controllersReporting: 1,
      faultReports: 1,
      lampFailureReports: 1,
      degradedSeconds: 300,
    });
  });

  it('computes winter per commune-day with the vehicle in the commune nearest its position', () => {
    expect(nearestCommuneOf(47.3318, 5.0336)).toBe('21231');
    const c = ref.cells.get(cellKey('winter-commune-day', { commune: '21231' }, '2026-01-11T23:00:00Z'))!;
    expect(c.values).toEqual({
      saltKg: 300,
      kmSalting: 2,
      kmPloughing: 0,
      kmSweeping: 0,
      kmPatrol: 0,
      vehiclesActive: 1,
      surfaceTempMinC: -2,
      surfaceTempMeanC: -0.5,
      stationsReporting: 1,
    });
    expect(c.contributors).toEqual({ equipment: 2, operators: 1, persons: 1 });
    expect(c.dominance?.saltKg).toEqual({ top1: 1, top2: 0 });
  });

  it('cuts winter days on Paris midnights: 23 hours on 29 March 2026, 25 hours on 25 October 2026', () => {
    const iso = (t: number) => new Date(t).toISOString();
    const day = (at: string) => {
      const { start, end } = parisDayOf(Date.parse(at));
      return [iso(start), iso(end)];
    };
    expect(day('2026-01-12T05:00:00Z')).toEqual(['2026-01-11T23:00:00.000Z', '2026-01-12T23:00:00.000Z']);
    expect(day('2026-03-29T21:59:59Z')).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
    expect(day('2026-03-29T22:00:00Z')[0]).toBe('2026-03-29T22:00:00.000Z');
    expect(day('2026-10-24T22:00:00Z')).toEqual(['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z']);
    expect(day('2026-10-25T22:59:59Z')[0]).toBe('2026-10-24T22:00:00.000Z');
  });
});
