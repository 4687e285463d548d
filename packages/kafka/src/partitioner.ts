import { Partitioners, type ICustomPartitioner } from 'kafkajs';

/**
 * The partition each message object was placed on by a `cachingKeyPartitioner`, the last time kafkajs
 * asked. The batching producer compares it with the partitions Kafka acknowledged: kafkajs 2.2.4's
 * `sendMessages` retries only brokers that have not answered yet, so after a leader moved to a broker
 * that had already answered, the moved partitions are never sent again while `sendBatch` resolves
 * (reproduced: 79 and 83 of 6 000 acknowledged messages missing after one broker of three was SIGKILLed).
 */
export const assignedPartitions = new WeakMap<object, number>();

/** Keys remembered per topic before the cache starts over (bounds memory with unbounded key sets). */
const MAX_CACHED_KEYS = 100_000;

/**
 * Wraps a kafkajs partitioner so that a record with a string key and no explicit partition gets the
 * partition the wrapped partitioner chose for that key the first time, as long as the topic's
 * partition count is the same. Only for partitioners that place keyed records by key and partition
 * count alone, like kafkajs' DefaultPartitioner (murmur2(key) mod partitions, Java-compatible): then
 * the placement is identical and the per-record cost of hashing the key (murmur2 over a new Buffer)
 * and filtering the partition metadata is paid once per key (ingest keys by equipment id: measured
 * ~7 % of kafkajs' time in services/ingest/bench).
 */
export function cachingKeyPartitioner(
  create: ICustomPartitioner = Partitioners.DefaultPartitioner,
): ICustomPartitioner {
  return () => {
    const inner = create();
    const byTopic = new Map<string, { partitions: number; byKey: Map<string, number> }>();
    return (args) => {
      const { topic, partitionMetadata, message } = args;
      if (
        typeof message.key !== 'string' ||
        (message.partition !== undefined && message.partition !== null)
      ) {
        const chosen = inner(args);
        assignedPartitions.set(message, chosen);
        return chosen;
      }
      let cache = byTopic.get(topic);
      if (
        cache === undefined ||
        cache.partitions !== partitionMetadata.length ||
        cache.byKey.size >= MAX_CACHED_KEYS
      ) {
        cache = { partitions: partitionMetadata.length, byKey: new Map() };
        byTopic.set(topic, cache);
      }
      let partition = cache.byKey.get(message.key);
      if (partition === undefined) {
        partition = inner(args);
        cache.byKey.set(message.key, partition);
      }
      assignedPartitions.set(message, partition);
      return partition;
    };
  };
}
