// The one consumer (src/consumer.ts) against the real broker: manual commit of what the handler
// resolved, group events, a retried batch, pause/resume, a throwaway group deleted at stop, a stop
// that keeps its deadline when the batch in hand never finishes; and the record decoding helpers.
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createBatchingProducer,
  createConsumer,
  eventText,
  isRetriableKafkaError,
  recordText,
  type KafkaLogger,
} from '../src/index';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

/** A topic with `count` records, keys `k0…k{count-1}` spread over its partitions. */
async function topicWith(prefix: string, count: number, partitions = 2): Promise<string> {
  const topic = await createTestTopic(prefix, { partitions });
  cleanup.add(() => deleteTopics([topic]));
  const producer = createBatchingProducer(testKafka());
  await producer.connect();
  await Promise.all(
    Array.from({ length: count }, (_, i) => producer.send(topic, { key: `k${i}`, value: `v${i}` })),
  );
  await producer.disconnect();
  return topic;
}

/** A logger that keeps its warnings. */
function recordingLogger(): KafkaLogger & { warnings: string[] } {
  const warnings: string[] = [];
  const none = () => undefined;
  return { warnings, warn: (_obj, msg) => warnings.push(msg), error: none, info: none, debug: none };
}

describe('createConsumer against the real broker', () => {
  it('hands every batch over, commits only what the handler committed, and reports group joins and batch ends', async () => {
    const topic = await topicWith('consumer-manual', 40);
    const kafka = testKafka();
    const groupId = uniqueName('consumer-manual');
    cleanup.add(() => deleteGroups([groupId]));
    let joins = 0;
    const ends = new Map<number, string>();
    const seen: string[] = [];
    const consumer = createConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      resolve: 'handler',
      onGroupJoin: () => joins++,
      onBatchEnd: ({ partition, lastOffset }) => ends.set(partition, lastOffset),
    });
    await consumer.start(async (payload) => {
      const { batch } = payload;
      for (const m of batch.messages) seen.push(recordText(m.value)!);
      // Commit all but the last record of partition 0: the group's offsets must say exactly that.
      const last = BigInt(batch.lastOffset()) + (batch.partition === 0 ? 0n : 1n);
      await consumer.commitOffsets([{ topic, partition: batch.partition, offset: last.toString() }]);
      payload.resolveOffset(batch.lastOffset());
      await payload.heartbeat();
    });
    await waitFor(() => seen.length >= 40, { timeoutMs: 60_000, message: '40 records consumed' });
    await consumer.stop();
    expect(new Set(seen)).toEqual(new Set(Array.from({ length: 40 }, (_, i) => `v${i}`)));
    expect(joins).toBeGreaterThanOrEqual(1);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const high = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const byPartition = new Map(committed!.partitions.map((p) => [p.partition, p.offset]));
      for (const p of high) {
        expect(ends.get(p.partition)).toBe((BigInt(p.high) - 1n).toString());
        const expected = BigInt(p.high) - (p.partition === 0 ? 1n : 0n);
        expect(byPartition.get(p.partition)).toBe(expected.toString());
      }
    } finally {
      await admin.disconnect();
    }
  });

  it('never commits by itself in manual mode, and deletes a throwaway group at stop', async () => {
    const topic = await topicWith('consumer-throwaway', 10, 1);
    const kafka = testKafka();
    const groupId = uniqueName('consumer-throwaway');
    cleanup.add(() => deleteGroups([groupId]));
    let n = 0;
    const consumer = createConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      throwawayGroup: true,
    });
    await consumer.start(async ({ batch }) => {
      n += batch.messages.length;
      await Promise.resolve();
    });
    await waitFor(() => n >= 10, { timeoutMs: 60_000, message: '10 records consumed' });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [before] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(before!.partitions.map((p) => p.offset)).toEqual(['-1']);
      await consumer.stop();
      await consumer.stop(); // idempotent
      const { groups } = await admin.listGroups();
      expect(groups.map((g) => g.groupId)).not.toContain(groupId);
    } finally {
      await admin.disconnect();
    }
  });

  it('hands a batch over again after its handler threw (kafkajs retries it)', async () => {
    const topic = await topicWith('consumer-retry', 5, 1);
    const groupId = uniqueName('consumer-retry');
    cleanup.add(() => deleteGroups([groupId]));
    const firstOffsets: string[] = [];
    const consumer = createConsumer(testKafka(), {
      groupId,
      topics: [topic],
      fromBeginning: true,
      throwawayGroup: true,
    });
    await consumer.start(async ({ batch }) => {
      firstOffsets.push(batch.firstOffset()!);
      await Promise.resolve();
      if (firstOffsets.length === 1) throw new Error('handler failed once');
    });
    await waitFor(() => firstOffsets.length >= 2, { timeoutMs: 60_000, message: 'batch handed over again' });
    await consumer.stop();
    expect(firstOffsets.slice(0, 2)).toEqual(['0', '0']);
  });

  it('pauses and resumes partitions', async () => {
    const topic = await topicWith('consumer-pause', 1, 1);
    let n = 0;
    const consumer = createConsumer(testKafka(), {
      groupId: uniqueName('consumer-pause'),
      topics: [topic],
      fromBeginning: true,
      throwawayGroup: true,
    });
    await consumer.start(async ({ batch }) => {
      n += batch.messages.length;
      await Promise.resolve();
    });
    await waitFor(() => n >= 1, { timeoutMs: 60_000, message: 'record consumed' });
    consumer.pause([{ topic }]);
    expect(consumer.paused()).toEqual([{ topic, partitions: [0] }]);
    consumer.resume([{ topic }]);
    expect(consumer.paused()).toEqual([]);
    await consumer.stop();
  });

  it('stops within its deadline when the batch in hand never finishes, and says so', async () => {
    const topic = await topicWith('consumer-deadline', 1, 1);
    const logger = recordingLogger();
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    let handed = false;
    const groupId = uniqueName('consumer-deadline');
    // Still a member when stop gave up waiting: the group is deleted by the cleanup.
    cleanup.add(() => deleteGroups([groupId]));
    const consumer = createConsumer(testKafka(), {
      groupId,
      topics: [topic],
      fromBeginning: true,
      throwawayGroup: true,
      stopTimeoutMs: 1_000,
      logger,
    });
    await consumer.start(async () => {
      handed = true;
      await stuck;
    });
    await waitFor(() => handed, { timeoutMs: 60_000, message: 'batch handed over' });
    await consumer.stop();
    expect(logger.warnings).toContain('kafka consumer stop past its deadline');
    release();
  });
});

