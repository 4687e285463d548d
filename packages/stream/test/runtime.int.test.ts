/* eslint-disable @typescript-eslint/no-explicit-any -- aggregates read without casts */
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteRedisKeys,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { createBatchingProducer, readAll } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defineProcessor,
  runProcessor,
  runProcessors,
  silentStreamLogger,
  energyProcessor,
  telemetryOf,
  tumbling,
  type LatePolicy,
} from '../src/index';
import type { Envelope } from '@ondijon/contracts';
import { at, binaryLamp, countAttributes, countData, countsByWindow, lamp } from './support';

const silent = silentStreamLogger;

const energy = (name: string, late: LatePolicy) => energyProcessor(name, late, 60_000);

describe('stream runtime on Kafka and Redis', () => {
  const cleanup = new Cleanup();
  const kafka = testKafka();
  let redis: Redis;
  const topics = { input: '', output: '', dlq: '', late: '' };

  beforeAll(async () => {
    redis = new Redis(testEndpoints().redisUrl);
    cleanup.add(() => redis.quit());
    topics.input = await createTestTopic('stream-in', { partitions: 3 });
    topics.output = await createTestTopic('stream-out');
    topics.dlq = await createTestTopic('stream-dlq');
    topics.late = await createTestTopic('stream-late');
    cleanup.add(() => deleteTopics(Object.values(topics)));
  });
  afterAll(() => cleanup.run());

  const produce = async (values: unknown[]) => {
    const p = createBatchingProducer(kafka);
    await p.connect();
    await Promise.all(
      values.map((v) =>
        p.send(topics.input, {
          key: typeof v === 'object' && v && 'subject' in v ? String(v.subject) : 'x',
          value: typeof v === 'string' ? v : JSON.stringify(v),
        }),
      ),
    );
    await p.disconnect();
  };
  const latest = async () => {
    const out = new Map<string, { revision: number; kwh: number; late: number }>();
    for (const r of await readAll(kafka, topics.output)) {
      const v = JSON.parse(r.value!);
      const prev = out.get(r.key!);
      if (!prev || v.data.revision >= prev.revision)
        out.set(r.key!, {
          revision: v.data.revision,
          kwh: v.data.values.energyKwh,
          late: v.data.lateRecords,
        });
    }
    return out;
  };

  it('aggregates exactly once with duplicates, a poison record and late revisions', async () => {
    const name = uniqueName('rt')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const keyPrefix = `${name}:`;
    cleanup.add(() => deleteRedisKeys(redis, keyPrefix));
    cleanup.add(() => deleteGroups([`${name}.${name}`]));
    const values: unknown[] = [];
    let expected1 = 0; // commune 21231, 10:00
    for (let i = 0; i < 300; i++) {
      const id = `SL-${i % 6}${i % 2 === 0 ? '1' : '2'}`;
      const v = lamp(id, i, (i % 150) * 0.6, 10 + (i % 7));
      values.push(v);
      if (i % 2 === 0 && (i % 150) * 0.6 < 60) expected1 += 10 + (i % 7);
      if (i % 50 === 0) values.push(v); // redelivered duplicate: same id
    }
    values.push('{not json');
    await produce(values);
    const runtime = await runProcessors([energy(name, 'revise')], {
      kafka,
      redis,
      groupId: name,
      logger: silent,
      keyPrefix,
      // One byte of fetch-ahead: every batch waits for the one before it (the backpressure path).
      maxQueuedBytes: 1,
      idleFlushMs: 1_500,
      emitIntervalMs: 200,
      topicOverrides: {
        'tel.s1.lighting.v1': topics.input,
        'agg.s1.lighting-commune-hour.v1': topics.output,
        'dlq.s3.stream.v1': topics.dlq,
        'late.s2.stream.v1': topics.late,
      },
    });
    try {
      const key = `${name}|commune=21231|${at(0)}`;
      // The stream wraps around (minutes 0–89 twice), so the 10:00 window is first emitted, then revised.
      await waitFor(
        async () =>
          runtime.stats().processed === values.length &&
          (await runtime.backlog()).open +
            (await runtime.backlog()).closing +
            (await runtime.backlog()).dirty ===
            0,
        {
          timeoutMs: 60_000,
          message: 'all records applied and all windows emitted',
        },
      );
      const first = (await latest()).get(key)!;
      expect(first.kwh).toBeCloseTo(expected1 / 1000, 9);
      expect(runtime.stats().duplicates).toBeGreaterThanOrEqual(6);
      const dlq = await waitFor(
        async () => {
          const list = (await readAll(kafka, topics.dlq)).map((r) => JSON.parse(r.value!));
          return list.length > 0 ? list : undefined;
        },
        { message: 'dead letter' },
      );
      expect(dlq.map((d) => d.code)).toEqual(['ONDIJON_RECORD_INVALID']);

      // Late: the 10:00 window is closed (idle flush); a new record for it, and a duplicate of an old one.
      await produce([lamp('SL-91', 10_000, 30, 1000), values[0]]);
      const revised = await waitFor(
        async () => {
          const r = (await latest()).get(key);
          return r && r.revision > first.revision ? r : undefined;
        },
        { timeoutMs: 30_000, message: 'revision' },
      );
      expect(revised.kwh).toBeCloseTo((expected1 + 1000) / 1000, 9);
      expect(revised.late).toBe(first.late + 1);
    } finally {
      await runtime.close();
    }
  });

  it("routes late records when the processor says 'route'", async () => {
    const name = uniqueName('rtl')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const keyPrefix = `${name}:`;
    cleanup.add(() => deleteRedisKeys(redis, keyPrefix));
    cleanup.add(() => deleteGroups([`${name}.${name}`]));
    const late = await createTestTopic('stream-late2');
    const out = await createTestTopic('stream-out2');
    const input = await createTestTopic('stream-in2');
    cleanup.add(() => deleteTopics([late, out, input]));
    const runtime = await runProcessors([energy(name, 'route')], {
      kafka,
      redis,
      groupId: name,
      logger: silent,
      keyPrefix,
      idleFlushMs: 60_000,
      emitIntervalMs: 100,
      topicOverrides: {
        'tel.s1.lighting.v1': input,
        'agg.s1.lighting-commune-hour.v1': out,
        'dlq.s3.stream.v1': topics.dlq,
        'late.s2.stream.v1': late,
      },
    });
    try {
      const p = createBatchingProducer(kafka);
      await p.connect();
      const send = (v: unknown) => p.send(input, { key: 'k', value: JSON.stringify(v) });
      await send(lamp('SL-01', 1, 5, 100));
      await send(lamp('SL-01', 2, 75, 100)); // stream time 11:15 > 11:00 + 1 min grace: 10:00 closes
      await waitFor(async () => (await readAll(kafka, out)).length === 1, { message: '10:00 emitted' });
      await send(lamp('SL-01', 3, 20, 5000)); // late
      await p.disconnect();
      const routed = await waitFor(
        async () => {
          const list = (await readAll(kafka, late)).map((r) => JSON.parse(r.value!));
          return list.length > 0 ? list : undefined;
        },
        { message: 'late record' },
      );
      expect(routed).toEqual([
        expect.objectContaining({ processor: name, eventTime: at(20), windowStart: at(0) }),
      ]);
      const results = (await readAll(kafka, out)).map((r) => JSON.parse(r.value!).data);
      expect(results.map((d) => [d.revision, d.values.energyKwh])).toEqual([[0, 0.1]]);
    } finally {
      await runtime.close();
    }
  });

  it('holds the watermark for partitions queued but not applied yet (no early close when one fetch spans hours)', async () => {
    // One fetch brings every partition's records (600 minutes each, well under maxBytesPerPartition),
    // and the runtime applies them partition after partition. The watermark used to be the minimum
    // over partitions that had applied a chunk, so while partition 0 was applied the emitter closed
    // the windows partitions 1 and 2 still had to fill: their records were late (routed here), and
    // BENCH_COMPRESSION=gzip pnpm bench:stream stopped on the version conflicts this made.
    const name = uniqueName('rtq')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const keyPrefix = `${name}:`;
    cleanup.add(() => deleteRedisKeys(redis, keyPrefix));
    cleanup.add(() => deleteGroups([`${name}.${name}`]));
    const input = await createTestTopic('stream-in4', { partitions: 3 });
    const out = await createTestTopic('stream-out4');
    const late = await createTestTopic('stream-late4');
    cleanup.add(() => deleteTopics([input, out, late]));
    const producer = kafka.producer();
    await producer.connect();
    const minutes = 600;
    for (let partition = 0; partition < 3; partition++)
      await producer.send({
        topic: input,
        acks: -1,
        messages: Array.from({ length: minutes }, (_, m) => ({
          partition,
          key: `SL-${partition}${m % 2}`,
          value: JSON.stringify(lamp(`SL-${partition}${m % 2}`, m, m, 10)),
        })),
      });
    await producer.disconnect();
    const runtime = await runProcessors([energyProcessor(name, 'route', 0, tumbling('10m'))], {
      kafka,
      redis,
      groupId: name,
      logger: silent,
      keyPrefix,
      // Small chunks and frequent sweeps: the emitter runs many times while partition 0 is applied.
      maxChunk: 20,
      idleFlushMs: 60_000,
      emitIntervalMs: 20,
      topicOverrides: {
        'tel.s1.lighting.v1': input,
        'agg.s1.lighting-commune-hour.v1': out,
        'dlq.s3.stream.v1': topics.dlq,
        'late.s2.stream.v1': late,
      },
    });
    try {
      // 60 windows of 10 min × 2 communes; the last window of each stays open (no idle flush).
      await waitFor(async () => runtime.stats().processed === 3 * minutes && runtime.stats().emitted >= 118, {
        timeoutMs: 60_000,
        message: 'all records applied and the closed windows emitted',
      });
      expect(runtime.stats().late).toBe(0);
      expect(runtime.stats().conflicts).toBe(0);
      const results = (await readAll(kafka, out)).map((r) => JSON.parse(r.value!).data);
      // Every window emitted once, with the records of the three partitions.
      expect(results.map((d) => [d.revision, d.inputRecords])).toEqual(results.map(() => [0, 15]));
      expect(await readAll(kafka, late)).toEqual([]);
    } finally {
      await runtime.close();
    }
  });

  it('runs an attribute-only processor as the harness does: same counts, a non-JSON value counted, not dead-lettered', async () => {
    const name = uniqueName('rta')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const keyPrefix = `${name}:`;
    cleanup.add(() => deleteRedisKeys(redis, keyPrefix));
    cleanup.add(() => deleteGroups([`${name}.${countAttributes.name}`, `${name}.${countData.name}`]));
    const input = await createTestTopic('stream-in5', { partitions: 2 });
    const out = await createTestTopic('stream-out5');
    const dlq = await createTestTopic('stream-dlq5');
    cleanup.add(() => deleteTopics([input, out, dlq]));
    const records = Array.from({ length: 60 }, (_, i) => binaryLamp(i));
    // A value that is not JSON, with valid attributes.
    records.push({ ...binaryLamp(60), value: '{not json' });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: input, acks: -1, messages: records });
    await producer.disconnect();
    const runtime = await runProcessors([countAttributes, countData], {
      kafka,
      redis,
      groupId: name,
      logger: silent,
      keyPrefix,
      idleFlushMs: 1_000,
      emitIntervalMs: 100,
      topicOverrides: {
        'tel.s1.lighting.v1': input,
        'agg.s1.lighting-commune-hour.v1': out,
        'dlq.s3.stream.v1': dlq,
        'late.s2.stream.v1': topics.late,
      },
    });
    try {
      const latestOf = async (processor: string) => {
        const byKey = new Map<string, Envelope<any>>();
        for (const r of await readAll(kafka, out)) {
          const v = JSON.parse(r.value!) as Envelope<any>;
          const prev = byKey.get(r.key!);
          if (v.data.processor === processor && (!prev || v.data.revision >= prev.data.revision))
            byKey.set(r.key!, v);
        }
        return byKey.values();
      };
      const harness = (def: typeof countAttributes) =>
        countsByWindow(
          runProcessor(
            def,
            records.map((r) => ({
              topic: 'tel.s1.lighting.v1' as const,
              key: r.key,
              timestamp: r.timestamp,
              headers: r.headers,
              value: r.value,
            })),
          ).latest.values(),
        );
      await waitFor(
        async () => {
          const b = await runtime.backlog();
          return runtime.stats().processed === 2 * records.length && b.open + b.closing + b.dirty === 0;
        },
        { timeoutMs: 60_000, message: 'all records applied and all windows emitted' },
      );
      const attributes = countsByWindow(await latestOf(countAttributes.name));
      expect(attributes).toEqual(harness(countAttributes));
      expect(countsByWindow(await latestOf(countData.name))).toEqual(harness(countData));
      // The non-JSON value: counted by the attribute-only processor, dead-lettered by the data one.
      const total = (m: typeof attributes) => [...m.values()].reduce((n, c) => n + c.records, 0);
      expect(total(attributes)).toBe(records.length);
      expect(total(countsByWindow(await latestOf(countData.name)))).toBe(records.length - 1);
      const letters = (await readAll(kafka, dlq)).map((r) => JSON.parse(r.value!));
      expect(letters.map((d) => [d.rejectedBy, d.reason])).toEqual([
        [`processors/${countData.name}`, 'record value is not JSON'],
      ]);
    } finally {
      await runtime.close();
    }
  });

  it('runs a stateless processor unchanged: outputs with provenance, poison to the dead-letter topic', async () => {
    const name = uniqueName('rts')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    cleanup.add(() => deleteGroups([`${name}.${name}`]));
    const input = await createTestTopic('stream-in3', { partitions: 2 });
    const out = await createTestTopic('stream-out3');
    const dlq = await createTestTopic('stream-dlq3');
    cleanup.add(() => deleteTopics([input, out, dlq]));
    const darkLamps = defineProcessor({
      name,
      version: '2.0.0',
      inputs: ['tel.s1.lighting.v1'],
      outputs: ['tel.s2.lighting.v1'],
      process: (r, ctx) =>
        telemetryOf(r.value, 'streetlight')?.energyWh === 0
          ? {
              topic: 'tel.s2.lighting.v1',
              value: ctx.derive(r.value, r.value.data, { type: r.value.type, sensitivity: 'S2' }),
            }
          : undefined,
    });
    const runtime = await runProcessors([darkLamps], {
      kafka,
      redis,
      groupId: name,
      logger: silent,
      topicOverrides: { 'tel.s1.lighting.v1': input, 'tel.s2.lighting.v1': out, 'dlq.s3.stream.v1': dlq },
    });
    try {
      const p = createBatchingProducer(kafka);
      await p.connect();
      await Promise.all([
        p.send(input, { key: 'SL-01', value: JSON.stringify(lamp('SL-01', 1, 1, 0)) }),
        p.send(input, { key: 'SL-02', value: JSON.stringify(lamp('SL-02', 1, 1, 50)) }),
        p.send(input, { key: 'SL-03', value: '{"specversion":"1.0"}' }),
      ]);
      await p.disconnect();
      const outputs = await waitFor(
        async () => {
          const list = await readAll(kafka, out);
          return list.length > 0 ? list : undefined;
        },
        { message: 'stateless output' },
      );
      expect(outputs).toHaveLength(1);
      const env = JSON.parse(outputs[0]!.value!);
      expect(env).toMatchObject({
        subject: 'SL-01',
        sensitivity: 'S2',
        lineage: { inputs: ['tel.s1.lighting.v1'], producer: name, producerVersion: '2.0.0' },
      });
      expect(outputs[0]!.headers.ondijon_sensitivity).toBe('S2');
      const letters = await waitFor(
        async () => {
          const list = await readAll(kafka, dlq);
          return list.length > 0 ? list.map((r) => JSON.parse(r.value!)) : undefined;
        },
        { message: 'dead letter' },
      );
      expect(letters.map((d) => [d.code, d.kafkaTopic])).toEqual([
        ['ONDIJON_RECORD_INVALID', 'tel.s1.lighting.v1'],
      ]);
    } finally {
      await runtime.close();
    }
  });
});
