import { describe, expect, it } from 'vitest';
import { toBinary, topicConstants } from '@ondijon/contracts';
import { decode, type RawRecord } from '../src/engine';
import {
  defineWindowedAggregation,
  runProcessor,
  telemetryEnvelope,
  telemetryOf,
  tumbling,
  hopping,
  defineProcessor,
} from '../src/index';

const at = (min: number) => new Date(Date.UTC(2025, 0, 15, 10, 0) + min * 60_000).toISOString();

let seq = 0;
const lamp = (
  equipmentId: string,
  min: number,
  energyWh: number,
  extra: { commune?: string; seq?: number; operator?: string } = {},
) =>
  telemetryEnvelope(
    'streetlight',
    {
      seq: extra.seq ?? seq++,
      observedAt: at(min),
      state: 'on',
      dimLevelPct: 100,
      powerW: 50,
      energyWh,
      intervalS: 600,
      burningHours: 1000,
      faults: [],
    },
    { equipmentId, commune: extra.commune ?? '21231', operator: extra.operator ?? 'op-a' },
  );

/** Energy per commune and hour: the smallest useful aggregation. */
function energyPerHour(late: 'revise' | 'route', graceMs = 5 * 60_000) {
  return defineWindowedAggregation({
    name: 'test-energy',
    version: '1.0.0',
    inputs: ['tel.s1.lighting.v1'],
    output: 'agg.s1.lighting-commune-hour.v1',
    window: tumbling('1h'),
    graceMs,
    late,
    key: (r) => ({ commune: r.value.commune ?? '00000' }),
    init: () => ({ wh: 0, lamps: [] as string[] }),
    add: (acc, r) => {
      const t = telemetryOf(r.value, 'streetlight');
      if (t) acc.wh += t.energyWh;
      if (r.value.subject && !acc.lamps.includes(r.value.subject)) acc.lamps.push(r.value.subject);
      return acc;
    },
    result: (acc) => ({
      energyKwh: acc.wh / 1000,
      burningHours: 0,
      luminairesReporting: acc.lamps.length,
      cabinetsReporting: 0,
      faultsLamp: 0,
      faultsDriver: 0,
      faultsCommunication: 0,
      dimmedShare: null,
    }),
  });
}