describe('record decoding', () => {
  it('gives text of keys, values and headers', () => {
    expect(recordText(null)).toBeNull();
    expect(recordText(undefined)).toBeNull();
    expect(recordText(Buffer.from('é'))).toBe('é');
    expect(recordText('x')).toBe('x');
  });

  it('gives a binary-mode event as structured JSON, a structured one unchanged, an undecodable one raw', () => {
    const headers = {
      ce_specversion: Buffer.from('1.0'),
      ce_id: Buffer.from('e-1'),
      ce_type: Buffer.from('t'),
    };
    const event = JSON.parse(eventText({ headers, value: Buffer.from('{"a":1}') })!) as Record<
      string,
      unknown
    >;
    expect(event).toMatchObject({ specversion: '1.0', id: 'e-1', type: 't', data: { a: 1 } });
    expect(eventText({ headers: {}, value: Buffer.from('{"id":"s"}') })).toBe('{"id":"s"}');
    expect(eventText({ headers, value: Buffer.from('not json') })).toBe('not json');
    expect(eventText({ headers: {}, value: null })).toBeNull();
  });

  it('classifies kafkajs errors by their retriable flag', () => {
    expect(isRetriableKafkaError(Object.assign(new Error('x'), { retriable: true }))).toBe(true);
    expect(isRetriableKafkaError(new Error('x'))).toBe(false);
    expect(isRetriableKafkaError(undefined)).toBe(false);
  });
});
