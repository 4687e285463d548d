import { defineWindowedAggregation, telemetryOf, tumbling } from '@ondijon/stream';
import { intersectionOf } from './shared';

interface Acc {
  controllers: Record<string, 1>;
  faultReports: number;
  lampFailureReports: number;
  degradedS: number;
}

/** Signal controller faults and time in a mode other than `normal`, per intersection and commune and hour. */
export const signalStatus = defineWindowedAggregation({
  name: 'signal-status',
  version: '1.0.0',
  description:
    'Controllers reporting, fault reports, lamp-failure reports and degraded seconds per intersection and commune, hour.',
  inputs: ['tel.s1.traffic.v1'],
  output: 'agg.s1.signal-status.v1',
  window: tumbling('1h'),
  graceMs: 5 * 60_000,
  late: 'revise',
  key: (r) => {
    const commune = r.value.commune;
    if (!commune || !telemetryOf(r.value, 'signal-controller') || !r.value.subject) return undefined;
    return [
      { scope: 'intersection' as const, id: intersectionOf(r.value.subject), commune },
      { scope: 'commune' as const, id: commune, commune },
    ];
  },
  init: (): Acc => ({ controllers: {}, faultReports: 0, lampFailureReports: 0, degradedS: 0 }),
  add: (acc, r) => {
    const t = telemetryOf(r.value, 'signal-controller')!;
    acc.controllers[r.value.subject!] = 1;
    if (t.faults.length > 0) acc.faultReports += 1;
    if (t.lampFailures > 0 || t.faults.includes('lamp-failure')) acc.lampFailureReports += 1;
    if (t.mode !== 'normal') acc.degradedS += t.intervalS;
    return acc;
  },
  result: (acc) => ({
    controllersReporting: Object.keys(acc.controllers).length,
    faultReports: acc.faultReports,
    lampFailureReports: acc.lampFailureReports,
    degradedSeconds: acc.degradedS,
  }),
});
