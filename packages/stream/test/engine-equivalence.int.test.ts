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
import type { TopicName } from '@ondijon/contracts';
import { createBatchingProducer, readAll } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  runProcessor,
  runProcessors,
  silentStreamLogger,
  energyProcessor,
  type AnyProcessor,
  type LatePolicy,
} from '../src/index';
import { at, lamp } from './support';

// One scenario (duplicates, a poison record, late revisions, a record beyond the revise horizon, a
// routed late record) through the harness and through the Kafka/Redis runtime: the outputs, late
// records and dead letters must be identical. The scenario runs in phases; each phase is produced
// once the runtime has emitted what the previous one closed, so the runtime's watermark (read by its
// emitter) is the harness's when the next phase is judged. Within a phase no decision depends on
// another record of the same phase. The lamps' two groups: commune 21231 (ids ending in 1, on partition 0)
// and 21166 (ending in 2, partition 1).

const INPUT: TopicName = 'tel.s1.lighting.v1';
const GRACE_MS = 60_000;
const HORIZON_MS = 2 * 3_600_000;

interface Input {
  partition: number;
  value: unknown;
}
const p0 = (value: unknown): Input => ({ partition: 0, value });
const p1 = (value: unknown): Input => ({ partition: 1, value });

const a1 = lamp('SL-01', 1, 5, 100);
const b1 = lamp('SL-02', 1, 40, 70);
const phases: Input[][] = [
  // A, on time (10:00 windows): a duplicate of a1 on the other partition, and a poison record.
  [
    p0(a1),
    p0(lamp('SL-11', 1, 20, 30)),
    p1(lamp('SL-12', 1, 10, 20)),
    p1(b1),
    p1(a1),
    p0({ specversion: '1.0' }),
  ],
  // B, stream time 11:30 on both partitions: the 10:00 windows close (revision 0).
  [p0(lamp('SL-01', 2, 90, 5)), p1(lamp('SL-02', 2, 95, 6)), p0(lamp('SL-11', 2, 70, 7))],
  // C, late within the horizon: 'revise' folds them (revision 1), 'route' routes them; a duplicate
  // of b1 in its closed window is counted once.
  [p0(lamp('SL-21', 1, 30, 1000)), p1(b1), p1(lamp('SL-22', 1, 50, 2000))],
  // D, stream time 13:30: the 11:00 windows close; 13:30 is past 10:00 end + grace + horizon (13:01).
  [p0(lamp('SL-01', 3, 210, 1)), p1(lamp('SL-02', 3, 215, 2))],
  // E, late: beyond the horizon for the 10:00 window (routed whatever the policy), within it for
  // the 11:00 window (revised by 'revise').
  [p0(lamp('SL-31', 1, 15, 400)), p1(lamp('SL-32', 1, 105, 500))],
];

/** A record's comparable form: ingestedat is the wall clock of the emission. */
const normal = (v: unknown) => {
  const o = JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
  if ('ingestedat' in o) o.ingestedat = '-';
  return o;
};
const sortBy = <T>(list: T[], key: (t: T) => string) =>
  [...list].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));

