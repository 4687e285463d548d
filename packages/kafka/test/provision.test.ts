import { describe, expect, it } from 'vitest';
import { diffTopic, topicConfigs } from '../src/provision';

const spec = {
  name: 'tel.s1.lighting.v1',
  partitions: 6,
  retentionMs: 7_776_000_000,
  cleanupPolicy: 'delete' as const,
};

describe('topicConfigs', () => {
  it('sets min ISR 2 with three replicas and 1 with one', () => {
    expect(topicConfigs(spec, { replicationFactor: 3 })).toEqual({
      'retention.ms': '7776000000',
      'cleanup.policy': 'delete',
      'min.insync.replicas': '2',
    });
    expect(topicConfigs(spec, { replicationFactor: 1 })['min.insync.replicas']).toBe('1');
  });
});

describe('diffTopic', () => {
  it('finds nothing when the cluster matches the registry', () => {
    const configs = { 'retention.ms': '7776000000', 'cleanup.policy': 'delete', 'min.insync.replicas': '1' };
    expect(diffTopic(spec, { partitions: 6, configs }, { replicationFactor: 1 })).toEqual([]);
  });

  it('reports partitions and config drift with both values', () => {
    const configs = { 'retention.ms': '604800000', 'cleanup.policy': 'compact', 'min.insync.replicas': '1' };
    expect(diffTopic(spec, { partitions: 3, configs }, { replicationFactor: 1 })).toEqual([
      { topic: spec.name, setting: 'partitions', expected: '6', actual: '3' },
      { topic: spec.name, setting: 'retention.ms', expected: '7776000000', actual: '604800000' },
      { topic: spec.name, setting: 'cleanup.policy', expected: 'delete', actual: 'compact' },
    ]);
  });
});
