import type { Family } from './families';
import type { Telemetry } from './telemetry';

/**
 * One valid telemetry payload per family, for tests and documentation (never used as data).
 * Returned fresh on each call so a test can mutate its copy.
 */
export function sampleTelemetry<F extends Family>(
  family: F,
  overrides: Partial<Telemetry<F>> = {},
): Telemetry<F> {
  const observedAt = '2026-01-15T06:30:00.000Z';
  const samples: { [K in Family]: Telemetry<K> } = {
    streetlight: {
      seq: 42,
      observedAt,
      state: 'dimmed',
      dimLevelPct: 60,
      powerW: 38.5,
      energyWh: 9.6,
      intervalS: 900,
      burningHours: 12_345.5,
      faults: [],
      presenceDetections: 3,
    },
    'lighting-cabinet': {
      seq: 7,
      observedAt,
      circuitsOn: 4,
      powerW: 2_150,
      energyWh: 537.5,
      intervalS: 900,
      doorOpen: false,
      faults: [],
    },
    'signal-controller': {
      seq: 1_001,
      observedAt,
      mode: 'normal',
      plan: 3,
      lampFailures: 0,
      doorOpen: false,
      commsOk: true,
      intervalS: 60,
      faults: [],
    },
    'traffic-detector': {
      seq: 88,
      observedAt,
      intervalS: 60,
      lanes: [
        { lane: 1, vehicles: 14, occupancyPct: 12.5, meanSpeedKmh: 41.2 },
        { lane: 2, vehicles: 0, occupancyPct: 0, meanSpeedKmh: null },
      ],
    },
    'winter-vehicle': {
      seq: 3_210,
      observedAt,
      position: { lat: 47.3318, lon: 5.0336 },
      speedKmh: 32,
      headingDeg: 184,
      activity: 'salting',
      bladeDown: false,
      spreaderOn: true,
      saltKg: 12.4,
      distanceM: 530,
      agentId: 'AGT-0042',
    },
    'weather-station': {
      seq: 5,
      observedAt,
      surfaceTempC: -1.8,
      airTempC: 0.4,
      humidityPct: 91,
      iceWarning: true,
    },
  };
  return structuredClone({ ...samples[family], ...overrides });
}