describe('one window engine: the harness and the Redis runtime agree', () => {
  const cleanup = new Cleanup();
  const kafka = testKafka();
  let redis: Redis;
  const topics = { input: '', output: '', dlq: '', late: '' };

  beforeAll(async () => {
    redis = new Redis(testEndpoints().redisUrl);
    cleanup.add(() => redis.quit());
    topics.input = await createTestTopic('eq-in', { partitions: 2 });
    topics.output = await createTestTopic('eq-out');
    topics.dlq = await createTestTopic('eq-dlq');
    topics.late = await createTestTopic('eq-late');
    cleanup.add(() => deleteTopics(Object.values(topics)));
  });
  afterAll(() => cleanup.run());

  const count = async (topic: string) => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  };

  it('gives identical outputs, late records and dead letters for the same records', async () => {
    const name = uniqueName('eq')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const keyPrefix = `${name}:`;
    const processors = (['revise', 'route'] as LatePolicy[]).map((late) =>
      energyProcessor(`${name}-${late}`, late, GRACE_MS),
    );
    cleanup.add(() => deleteRedisKeys(redis, keyPrefix));
    cleanup.add(() => deleteGroups(processors.map((p) => `${name}.${p.name}`)));
    const harness = (inputs: Input[]) =>
      processors.map((p: AnyProcessor) =>
        runProcessor(
          p,
          inputs.map((i) => ({ topic: INPUT, value: i.value, partition: i.partition })),
          { flush: false, reviseHorizonMs: HORIZON_MS },
        ),
      );

    const runtime = await runProcessors(processors, {
      kafka,
      redis,
      groupId: name,
      logger: silentStreamLogger,
      keyPrefix,
      reviseHorizonMs: HORIZON_MS,
      // Never idle-flushed: the harness runs without its final flush.
      idleFlushMs: 3_600_000,
      emitIntervalMs: 100,
      topicOverrides: {
        [INPUT]: topics.input,
        'agg.s1.lighting-commune-hour.v1': topics.output,
        'dlq.s3.stream.v1': topics.dlq,
        'late.s2.stream.v1': topics.late,
      },
    });
    const producer = createBatchingProducer(kafka);
    await producer.connect();
    try {
      const sent: Input[] = [];
      for (const [i, phase] of phases.entries()) {
        // In order, one at a time: Kafka's offsets per partition are the harness's (0, 1, 2…).
        for (const input of phase)
          await producer.send(topics.input, {
            key: 'k',
            partition: input.partition,
            value: JSON.stringify(input.value),
          });
        sent.push(...phase);
        const expected = harness(sent);
        const outputs = expected.reduce((n, r) => n + r.outputs.length, 0);
        const late = expected.reduce((n, r) => n + r.late.length, 0);
        await waitFor(
          async () =>
            runtime.stats().processed === sent.length * processors.length &&
            (await count(topics.output)) >= outputs &&
            (await count(topics.late)) >= late,
          { timeoutMs: 60_000, message: `phase ${'ABCDE'[i]}: ${outputs} results and ${late} late records` },
        );
      }
      await waitFor(
        async () => {
          const b = await runtime.backlog();
          return b.closing + b.dirty === 0;
        },
        { message: 'nothing left to emit' },
      );

      const expected = harness(sent);
      // The scenario exercises what it says (a test of nothing would pass too).
      const [revise, route] = expected as [ReturnType<typeof runProcessor>, ReturnType<typeof runProcessor>];
      expect(revise.outputs.map((o) => o.value.data.revision).sort()).toEqual([0, 0, 0, 0, 1, 1, 1]);
      expect(route.outputs.map((o) => o.value.data.revision)).toEqual([0, 0, 0, 0]);
      expect(revise.late.map((l) => l.eventTime)).toEqual([at(15)]); // beyond the horizon
      expect(route.late.map((l) => l.eventTime).sort()).toEqual([at(15), at(30), at(40), at(50), at(105)]);
      expect(revise.deadLetters.map((d) => d.code)).toEqual(['ONDIJON_RECORD_INVALID']);
      expect(runtime.stats().duplicates).toBeGreaterThanOrEqual(2);

      const byKey = (o: { key: unknown; value: { data: { revision: number } } }) =>
        `${String(o.key)}#${o.value.data.revision}`;
      const outputs = (await readAll(kafka, topics.output)).map((r) => ({
        key: r.key,
        value: JSON.parse(r.value!) as { data: { revision: number } },
      }));
      expect(sortBy(outputs, byKey).map((o) => [o.key, normal(o.value)])).toEqual(
        sortBy(
          expected.flatMap((r) => r.outputs),
          byKey,
        ).map((o) => [o.key, normal(o.value)]),
      );

      const lateKey = (l: { processor: string; eventId: string; windowStart: string }) =>
        `${l.processor}|${l.eventId}|${l.windowStart}`;
      const late = (await readAll(kafka, topics.late)).map((r) => JSON.parse(r.value!));
      expect(sortBy(late, lateKey)).toEqual(
        sortBy(
          expected.flatMap((r) => r.late),
          lateKey,
        ),
      );

      const letter = (d: {
        rejectedBy: string;
        code: string;
        kafkaPartition?: number;
        kafkaOffset?: string;
      }) => `${d.rejectedBy}|${d.code}|${d.kafkaPartition}|${d.kafkaOffset}`;
      const letters = (await readAll(kafka, topics.dlq)).map((r) => letter(JSON.parse(r.value!)));
      expect(letters.sort()).toEqual(expected.flatMap((r) => r.deadLetters.map(letter)).sort());
    } finally {
      await producer.disconnect();
      await runtime.close();
    }
  });
});