describe('runProcessor (windowed)', () => {
  it('sums a tumbling window and emits it when stream time passes end + grace', () => {
    const { outputs } = runProcessor(
      energyPerHour('revise'),
      [lamp('SL-1', 5, 100), lamp('SL-2', 50, 200), lamp('SL-1', 70, 7)],
      { flush: false },
    );
    expect(outputs.map((o) => [o.key, o.value.data.values.energyKwh, o.value.data.revision])).toEqual([
      ['test-energy|commune=21231|2025-01-15T10:00:00.000Z', 0.3, 0],
    ]);
  });

  it('does not emit before end + grace, and flushes at the end', () => {
    const noFlush = runProcessor(energyPerHour('revise'), [lamp('SL-1', 5, 100), lamp('SL-1', 63, 7)], {
      flush: false,
    });
    expect(noFlush.outputs).toHaveLength(0); // 11:03 < 11:00 + 5 min grace
    const flushed = runProcessor(energyPerHour('revise'), [lamp('SL-1', 5, 100), lamp('SL-1', 63, 7)]);
    expect(flushed.outputs.map((o) => o.value.data.values.energyKwh)).toEqual([0.1, 0.007]);
  });

  it('fills provenance: lineage, counts per operator, max sensitivity, contributors', () => {
    const { outputs } = runProcessor(energyPerHour('revise'), [
      lamp('SL-1', 5, 100, { operator: 'op-a' }),
      lamp('SL-2', 6, 100, { operator: 'op-b' }),
      lamp('SL-2', 7, 100, { operator: 'op-b' }),
    ]);
    const env = outputs[0]!.value;
    expect(env.sensitivity).toBe('S1');
    expect(env.lineage).toMatchObject({
      inputs: ['tel.s1.lighting.v1'],
      producer: 'test-energy',
      producerVersion: '1.0.0',
      countsByOperator: { 'op-a': 1, 'op-b': 2 },
    });
    expect(env.lineage.window).toEqual({
      start: '2025-01-15T10:00:00.000Z',
      end: '2025-01-15T11:00:00.000Z',
    });
    expect(env.data.contributors).toEqual({ equipment: 2, operators: 2 });
    expect(env.data.inputRecords).toBe(3);
    expect(env.commune).toBe('21231');
  });

  it('counts a duplicate event (same id, new offset) once, and skips a replayed offset', () => {
    const a = lamp('SL-1', 5, 100);
    const records = [
      { topic: 'tel.s1.lighting.v1' as const, value: a, offset: 0 },
      { topic: 'tel.s1.lighting.v1' as const, value: a, offset: 1 }, // redelivered by ingest: same envelope id
      { topic: 'tel.s1.lighting.v1' as const, value: lamp('SL-2', 6, 50), offset: 2 },
      { topic: 'tel.s1.lighting.v1' as const, value: lamp('SL-3', 7, 1000), offset: 2 }, // replayed offset: skipped
    ];
    const { outputs } = runProcessor(energyPerHour('revise'), records);
    expect(outputs.map((o) => o.value.data.values.energyKwh)).toEqual([0.15]);
    expect(outputs[0]!.value.data.inputRecords).toBe(2);
  });

  it("late: 'revise' emits a new revision of the closed window with the late record folded in", () => {
    const { outputs, late, latest } = runProcessor(
      energyPerHour('revise'),
      [lamp('SL-1', 5, 100), lamp('SL-1', 70, 1), lamp('SL-2', 30, 50)],
      { flush: false },
    );
    expect(late).toHaveLength(0);
    expect(
      outputs.map((o) => [o.value.data.revision, o.value.data.values.energyKwh, o.value.data.lateRecords]),
    ).toEqual([
      [0, 0.1, 0],
      [1, 0.15, 1],
    ]);
    expect(outputs[0]!.key).toBe(outputs[1]!.key);
    expect(outputs[0]!.value.id).not.toBe(outputs[1]!.value.id);
    expect(latest.get(outputs[0]!.key!)!.data.values.energyKwh).toBe(0.15);
  });

  it("late: 'route' sends the late record to the late list and leaves the window as emitted", () => {
    const { outputs, late } = runProcessor(
      energyPerHour('route'),
      [lamp('SL-1', 5, 100), lamp('SL-1', 70, 1), lamp('SL-2', 30, 50)],
      { flush: false },
    );
    expect(outputs.map((o) => [o.value.data.revision, o.value.data.values.energyKwh])).toEqual([[0, 0.1]]);
    expect(late).toEqual([
      expect.objectContaining({
        processor: 'test-energy',
        windowStart: '2025-01-15T10:00:00.000Z',
        eventTime: at(30),
        streamTime: at(70),
      }),
    ]);
  });

  it("routes a late record beyond the revise horizon even with late: 'revise', as the runtime does", () => {
    const week = 7 * 24 * 60;
    const { outputs, late } = runProcessor(
      energyPerHour('revise'),
      [lamp('SL-1', 5, 100), lamp('SL-1', week, 1), lamp('SL-2', 30, 50), lamp('SL-2', week - 1440, 7)],
      { flush: false },
    );
    // 10:00 closed at revision 0; a week later it is past end + grace + 6 days: the 10:30 record is
    // routed. The record of a day before stream time is late but within the horizon: folded, emitted.
    expect(late.map((l) => [l.eventTime, l.windowStart])).toEqual([[at(30), at(0)]]);
    expect(
      outputs.map((o) => [o.value.data.windowStart, o.value.data.revision, o.value.data.lateRecords]),
    ).toEqual([
      [at(0), 0, 0],
      [at(week - 1440), 0, 1],
    ]);
    const shorter = runProcessor(
      energyPerHour('revise'),
      [lamp('SL-1', 5, 100), lamp('SL-1', 180, 1), lamp('SL-2', 30, 50)],
      { flush: false, reviseHorizonMs: 60 * 60_000 },
    );
    expect(shorter.late.map((l) => l.eventTime)).toEqual([at(30)]);
  });

  it('a record within grace is on time', () => {
    const { outputs, late } = runProcessor(
      energyPerHour('route'),
      [lamp('SL-1', 5, 100), lamp('SL-1', 64, 1), lamp('SL-2', 59, 50)],
      { flush: false },
    );
    expect(late).toHaveLength(0);
    expect(outputs).toHaveLength(0);
  });

  it('uses the minimum stream time over partitions (watermark)', () => {
    const p = (partition: number, v: ReturnType<typeof lamp>) => ({
      topic: 'tel.s1.lighting.v1' as const,
      value: v,
      partition,
    });
    const { outputs } = runProcessor(
      energyPerHour('route'),
      [p(0, lamp('SL-1', 5, 100)), p(1, lamp('SL-2', 10, 1)), p(0, lamp('SL-1', 80, 1))],
      { flush: false },
    );
    expect(outputs).toHaveLength(0); // partition 1 is still at 10:10
  });

  it('hopping windows assign a record to size/advance windows', () => {
    const def = { ...energyPerHour('revise'), window: hopping('1h', '30m') };
    const { outputs } = runProcessor(def, [lamp('SL-1', 40, 100)]);
    expect(outputs.map((o) => o.value.data.windowStart)).toEqual([
      '2025-01-15T10:00:00.000Z', // 10:40 is in [10:00, 11:00) and [10:30, 11:30)
      '2025-01-15T10:30:00.000Z',
    ]);
  });

  it('dead-letters a poison record with a code and keeps going', () => {
    const bad = { ...lamp('SL-1', 5, 100), data: { nope: true } };
    const { outputs, deadLetters } = runProcessor(energyPerHour('revise'), [bad, lamp('SL-2', 6, 100)]);
    expect(deadLetters).toEqual([
      expect.objectContaining({
        code: 'ONDIJON_RECORD_INVALID',
        kafkaTopic: 'tel.s1.lighting.v1',
        kafkaOffset: '0',
      }),
    ]);
    expect(outputs).toHaveLength(1);
  });

  it('dead-letters a record the processor throws on, without a partial fold', () => {
    const def = energyPerHour('revise');
    const throwing = {
      ...def,
      add: (
        acc: { wh: number; lamps: string[] },
        r: Parameters<typeof def.add>[1],
        g: Parameters<typeof def.add>[2],
      ) => {
        if (r.value.subject === 'SL-BAD') throw new Error('boom');
        return def.add(acc, r, g);
      },
    };
    const { outputs, deadLetters } = runProcessor(throwing, [lamp('SL-1', 5, 100), lamp('SL-BAD', 6, 100)]);
    expect(deadLetters.map((d) => d.code)).toEqual(['ONDIJON_PROCESSOR_FAILED']);
    expect(outputs[0]!.value.data.values.energyKwh).toBe(0.1);
  });
});

