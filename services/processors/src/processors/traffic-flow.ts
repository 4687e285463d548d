import {
  defineWindowedAggregation,
  isoDuration,
  telemetryOf,
  tumbling,
  type TumblingWindowSpec,
} from '@ondijon/stream';
import { addTo, dominanceOf, intersectionOf, round6 } from './shared';

interface Acc {
  /** Vehicles per detector (intensity and its dominance). */
  vehicles: Record<string, number>;
  /** Σ occupancy % × interval s, and Σ interval s, over lane reports. */
  occ: number;
  occS: number;
  /** Σ speed × vehicles and Σ vehicles over lanes with a speed. */
  speedVeh: number;
  speedN: number;
}

/** Traffic flow per intersection and per commune (TrafficFlowObserved), at one resolution. */
function trafficFlow(name: string, window: TumblingWindowSpec, graceMs: number) {
  const resolution = isoDuration(window.sizeMs) as 'PT15M' | 'PT1H';
  return defineWindowedAggregation({
    name,
    version: '1.0.0',
    description: `Vehicles, occupancy and mean speed per intersection and commune, ${resolution}.`,
    inputs: ['tel.s1.traffic.v1'],
    output: 'agg.s1.traffic-flow.v1',
    window,
    graceMs,
    late: 'revise',
    key: (r) => {
      const commune = r.value.commune;
      if (!commune || !telemetryOf(r.value, 'traffic-detector') || !r.value.subject) return undefined;
      return [
        { scope: 'intersection' as const, id: intersectionOf(r.value.subject), commune, resolution },
        { scope: 'commune' as const, id: commune, commune, resolution },
      ];
    },
    init: (): Acc => ({ vehicles: {}, occ: 0, occS: 0, speedVeh: 0, speedN: 0 }),
    add: (acc, r) => {
      const t = telemetryOf(r.value, 'traffic-detector')!;
      const id = r.value.subject!;
      addTo(acc.vehicles, id, 0);
      for (const lane of t.lanes) {
        acc.vehicles[id]! += lane.vehicles;
        acc.occ += lane.occupancyPct * t.intervalS;
        acc.occS += t.intervalS;
        if (lane.meanSpeedKmh !== null && lane.vehicles > 0) {
          acc.speedVeh += lane.meanSpeedKmh * lane.vehicles;
          acc.speedN += lane.vehicles;
        }
      }
      return acc;
    },
    result: (acc) => ({
      intensity: Object.values(acc.vehicles).reduce((a, b) => a + b, 0),
      occupancyPct: acc.occS > 0 ? round6(acc.occ / acc.occS) : null,
      averageVehicleSpeedKmh: acc.speedN > 0 ? round6(acc.speedVeh / acc.speedN) : null,
      detectorsReporting: Object.keys(acc.vehicles).length,
    }),
    dominance: (acc) => dominanceOf({ intensity: acc.vehicles }),
  });
}

/** Traffic flow per intersection and commune, 15 minutes. */
export const trafficFlow15m = trafficFlow('traffic-flow-15m', tumbling('15m'), 2 * 60_000);
/** Traffic flow per intersection and commune, hour. */
export const trafficFlowHour = trafficFlow('traffic-flow-hour', tumbling('1h'), 5 * 60_000);
