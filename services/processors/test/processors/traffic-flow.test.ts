import { runProcessor, telemetryEnvelope } from '@ondijon/stream';
import { describe, expect, it } from 'vitest';
import { trafficFlow15m } from '../../src/processors/traffic-flow';

const det = (
  id: string,
  seq: number,
  min: number,
  lanes: { vehicles: number; occupancyPct: number; meanSpeedKmh: number | null }[],
) =>
  telemetryEnvelope(
    'traffic-detector',
    {
      seq,
      observedAt: new Date(Date.UTC(2025, 0, 15, 8, min)).toISOString(),
      intervalS: 60,
      lanes: lanes.map((l, i) => ({ lane: i + 1, ...l })),
    },
    { equipmentId: id, commune: '21231' },
  );

describe('traffic-flow', () => {
  it('aggregates per intersection and per commune, vehicle-weighted speed', () => {
    const { outputs } = runProcessor(trafficFlow15m, [
      det('TD-21231-001-1', 1, 1, [
        { vehicles: 10, occupancyPct: 20, meanSpeedKmh: 30 },
        { vehicles: 0, occupancyPct: 0, meanSpeedKmh: null },
      ]),
      det('TD-21231-002-1', 1, 2, [{ vehicles: 30, occupancyPct: 40, meanSpeedKmh: 50 }]),
    ]);
    const byKey = Object.fromEntries(outputs.map((o) => [o.key, o.value.data]));
    expect(Object.keys(byKey).sort()).toEqual([
      'traffic-flow-15m|commune=21231;id=21231;resolution=PT15M;scope=commune|2025-01-15T08:00:00.000Z',
      'traffic-flow-15m|commune=21231;id=INT-21231-001;resolution=PT15M;scope=intersection|2025-01-15T08:00:00.000Z',
      'traffic-flow-15m|commune=21231;id=INT-21231-002;resolution=PT15M;scope=intersection|2025-01-15T08:00:00.000Z',
    ]);
    const commune = outputs.find((o) => o.value.data.group.scope === 'commune')!.value.data;
    expect(commune.values).toEqual({
      intensity: 40,
      occupancyPct: 20,
      averageVehicleSpeedKmh: 45,
      detectorsReporting: 2,
    });
    expect(commune.group).toEqual({ scope: 'commune', id: '21231', commune: '21231', resolution: 'PT15M' });
  });
});