describe('runProcessor (stateless)', () => {
  it('maps, filters and validates outputs', () => {
    const onlyFaulty = defineProcessor({
      name: 'test-faulty',
      version: '1.0.0',
      inputs: ['tel.s1.lighting.v1'],
      outputs: ['tel.s1.lighting.v1'],
      process: (r) =>
        telemetryOf(r.value, 'streetlight')?.energyWh === 0
          ? { topic: 'tel.s1.lighting.v1', value: r.value }
          : undefined,
    });
    const { outputs } = runProcessor(onlyFaulty, [lamp('SL-1', 5, 0), lamp('SL-2', 5, 10)]);
    expect(outputs.map((o) => o.key)).toEqual(['SL-1']);
  });
});

describe('decode of a binary-mode record with a lineage reference', () => {
  const rawOf = (headers: Record<string, string>, value: string): RawRecord => ({
    topic: 'tel.s1.lighting.v1',
    key: 'SL-1',
    value: Buffer.from(value),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
    partition: 0,
    offset: '7',
  });

  it('reads a known reference to the same envelope, and dead-letters an unknown one with ONDIJON_LINEAGE_UNKNOWN', () => {
    const env = lamp('SL-1', 5, 100);
    const rec = toBinary(env, topicConstants('tel.s1.lighting.v1'), { lineageRef: true });
    const ok = decode(energyPerHour('revise'), rawOf(rec.headers, rec.value));
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.record.value).toEqual(env);
    const unknown = decode(
      energyPerHour('revise'),
      rawOf({ ...rec.headers, ce_lineageref: '0123456789abcdef' }, rec.value),
    );
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) {
      expect(unknown.deadLetter).toMatchObject({
        code: 'ONDIJON_LINEAGE_UNKNOWN',
        kafkaTopic: 'tel.s1.lighting.v1',
        kafkaOffset: '7',
      });
      expect(unknown.deadLetter.reason).toContain('0123456789abcdef');
    }
  });
});
