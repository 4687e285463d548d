import { runProcessor, telemetryEnvelope } from '@ondijon/stream';
import { describe, expect, it } from 'vitest';
import { lightingCommuneHour } from '../../src/processors/lighting-commune-hour';

const lamp = (
  id: string,
  seq: number,
  min: number,
  state: 'on' | 'off' | 'dimmed',
  wh: number,
  faults: ('lamp' | 'driver' | 'communication')[] = [],
) =>
  telemetryEnvelope(
    'streetlight',
    {
      seq,
      observedAt: new Date(Date.UTC(2025, 0, 15, 18, min)).toISOString(),
      state,
      dimLevelPct: 50,
      powerW: 40,
      energyWh: wh,
      intervalS: 900,
      burningHours: 10,
      faults,
    },
    { equipmentId: id, commune: '21231' },
  );

describe('lighting-commune-hour', () => {
  it('sums energy, burning hours, dimmed share, luminaires and faults', () => {
    const { outputs } = runProcessor(lightingCommuneHour, [
      lamp('SL-1', 1, 10, 'on', 100),
      lamp('SL-1', 2, 25, 'dimmed', 50, ['driver']),
      lamp('SL-2', 1, 10, 'off', 0, ['lamp']),
      lamp('SL-2', 2, 25, 'dimmed', 150, ['lamp']),
    ]);
    expect(outputs).toHaveLength(1);
    const d = outputs[0]!.value.data;
    expect(d.values).toEqual({
      energyKwh: 0.3,
      burningHours: 0.75, // 3 × 900 s on or dimmed
      luminairesReporting: 2,
      cabinetsReporting: 0,
      faultsLamp: 1,
      faultsDriver: 1,
      faultsCommunication: 0,
      dimmedShare: 0.5, // 1800 of 3600 reported seconds
    });
    expect(d.dominance.energyKwh).toEqual({ top1: 0.5, top2: 0.5 });
    expect(d.contributors).toEqual({ equipment: 2, operators: 1 });
  });
});
