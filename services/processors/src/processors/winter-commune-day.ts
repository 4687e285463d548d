import { calendarDay, defineWindowedAggregation, telemetryOf } from '@ondijon/stream';
import { addTo, dominanceOf, nearestCommune, round6, TIME_ZONE } from './shared';

interface Acc {
  /** Per vehicle (internal state only, never output): salt kg and metres by activity. */
  vehicles: Record<string, { salt: number; m: Record<string, number>; active: boolean }>;
  stations: Record<string, 1>;
  tempMin: number | null;
  tempSum: number;
  tempN: number;
}

/**
 * Winter service per commune and Paris day (the publisher's release period: 23 or 25 hours on
 * daylight-saving days). A vehicle report counts in the commune whose centre is
 * nearest to its position (else the envelope's commune). No agent or vehicle identity leaves the
 * accumulator: outputs are sums, counts and the top-1/top-2 shares of the dominance rule.
 */
export const winterCommuneDay = defineWindowedAggregation({
  name: 'winter-commune-day',
  version: '1.1.0',
  description:
    'Salt spread, km treated by activity, vehicles active and road surface temperature per commune and day.',
  inputs: ['tel.s1.winter.v1', 'tel.s2.winter.v1'],
  output: 'agg.s2.winter-commune-day.v1',
  window: calendarDay(TIME_ZONE),
  graceMs: 30 * 60_000,
  late: 'revise',
  key: (r) => {
    const vehicle = telemetryOf(r.value, 'winter-vehicle');
    if (vehicle?.position) return { commune: nearestCommune(vehicle.position) };
    return r.value.commune ? { commune: r.value.commune } : undefined;
  },
  init: (): Acc => ({ vehicles: {}, stations: {}, tempMin: null, tempSum: 0, tempN: 0 }),
  add: (acc, r) => {
    const id = r.value.subject ?? r.value.source;
    const vehicle = telemetryOf(r.value, 'winter-vehicle');
    if (vehicle) {
      const v = (acc.vehicles[id] ??= { salt: 0, m: {}, active: false });
      v.salt += vehicle.saltKg;
      addTo(v.m, vehicle.activity, vehicle.distanceM);
      if (vehicle.activity !== 'idle') v.active = true;
    }
    const station = telemetryOf(r.value, 'weather-station');
    if (station) {
      acc.stations[id] = 1;
      acc.tempMin = acc.tempMin === null ? station.surfaceTempC : Math.min(acc.tempMin, station.surfaceTempC);
      acc.tempSum += station.surfaceTempC;
      acc.tempN += 1;
    }
    return acc;
  },
  result: (acc) => {
    const vs = Object.values(acc.vehicles);
    const km = (activity: string) => round6(vs.reduce((a, v) => a + (v.m[activity] ?? 0), 0) / 1000);
    return {
      saltKg: round6(vs.reduce((a, v) => a + v.salt, 0)),
      kmSalting: km('salting'),
      kmPloughing: km('ploughing'),
      kmSweeping: km('sweeping'),
      kmPatrol: km('patrol'),
      vehiclesActive: vs.filter((v) => v.active).length,
      surfaceTempMinC: acc.tempMin,
      surfaceTempMeanC: acc.tempN > 0 ? round6(acc.tempSum / acc.tempN) : null,
      stationsReporting: Object.keys(acc.stations).length,
    };
  },
  // Persons ≈ distinct vehicles (one crew per vehicle): what the publisher's k-threshold counts.
  contributors: (acc, defaults) => ({ ...defaults, persons: Object.keys(acc.vehicles).length }),
  dominance: (acc) => {
    // Contributors are numbered, not named: the dominance inputs carry shares only.
    const per = (f: (v: Acc['vehicles'][string]) => number) =>
      Object.fromEntries(Object.values(acc.vehicles).map((v, i) => [i, f(v)]));
    return dominanceOf({
      saltKg: per((v) => v.salt),
      kmSalting: per((v) => v.m.salting ?? 0),
      kmPloughing: per((v) => v.m.ploughing ?? 0),
      kmSweeping: per((v) => v.m.sweeping ?? 0),
      kmPatrol: per((v) => v.m.patrol ?? 0),
    });
  },
});
