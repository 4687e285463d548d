import { defineWindowedAggregation, telemetryOf, tumbling } from '@ondijon/stream';
import { addTo, dominanceOf, round6 } from './shared';

interface Acc {
  /** Per luminaire: energy (Wh), seconds on or dimmed, dimmed, reported. */
  lum: Record<string, { wh: number; burnS: number; dimS: number; repS: number }>;
  cabinets: Record<string, 1>;
  /** Per fault kind: luminaires that reported it in the hour. */
  faults: { lamp: Record<string, 1>; driver: Record<string, 1>; communication: Record<string, 1> };
}

/**
 * Lighting per commune and hour. Energy is the luminaires' own metering (cabinet meters cover the same
 * circuits, so adding them would count energy twice); faults count luminaires with the fault in the hour.
 */
export const lightingCommuneHour = defineWindowedAggregation({
  name: 'lighting-commune-hour',
  version: '1.0.0',
  description:
    'Energy, burning hours, luminaires reporting, faults by kind and dimmed share per commune and hour.',
  inputs: ['tel.s1.lighting.v1'],
  output: 'agg.s1.lighting-commune-hour.v1',
  window: tumbling('1h'),
  graceMs: 5 * 60_000,
  late: 'revise',
  key: (r) => (r.value.commune ? { commune: r.value.commune } : undefined),
  init: (): Acc => ({ lum: {}, cabinets: {}, faults: { lamp: {}, driver: {}, communication: {} } }),
  add: (acc, r) => {
    const id = r.value.subject ?? r.value.source;
    const lamp = telemetryOf(r.value, 'streetlight');
    if (lamp) {
      const l = (acc.lum[id] ??= { wh: 0, burnS: 0, dimS: 0, repS: 0 });
      l.wh += lamp.energyWh;
      l.repS += lamp.intervalS;
      if (lamp.state !== 'off') l.burnS += lamp.intervalS;
      if (lamp.state === 'dimmed') l.dimS += lamp.intervalS;
      for (const f of lamp.faults) acc.faults[f][id] = 1;
    }
    if (telemetryOf(r.value, 'lighting-cabinet')) acc.cabinets[id] = 1;
    return acc;
  },
  result: (acc) => {
    const lums = Object.values(acc.lum);
    const sum = (f: (l: (typeof lums)[number]) => number) => lums.reduce((a, l) => a + f(l), 0);
    const repS = sum((l) => l.repS);
    return {
      energyKwh: round6(sum((l) => l.wh) / 1000),
      burningHours: round6(sum((l) => l.burnS) / 3600),
      luminairesReporting: lums.length,
      cabinetsReporting: Object.keys(acc.cabinets).length,
      faultsLamp: Object.keys(acc.faults.lamp).length,
      faultsDriver: Object.keys(acc.faults.driver).length,
      faultsCommunication: Object.keys(acc.faults.communication).length,
      dimmedShare: repS > 0 ? round6(sum((l) => l.dimS) / repS) : null,
    };
  },
  dominance: (acc) => {
    const energy: Record<string, number> = {};
    const burning: Record<string, number> = {};
    for (const [id, l] of Object.entries(acc.lum)) {
      addTo(energy, id, l.wh);
      addTo(burning, id, l.burnS);
    }
    return dominanceOf({ energyKwh: energy, burningHours: burning });
  },
});
