// Shared by the runtime's integration and fault tests.
import { defineWindowedAggregation, telemetryOf, tumbling, type LatePolicy } from '../src/index';

/** Watt-hours of streetlights per commune and hour (only energyKwh is real; the rest are zeros). */
export const energyProcessor = (name: string, late: LatePolicy, graceMs: number) =>
  defineWindowedAggregation({
    name,
    version: '1.0.0',
    inputs: ['tel.s1.lighting.v1'],
    output: 'agg.s1.lighting-commune-hour.v1',
    window: tumbling('1h'),
    graceMs,
    late,
    key: (r) => ({ commune: r.value.commune! }),
    init: () => ({ wh: 0 }),
    add: (acc, r) => ({ wh: acc.wh + (telemetryOf(r.value, 'streetlight')?.energyWh ?? 0) }),
    result: (acc) => ({
      energyKwh: acc.wh / 1000,
      burningHours: 0,
      luminairesReporting: 0,
      cabinetsReporting: 0,
      faultsLamp: 0,
      faultsDriver: 0,
      faultsCommunication: 0,
      dimmedShare: null,
    }),
  });
