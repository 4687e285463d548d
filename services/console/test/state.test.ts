import { describe, expect, it } from 'vitest';
import { loadPolicy } from '@ondijon/governance';
import { maskPayload } from '../src/mask';
import { ConsoleState } from '../src/state';
import { deadLetter, equipment } from './fixture';

const policy = loadPolicy();

function fleet(now: { t: number }) {
  return new ConsoleState(
    [
      equipment('LC-1', 'lighting-cabinet', 'citelum'),
      equipment('LC-2', 'lighting-cabinet', 'citelum'),
      equipment('SC-1', 'signal-controller', 'bouygues-es'),
      equipment('WV-1', 'winter-vehicle', 'dijon-metropole'),
    ],
    { policy, now: () => now.t },
  );
}

const report = (id: string, t: number, data: Record<string, unknown>) => ({
  subject: id,
  time: new Date(t).toISOString(),
  operator: id.startsWith('SC') ? 'bouygues-es' : 'citelum',
  type: 'fr.dijon.ondijon.telemetry.lighting-cabinet.v1',
  data: { intervalS: 10, faults: [], ...data },
});

describe('console state', () => {
  it('raises a silent alert after 3 reporting intervals without a report and clears it on the next report', () => {
    const now = { t: Date.parse('2026-12-06T10:00:00Z') };
    const s = fleet(now);
    s.onTelemetry(report('LC-1', now.t, { doorOpen: false }));
    s.onTelemetry(report('LC-2', now.t, { doorOpen: false }));
    now.t += 20_000;
    s.onTelemetry(report('LC-1', now.t, { doorOpen: false }));
    s.refreshAlerts();
    expect(s.alerts().map((a) => a.id)).toEqual([]);
    now.t += 15_000; // LC-2 silent for 35 s > 3 × 10 s; LC-1 for 15 s
    s.refreshAlerts();
    expect(s.alerts().map((a) => a.id)).toEqual(['LC-2:silent']);
    expect(s.get('LC-2')!.status).toBe('alert');
    s.onTelemetry(report('LC-2', now.t, { doorOpen: false }));
    s.refreshAlerts();
    expect(s.alerts()).toEqual([]);
    expect(s.get('LC-2')!.status).toBe('ok');
  });

  it('moves its alerts version only when the alerts change (live pages are sent the alerts only then)', () => {
    const now = { t: Date.parse('2026-12-06T10:00:00Z') };
    const s = fleet(now);
    s.onTelemetry(report('LC-1', now.t, { doorOpen: false }));
    s.onTelemetry(report('LC-2', now.t, { doorOpen: false }));
    s.refreshAlerts();
    const quiet = s.alertsVersion;
    now.t += 1000;
    s.onTelemetry(report('LC-1', now.t, { doorOpen: false }));
    s.refreshAlerts();
    expect(s.alertsVersion).toBe(quiet);
    s.onTelemetry(report('LC-2', now.t, { doorOpen: true }));
    s.refreshAlerts();
    expect(s.alertsVersion).toBeGreaterThan(quiet);
    const open = s.alertsVersion;
    s.refreshAlerts();
    expect(s.alertsVersion).toBe(open);
    s.onTelemetry(report('LC-2', now.t + 1, { doorOpen: false }));
    s.refreshAlerts();
    expect(s.alertsVersion).toBeGreaterThan(open);
    expect(s.get('LC-2')!.lastSeen).toBe(new Date(now.t + 1).toISOString());
  });

  it('sends a row that only reported again as its last-seen time, and a row whose state, status or alerts changed whole', () => {
    const now = { t: Date.parse('2026-12-06T10:00:00Z') };
    const s = fleet(now);
    s.onTelemetry(report('LC-1', now.t, { doorOpen: false }));
    s.onTelemetry(report('LC-2', now.t, { doorOpen: false }));
    s.refreshAlerts();
    const first = s.changesSince(undefined, -1);
    expect(first.rows.map((r) => r.id)).toEqual(['LC-1', 'LC-2', 'SC-1', 'WV-1']); // from -1: whole rows
    expect(first.seen.ids).toEqual([]);
    const v = s.currentVersion;
    now.t += 5000;
    s.onTelemetry(report('LC-1', now.t, { doorOpen: false })); // the same state: last-seen time only
    s.onTelemetry(report('LC-2', now.t + 250, { doorOpen: true })); // a new state: the whole row
    s.onTelemetry(report('SC-1', now.t, { mode: 'normal', doorOpen: false })); // first report
    const next = s.changesSince(undefined, v);
    expect(next.rows.map((r) => r.id)).toEqual(['LC-2', 'SC-1']);
    expect(next.seen.ids).toEqual(['LC-1']);
    expect(new Date(next.seen.t0 + next.seen.dt[0]!).toISOString()).toBe(s.get('LC-1')!.lastSeen);
    // An operator's page gets only its rows.
    expect(s.changesSince('bouygues-es', v).rows.map((r) => r.id)).toEqual(['SC-1']);
    expect(s.changesSince('bouygues-es', v).seen.ids).toEqual([]);
    // A status change made by the alerts' refresh (LC-2's door) sends the row whole, even with no report.
    const w = s.currentVersion;
    s.refreshAlerts();
    expect(s.changesSince(undefined, w).rows.map((r) => [r.id, r.status])).toEqual([
      ['LC-2', 'alert'],
      ['SC-1', 'ok'],
    ]);
    expect(s.changesSince(undefined, w).seen.ids).toEqual([]);
    // Faults in the same order are the same state; another fault is a change.
    const x = s.currentVersion;
    s.onTelemetry(report('LC-1', now.t + 1000, { doorOpen: false, faults: [] }));
    s.onTelemetry(report('LC-2', now.t + 1000, { doorOpen: true, faults: ['breaker'] }));
    expect(s.changesSince(undefined, x).seen.ids).toEqual(['LC-1']);
    expect(s.changesSince(undefined, x).rows.map((r) => r.id)).toEqual(['LC-2']);
  });

  it("tells a repeated state from a changed one field by field, and keeps copies, not the report's arrays", () => {
    const now = { t: Date.parse('2026-12-06T10:00:00Z') };
    const s = fleet(now);
    const changed = (data: Record<string, unknown>): boolean => {
      const v = s.currentVersion;
      now.t += 1000;
      s.onTelemetry(report('LC-1', now.t, data));
      return s.changesSince(undefined, v).rows.some((r) => r.id === 'LC-1');
    };
    expect(changed({ circuitsOn: 2, doorOpen: false, faults: ['a', 'b'] })).toBe(true); // first report
    expect(changed({ circuitsOn: 2, doorOpen: false, faults: ['a', 'b'] })).toBe(false);
    expect(changed({ circuitsOn: 2, doorOpen: false, faults: ['b', 'a'] })).toBe(true); // another order
    expect(changed({ circuitsOn: 2, doorOpen: false, faults: ['b', 'a'], powerW: 12 })).toBe(false); // not shown
    expect(changed({ circuitsOn: '2', doorOpen: false, faults: ['b', 'a'] })).toBe(true); // a text is not a number
    expect(changed({ doorOpen: false, faults: ['b', 'a'] })).toBe(true); // a field no longer reported
    expect(s.get('LC-1')!.state).toEqual({ doorOpen: false, faults: ['b', 'a'] });
    expect(changed({ doorOpen: false, faults: ['b', 'a'], circuitsOn: { n: 2 } })).toBe(false); // not a shown type
    expect(changed({ doorOpen: false })).toBe(true); // the faults gone
    // The row holds copies: changing the report afterwards changes nothing shown.
    const faults = ['c'];
    expect(changed({ doorOpen: true, faults })).toBe(true);
    faults.push('d');
    expect(s.get('LC-1')!.state.faults).toEqual(['c']);
  });

  it('raises fault, door-open and signal-mode alerts while the cause lasts, and never alerts on S2 families', () => {
    const now = { t: Date.parse('2026-12-06T10:00:00Z') };
    const s = fleet(now);
    s.onTelemetry(report('LC-1', now.t, { doorOpen: true, faults: ['breaker'] }));
    s.onTelemetry(report('SC-1', now.t, { mode: 'flashing', doorOpen: false }));
    s.refreshAlerts();
    expect(
      s
        .alerts()
        .map((a) => a.id)
        .sort(),
    ).toEqual(['LC-1:door-open', 'LC-1:fault', 'SC-1:signal-mode']);
    expect(s.alerts('bouygues-es').map((a) => a.id)).toEqual(['SC-1:signal-mode']);
    s.onTelemetry(report('LC-1', now.t + 1, { doorOpen: false }));
    s.onTelemetry(report('SC-1', now.t + 1, { mode: 'normal', doorOpen: false }));
    s.refreshAlerts();
    expect(s.alerts()).toEqual([]);
    now.t += 3_600_000;
    s.refreshAlerts();
    expect(s.alerts().some((a) => a.equipmentId === 'WV-1')).toBe(false);
    expect(s.get('WV-1')!.status).toBe('unfollowed');
  });

  it('counts rates by family and operator, and scopes equipment and rejections to an operator', () => {
    const now = { t: Date.parse('2026-12-06T10:00:00Z') };
    const s = fleet(now);
    for (let i = 0; i < 50; i++) s.onTelemetry(report('LC-1', now.t, {}));
    now.t += 10_000;
    const o = s.overview(undefined, 10);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(o.rates.byOperator.citelum!) * 10).toBeCloseTo(50);
    expect(o.rates.byOperator['bouygues-es']).toBeUndefined();
    expect(
      s
        .equipment('citelum')
        .map((r) => r.id)
        .sort(),
    ).toEqual(['LC-1', 'LC-2']);
    s.onDeadLetter(deadLetter({}), 'ingest');
    s.onDeadLetter(deadLetter({ mqttTopic: 'ondijon/v1/signal-controller/bouygues-es/SC-1' }), 'ingest');
    s.onDeadLetter(deadLetter({ mqttTopic: 'garbage' }), 'ingest');
    expect(s.rejectionsOf('citelum')).toHaveLength(1);
    expect(s.rejectionsOf('citelum')[0]!.fields).toEqual(['seq']);
    expect(s.rejectionsOf()).toHaveLength(3);
  });
});

describe('payload masking', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  it('shows S1 fields and masks S2+ and unknown fields', () => {
    const shown = maskPayload(
      policy,
      'streetlight',
      b64('{"seq":1,"state":"on","presenceDetections":4,"x":1}'),
      'S3',
    );
    expect(shown.status).toBe('partial');
    expect(shown.maskedFields.sort()).toEqual(['presenceDetections', 'x']);
    expect(shown.text).not.toContain('4,');
    expect(JSON.parse(shown.text!)).toMatchObject({ seq: 1, state: 'on' });
  });
  it('shows a non-JSON payload only for an S0/S1 source', () => {
    expect(maskPayload(policy, 'lighting-cabinet', b64('{"seq": 1, trunc'), 'S3')).toMatchObject({
      status: 'shown',
    });
    expect(maskPayload(policy, 'winter-vehicle', b64('{"agentId": "A12", trunc'), 'S3')).toEqual({
      status: 'masked',
      text: null,
      maskedFields: [],
    });
    expect(maskPayload(policy, undefined, b64('abc'), 'S3').status).toBe('masked');
    expect(maskPayload(policy, 'streetlight', null, 'S4').status).toBe('absent');
  });
});
