// The fast fetch decoder against the real broker: the same topic consumed with it off and on gives the same
// messages, field by field (headers, null keys, tombstones, gzip batches, aborted and committed transactions).
import {
  fastFetchDecoding,
  fastFetchStats,
  installKafkajsSpeedups,
  setFastFetchDecoding,
} from '../../src/index';
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import kafkajs, { Partitioners, type Kafka, type KafkaMessage, type Message } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';

const { CompressionTypes } = kafkajs;
// The named call that installs the speed-ups (no import does: CONTRIBUTING.md rule 17).
installKafkajsSpeedups();
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

/** A message as plain data: every own field in order, Buffers as hex, nested objects (batchContext) too. */
function plain(v: unknown): unknown {
  if (v === null || v === undefined || typeof v !== 'object') return v === undefined ? '<undefined>' : v;
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  if (Array.isArray(v)) return v.map(plain);
  return Object.entries(v).map(([k, x]) => [k, plain(x)]);
}

/** Reads `total` messages of `topic` with a fresh group; returns them by `partition/offset`. */
async function consumeAll(kafka: Kafka, topic: string, total: number): Promise<Map<string, KafkaMessage>> {
  const groupId = uniqueName('fast-fetch-group');
  cleanup.add(() => deleteGroups([groupId]));
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, readUncommitted: false });
  await consumer.connect();
  const seen = new Map<string, KafkaMessage>();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) seen.set(`${batch.partition}/${message.offset}`, message);
        await Promise.resolve();
      },
    });
    await waitFor(() => seen.size >= total, { timeoutMs: 60_000, message: `${total} messages consumed` });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe('fast fetch decoding against the real broker', () => {
  it('gives the same messages as kafkajs for a topic with headers, null keys, gzip and transactions', async () => {
    expect(fastFetchDecoding()).toBe(true);
    const topic = await createTestTopic('fast-fetch', { partitions: 3 });
    cleanup.add(() => deleteTopics([topic]));
    const kafka = testKafka();
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    cleanup.add(() => producer.disconnect());

    const pad = 'x'.repeat(600);
    // Record timestamps must be recent: the broker's time-based retention (7 days) deletes older records
    // at its next check, which made this test lose its data now and then.
    const base = Date.now() - 3_600_000;
    const message = (i: number): Message => ({
      key: i % 7 === 0 ? null : `SL-${i % 50}`,
      value: i % 97 === 0 ? null : JSON.stringify({ i, at: new Date(base + i).toISOString(), pad }),
      headers:
        i % 3 === 0
          ? {}
          : i % 3 === 1
            ? { ondijon_sensitivity: 'S1', ondijon_class: Buffer.from('S1 operational') }
            : { repeated: ['a', 'b', 'c'], 'clé-é': 'välue', empty: '' },
      timestamp: String(base + (i % 500) * 7),
    });
    let sent = 0;
    for (let b = 0; b < 30; b++) {
      const messages = Array.from({ length: 100 }, (_, k) => message(b * 100 + k));
      await producer.send({
        topic,
        messages,
        compression: b % 5 === 4 ? CompressionTypes.GZIP : CompressionTypes.None,
      });
      sent += messages.length;
    }

    const tx = kafka.producer({
      transactionalId: uniqueName('fast-fetch-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await tx.connect();
    cleanup.add(() => tx.disconnect());
    const aborted = await tx.transaction();
    await aborted.send({
      topic,
      messages: Array.from({ length: 50 }, (_, k) => ({ key: 'tx', value: `aborted-${k}` })),
    });
    await aborted.abort();
    const committed = await tx.transaction();
    await committed.send({
      topic,
      messages: Array.from({ length: 50 }, (_, k) => ({
        key: 'tx',
        value: `committed-${k}`,
        headers: { tx: 'yes' },
      })),
    });
    await committed.commit();
    const total = sent + 50;

    const before = fastFetchStats();
    const fast = await consumeAll(kafka, topic, total);
    const during = fastFetchStats();
    expect(setFastFetchDecoding(false)).toBe(false);
    const stock = await consumeAll(kafka, topic, total);
    expect(fastFetchStats()).toEqual(during); // off: nothing decoded by the fast path
    expect(setFastFetchDecoding(true)).toBe(true);

    expect(during.fast - before.fast).toBeGreaterThan(0);
    // The gzip batches: decompressed by kafkajs' codec, their records read by the fast reader.
    expect(during.compressed - before.compressed).toBeGreaterThan(0);
    expect(fast.size).toBe(total);
    expect([...fast.keys()].sort()).toEqual([...stock.keys()].sort());
    let compared = 0;
    for (const [at, message] of stock) {
      expect(plain(fast.get(at)), at).toStrictEqual(plain(message));
      compared += 1;
    }
    expect(compared).toBe(total);
    const values = [...fast.values()].map((m) => m.value?.toString() ?? '');
    expect(values.filter((v) => v.startsWith('aborted-'))).toEqual([]);
    expect(values.filter((v) => v.startsWith('committed-'))).toHaveLength(50);
    expect([...fast.values()].filter((m) => Array.isArray(m.headers?.repeated)).length).toBeGreaterThan(900);
  });
});
