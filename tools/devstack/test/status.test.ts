import { describe, expect, it } from 'vitest';
import {
  metricByLabel,
  notableLine,
  parseMetrics,
  renderStatus,
  StatusBoard,
  type StatusSnapshot,
} from '../src/status';

const METRICS = `# HELP ondijon_ingest_messages_received_total Messages received.
# TYPE ondijon_ingest_messages_received_total counter
ondijon_ingest_messages_received_total 1200
ondijon_ingest_messages_rejected_total{code="ONDIJON_SCHEMA_INVALID"} 3
ondijon_ingest_messages_rejected_total{code="ONDIJON_TIME_IN_FUTURE",x="y"} 2
ondijon_ingest_records_produced_total{topic="tel.s1.lighting.v1"} 700
ondijon_ingest_records_produced_total{topic="tel.s1.traffic.v1"} 495
`;

describe('metrics', () => {
  it('sums each metric over its labels', () => {
    const m = parseMetrics(METRICS);
    expect(m.get('ondijon_ingest_messages_received_total')).toBe(1200);
    expect(m.get('ondijon_ingest_records_produced_total')).toBe(1195);
    expect(m.get('ondijon_ingest_messages_rejected_total')).toBe(5);
  });

  it('splits one metric by a label', () => {
    expect([...metricByLabel(METRICS, 'ondijon_ingest_messages_rejected_total', 'code')]).toEqual([
      ['ONDIJON_SCHEMA_INVALID', 3],
      ['ONDIJON_TIME_IN_FUTURE', 2],
    ]);
  });
});

describe('notableLine', () => {
  const line = (level: number, msg: string, extra: object = {}) =>
    JSON.stringify({ level, time: Date.UTC(2026, 11, 6, 19, 0, 1), service: 'x', msg, ...extra });

  it('hides info and debug lines, which go to the log file only', () => {
    expect(notableLine(line(30, 'partition claimed', { partition: 3 }))).toBeUndefined();
    expect(notableLine(line(20, 'fetched'))).toBeUndefined();
  });

  it('shows warnings, errors and output that is not a log line (a crash)', () => {
    expect(notableLine(line(40, 'mqtt connection offline', { connection: 1 }))).toBe(
      '19:00:01 WARN mqtt connection offline connection=1',
    );
    expect(notableLine(line(50, 'release blocked', { datasetId: 'a' }))).toBe(
      '19:00:01 ERROR release blocked datasetId=a',
    );
    expect(notableLine('TypeError: boom')).toBe('TypeError: boom');
  });

  it('leaves out what the runner reports itself', () => {
    expect(notableLine(line(40, 'known'), new Set(['known']))).toBeUndefined();
  });
});

const snapshot: StatusSnapshot = {
  runId: 'run1',
  upMs: 125_000,
  simTime: '2026-12-05T21:40:00.000Z',
  speed: 720,
  services: { ingest: true, processors: false, publisher: undefined },
  rates: { published: 545, ingested: 544.6 },
  totals: { sent: 38136, rejected: 5, late: 2, duplicates: 40, releases: 3, datasets: 2, lag: 0 },
  apiBase: 'http://127.0.0.1:18080',
  metricsPorts: { ingest: 19401 },
  logsDir: '.stack/runs/run1/logs',
  publishDelayOverridden: true,
};

describe('renderStatus', () => {
  it('shows services, rates, totals and where to look, in a few lines', () => {
    const lines = renderStatus(snapshot);
    expect(lines[0]).toBe(
      '━━ OnDijon pipeline · run1 · up 0:02:05 · simulated 2026-12-05 21:40 UTC (×720) ━━',
    );
    expect(lines[1]).toBe('  services   ingest ✓ · processors … · publisher ✗');
    expect(lines[2]).toContain('MQTT 545 → ingest 545 → Kafka …');
    expect(lines[3]).toContain('sent 38 136 · rejected 5 · late 2 · duplicates 40');
    expect(lines.some((l) => l.includes('http://127.0.0.1:18080/api/3/action/package_list'))).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(8);
  });
});

function fakeStream(isTTY: boolean) {
  let text = '';
  const out = {
    isTTY,
    columns: 60,
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { out, text: () => text };
}

describe('StatusBoard', () => {
  it('on a terminal, redraws the block in place below each event', () => {
    const { out, text } = fakeStream(true);
    const board = new StatusBoard(out);
    board.update(['a', 'b']);
    board.event('event 1');
    board.update(['c', 'd']);
    expect(text()).toBe('a\nb\n\x1b[2A\x1b[0Jevent 1\na\nb\n\x1b[2A\x1b[0Jc\nd\n');
  });

  it('without a terminal, prints events as they come and the block at most once a minute', () => {
    const { out, text } = fakeStream(false);
    const board = new StatusBoard(out, 60_000);
    board.update(['a'], 0);
    board.event('event 1');
    board.update(['b'], 30_000);
    board.update(['c'], 60_000);
    expect(text()).toBe('a\nevent 1\nc\n');
  });
});
