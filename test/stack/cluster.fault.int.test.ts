// The 3-node mode (replication 3, min.insync.replicas 2): a record produced with acks=all survives
// stopping one broker, and producing still works with two in sync (issue 2 "Must show").
import {
  clusterBrokers,
  clusterDown,
  clusterUp,
  stackProvision,
  startKafkaBroker,
  stopKafkaBroker,
} from '@ondijon/stack';
import { createBatchingProducer, readAll } from '@ondijon/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestTopic, testKafka, uniqueName } from '../setup/index';

// The cluster's own data is deleted afterwards: fault tests start from a clean cluster.
afterAll(() => clusterDown({ purgeCluster: true }), 60_000);

describe('the 3-node Kafka cluster', () => {
  it('keeps a produced record readable and writable with one broker stopped', async () => {
    const brokers = await clusterUp();
    expect(brokers).toEqual(clusterBrokers());
    const kafka = testKafka(uniqueName('cluster'), brokers);

    // Provisioning picks replication 3 and min ISR 2 on three brokers.
    const provisioned = await stackProvision({
      kafkaNodes: 3,
      specs: [
        {
          name: uniqueName('cluster-provisioned'),
          partitions: 1,
          retentionMs: 3_600_000,
          cleanupPolicy: 'delete',
        },
      ],
    });
    expect(provisioned.replicationFactor).toBe(3);

    const topic = await createTestTopic('cluster', {
      brokers,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    const producer = createBatchingProducer(kafka, { lingerMs: 1 });
    await producer.connect();
    await producer.send(topic, { key: 'k', value: 'before' });
    await producer.disconnect();

    // Stop the partition leader: the harder case (a new leader must be elected).
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const leader = meta.topics[0]!.partitions[0]!.leader as 1 | 2 | 3;
    await admin.disconnect();
    await stopKafkaBroker(leader);

    const survivors = brokers.filter((_, i) => i + 1 !== leader);
    const degraded = testKafka(uniqueName('cluster-degraded'), survivors);
    expect((await readAll(degraded, topic, { timeoutMs: 60_000 })).map((r) => r.value)).toEqual(['before']);
    const producer2 = createBatchingProducer(degraded, { lingerMs: 1 });
    await producer2.connect();
    await producer2.send(topic, { key: 'k', value: 'during' }); // acks=all with 2 in sync ≥ min ISR 2
    await producer2.disconnect();

    await startKafkaBroker(leader);
    const values = (await readAll(kafka, topic, { timeoutMs: 60_000 })).map((r) => r.value);
    expect(values).toEqual(['before', 'during']);
  });
});
