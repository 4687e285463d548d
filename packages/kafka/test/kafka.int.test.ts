// Evidence that kafkajs 2.2.4 works with the pinned broker (infra/kafka/pom.xml): batched idempotent
// produce, group consume, transactions with sendOffsets read back read_committed; and provisioning.
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import kafkajs, { Partitioners } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createBatchingProducer, provisionTopics, readAll } from '../src/index';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

describe('@ondijon/kafka against the real broker', () => {
  it('batches concurrent sends and keeps per-key order', async () => {
    const topic = await createTestTopic('kafka-batch', { partitions: 3 });
    cleanup.add(() => deleteTopics([topic]));
    const producer = createBatchingProducer(testKafka(), { lingerMs: 5, maxBatch: 200 });
    await producer.connect();
    cleanup.add(() => producer.disconnect());
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) => producer.send(topic, { key: `eq-${i % 10}`, value: String(i) })),
    );
    expect(producer.isHealthy()).toBe(true);
    const records = await readAll(testKafka(), topic);
    expect(records).toHaveLength(1000);
    for (let k = 0; k < 10; k++) {
      const values = records.filter((r) => r.key === `eq-${k}`).map((r) => Number(r.value));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
  });

  it('rejects sends to a topic that does not exist (no auto-creation)', async () => {
    const producer = createBatchingProducer(testKafka(), {
      lingerMs: 1,
      producer: { retry: { retries: 1 } },
    });
    await producer.connect();
    cleanup.add(() => producer.disconnect());
    await expect(producer.send(uniqueName('missing-topic'), { value: 'x' })).rejects.toMatchObject({
      code: 'ONDIJON_KAFKA_UNAVAILABLE',
    });
  });

  it('runs consume-transform-produce transactions with sendOffsets (read_committed sees them, the group resumes after)', async () => {
    const input = await createTestTopic('kafka-tx-in');
    const output = await createTestTopic('kafka-tx-out');
    const groupId = uniqueName('kafka-tx-group');
    cleanup.add(() => deleteTopics([input, output]));
    cleanup.add(() => deleteGroups([groupId]));
    const kafka = testKafka();
    const seed = createBatchingProducer(kafka);
    await seed.connect();
    await Promise.all(['a', 'b', 'c'].map((v) => seed.send(input, { key: v, value: v })));
    await seed.disconnect();

    const tx = kafka.producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await tx.connect();
    cleanup.add(() => tx.disconnect());
    // An aborted transaction must stay invisible to read_committed readers.
    const aborted = await tx.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'x', value: 'ABORTED' }] });
    await aborted.abort();

    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    cleanup.add(() => consumer.disconnect());
    await consumer.subscribe({ topic: input, fromBeginning: true });
    let done = 0;
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const transaction = await tx.transaction();
        try {
          await transaction.send({
            topic: output,
            messages: [{ key: message.key, value: message.value!.toString().toUpperCase() }],
          });
          await transaction.sendOffsets({
            consumerGroupId: groupId,
            topics: [
              { topic, partitions: [{ partition, offset: (BigInt(message.offset) + 1n).toString() }] },
            ],
          });
          await transaction.commit();
          done++;
        } catch (error) {
          await transaction.abort();
          throw error;
        }
      },
    });
    await waitFor(() => done === 3, { timeoutMs: 60_000, message: 'three transactions committed' });
    await consumer.disconnect();

    const out = await readAll(kafka, output);
    expect(out.map((r) => r.value)).toEqual(['A', 'B', 'C']);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
    await admin.disconnect();
    expect(offsets[0]!.partitions[0]!.offset).toBe('3');
  });

  it('provisions idempotently and reports drift without changing anything', async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    cleanup.add(() => admin.disconnect());
    const name = uniqueName('kafka-provision');
    cleanup.add(() => deleteTopics([name]));
    const spec = { name, partitions: 2, retentionMs: 86_400_000, cleanupPolicy: 'delete' as const };
    expect(await provisionTopics(admin, [spec], { replicationFactor: 1 })).toEqual({
      created: [name],
      existing: [],
      drift: [],
    });
    expect(await provisionTopics(admin, [spec], { replicationFactor: 1 })).toEqual({
      created: [],
      existing: [name],
      drift: [],
    });

    const changed = { ...spec, partitions: 4, retentionMs: 3_600_000, cleanupPolicy: 'compact' as const };
    const result = await provisionTopics(admin, [changed], { replicationFactor: 1 });
    expect(result.drift).toEqual([
      { topic: name, setting: 'partitions', expected: '4', actual: '2' },
      { topic: name, setting: 'retention.ms', expected: '3600000', actual: '86400000' },
      { topic: name, setting: 'cleanup.policy', expected: 'compact', actual: 'delete' },
    ]);
    const meta = await admin.fetchTopicMetadata({ topics: [name] });
    expect(meta.topics[0]!.partitions).toHaveLength(2); // drift is reported, never applied
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['cleanup.policy'] }],
    });
    expect(described.resources[0]!.configEntries[0]!.configValue).toBe('delete');
  });
});
