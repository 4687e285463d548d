import { runProcessor, telemetryEnvelope } from '@ondijon/stream';
import { describe, expect, it } from 'vitest';
import { signalStatus } from '../../src/processors/signal-status';

const sc = (
  seq: number,
  mode: 'normal' | 'flashing',
  lampFailures: number,
  faults: ('lamp-failure' | 'power')[],
) =>
  telemetryEnvelope(
    'signal-controller',
    {
      seq,
      observedAt: new Date(Date.UTC(2025, 0, 15, 8, seq)).toISOString(),
      mode,
      plan: 1,
      lampFailures,
      doorOpen: false,
      commsOk: true,
      intervalS: 60,
      faults,
    },
    { equipmentId: 'SC-21231-001', commune: '21231' },
  );

describe('signal-status', () => {
  it('counts fault reports and degraded seconds', () => {
    const { outputs } = runProcessor(signalStatus, [
      sc(1, 'normal', 0, []),
      sc(2, 'flashing', 1, ['lamp-failure']),
      sc(3, 'flashing', 0, ['power']),
    ]);
    const intersection = outputs.find((o) => o.value.data.group.scope === 'intersection')!.value.data;
    expect(intersection.group.id).toBe('INT-21231-001');
    expect(intersection.values).toEqual({
      controllersReporting: 1,
      faultReports: 2,
      lampFailureReports: 1,
      degradedSeconds: 120,
    });
  });
});
