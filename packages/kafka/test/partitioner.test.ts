import { Partitioners, type PartitionerArgs, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { cachingKeyPartitioner } from '../src/partitioner';

const meta = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));
const args = (topic: string, n: number, message: PartitionerArgs['message']): PartitionerArgs => ({
  topic,
  partitionMetadata: meta(n),
  message,
});

describe('cachingKeyPartitioner', () => {
  it("places keyed records exactly where kafkajs' DefaultPartitioner does, across partition counts", () => {
    const reference = Partitioners.DefaultPartitioner();
    const cached = cachingKeyPartitioner()();
    for (const n of [1, 3, 6, 12, 6]) {
      for (let i = 0; i < 500; i += 1) {
        const message = { key: `equipment-${i}`, value: 'v' };
        const want = reference(args('t', n, message));
        expect(cached(args('t', n, message))).toBe(want);
        expect(cached(args('t', n, message))).toBe(want); // from the cache
      }
    }
  });

  it('asks the wrapped partitioner once per key and partition count', () => {
    let calls = 0;
    const cached = cachingKeyPartitioner(() => () => {
      calls += 1;
      return 2;
    })();
    for (let i = 0; i < 5; i += 1) cached(args('t', 6, { key: 'k', value: 'v' }));
    expect(calls).toBe(1);
    cached(args('u', 6, { key: 'k', value: 'v' }));
    cached(args('t', 12, { key: 'k', value: 'v' }));
    expect(calls).toBe(3);
  });

  it('leaves explicit partitions, unkeyed and Buffer-keyed records to the wrapped partitioner', () => {
    let calls = 0;
    const cached = cachingKeyPartitioner(() => ({ message }) => {
      calls += 1;
      return message.partition ?? 0;
    })();
    expect(cached(args('t', 6, { key: 'k', value: 'v', partition: 4 }))).toBe(4);
    cached(args('t', 6, { key: null, value: 'v' }));
    cached(args('t', 6, { key: null, value: 'v' }));
    cached(args('t', 6, { key: Buffer.from('k'), value: 'v' }));
    cached(args('t', 6, { key: Buffer.from('k'), value: 'v' }));
    expect(calls).toBe(5);
  });
});
