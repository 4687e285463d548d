import { describe, expect, it } from 'vitest';
import { aclInScope, aclKey, kafkaAclBindings } from '@ondijon/contracts';
import { diffAcls, type DescribedAcl } from '../src/acls';
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
      'message.timestamp.type': 'CreateTime',
    });
    expect(topicConfigs(spec, { replicationFactor: 1 })['min.insync.replicas']).toBe('1');
  });
});

describe('diffTopic', () => {
  it('finds nothing when the cluster matches the registry', () => {
    const configs = { 'retention.ms': '7776000000', 'cleanup.policy': 'delete', 'min.insync.replicas': '1' };
    expect(diffTopic(spec, { partitions: 6, configs }, { replicationFactor: 1 })).toEqual([]);
    const stamped = { ...configs, 'message.timestamp.type': 'CreateTime' };
    expect(diffTopic(spec, { partitions: 6, configs: stamped }, { replicationFactor: 1 })).toEqual([]);
  });

  it('reports partitions and config drift with both values', () => {
    const configs = { 'retention.ms': '604800000', 'cleanup.policy': 'compact', 'min.insync.replicas': '1' };
    expect(diffTopic(spec, { partitions: 3, configs }, { replicationFactor: 1 })).toEqual([
      { topic: spec.name, setting: 'partitions', expected: '6', actual: '3' },
      { topic: spec.name, setting: 'retention.ms', expected: '7776000000', actual: '604800000' },
      { topic: spec.name, setting: 'cleanup.policy', expected: 'delete', actual: 'compact' },
    ]);
    // A broker that stamps its append time would overwrite telemetry's `ingestedat`.
    const appendTime = {
      ...configs,
      'retention.ms': '7776000000',
      'message.timestamp.type': 'LogAppendTime',
    };
    expect(diffTopic(spec, { partitions: 6, configs: appendTime }, { replicationFactor: 1 })).toEqual([
      { topic: spec.name, setting: 'cleanup.policy', expected: 'delete', actual: 'compact' },
      {
        topic: spec.name,
        setting: 'message.timestamp.type',
        expected: 'CreateTime',
        actual: 'LogAppendTime',
      },
    ]);
  });
});

describe('diffAcls', () => {
  const want = kafkaAclBindings('');
  const described = (b: (typeof want)[number], extra: Partial<DescribedAcl> = {}): DescribedAcl => ({
    principal: b.principal,
    host: '*',
    resourceType: b.resourceType,
    patternType: b.patternType,
    resourceName: b.resourceName,
    operation: b.operation,
    permission: 'ALLOW',
    ...extra,
  });

  it('creates what is missing and counts what is there', () => {
    const result = diffAcls(
      want,
      want.slice(1).map((b) => described(b)),
      () => true,
    );
    expect(result.missing.map(aclKey)).toEqual([aclKey(want[0]!)]);
    expect(result.existing).toBe(want.length - 1);
    expect(result.drift).toEqual([]);
  });

  it('reports a grant the matrix does not give, and a DENY, as drift, only in scope', () => {
    const rogue: DescribedAcl = {
      principal: 'User:publisher',
      host: '*',
      resourceType: 'TOPIC',
      patternType: 'LITERAL',
      resourceName: 'pii.s3.winter.v1',
      operation: 'READ',
      permission: 'ALLOW',
    };
    const deny = described(want[0]!, { permission: 'DENY' });
    const result = diffAcls(want, [rogue, deny, { ...rogue, resourceName: 'run1.pii.s3.winter.v1' }], (a) =>
      aclInScope('', a),
    );
    expect(result.drift.map((d) => d.acl)).toEqual([
      'User:publisher READ TOPIC:LITERAL:pii.s3.winter.v1',
      `${aclKey(want[0]!)} DENY host *`,
    ]);
  });
});
