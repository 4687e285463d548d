import { describe, expect, it } from 'vitest';
import {
  accessMatrix,
  aclInScope,
  kafkaAclBindings,
  servicePrincipals,
  topicAccess,
  topicList,
} from '../src/index';

describe('Kafka access matrix', () => {
  it('gives every registered topic at least one writer, and S3 readers only to governance or replay (and the console on dead letters)', () => {
    for (const row of accessMatrix()) {
      expect(row.write.length, row.topic).toBeGreaterThan(0);
      if (row.class === 'S3')
        for (const p of row.read)
          expect(
            row.area === 'dlq' ? ['governance', 'replay', 'console'] : ['governance', 'replay'],
            row.topic,
          ).toContain(p);
    }
  });

  it('lets the console read S1 telemetry, the reference and dead letters, never S2 telemetry or pii', () => {
    const readable = accessMatrix()
      .filter((r) => r.read.includes('console'))
      .map((r) => r.topic);
    expect(readable.sort()).toEqual(
      [
        'dlq.s3.ingest.v1',
        'dlq.s3.stream.v1',
        'ref.s0.equipment.v1',
        'ref.s0.lineage.v1',
        'tel.s1.lighting.v1',
        'tel.s1.traffic.v1',
        'tel.s1.winter.v1',
      ].sort(),
    );
    expect(accessMatrix().filter((r) => r.write.includes('console'))).toEqual([]);
  });

  it('lets every reader of telemetry read the lineage registry, and every writer write it', () => {
    const lineage = topicAccess(topicList.find((t) => t.name === 'ref.s0.lineage.v1')!);
    for (const row of accessMatrix().filter((r) => r.area === 'tel' || r.area === 'pii')) {
      for (const p of row.read) expect(lineage.read, `${p} reads ${row.topic}`).toContain(p);
      for (const p of row.write) expect(lineage.write, `${p} writes ${row.topic}`).toContain(p);
    }
  });

  it('follows the area rules of issue 12', () => {
    const of = (name: string) => topicAccess(topicList.find((t) => t.name === name)!);
    expect(of('ref.s0.equipment.v1')).toEqual({ read: ['ingest', 'replay', 'console'], write: ['ingest'] });
    expect(of('ref.s0.lineage.v1')).toEqual({
      read: ['ingest', 'processors', 'governance', 'replay', 'console'],
      write: ['ingest', 'replay'],
    });
    expect(of('tel.s2.winter.v1')).toEqual({ read: ['processors'], write: ['ingest', 'replay'] });
    expect(of('pii.s3.winter.v1')).toEqual({ read: ['governance'], write: ['ingest', 'replay'] });
    expect(of('dlq.s3.ingest.v1')).toEqual({ read: ['replay', 'console'], write: ['ingest', 'replay'] });
    expect(of('dlq.s3.stream.v1')).toEqual({
      read: ['replay', 'console'],
      write: ['processors', 'publisher'],
    });
    expect(of('agg.s1.traffic-flow.v1')).toEqual({ read: ['publisher'], write: ['processors'] });
    // A dead-letter topic of an unknown source has no writer (the first test then fails for it).
    expect(topicAccess({ name: 'dlq.s3.newthing.v1', area: 'dlq', class: 'S3' }).write).toEqual([]);
    // An S3 aggregate would not be readable by the publisher.
    expect(topicAccess({ name: 'agg.s3.x.v1', area: 'agg', class: 'S3' }).read).toEqual([]);
  });

  it('binds LITERAL topic names under the namespace and PREFIXED groups per service', () => {
    const bindings = kafkaAclBindings('run1.');
    const topics = bindings.filter((b) => b.resourceType === 'TOPIC');
    expect(topics.every((b) => b.patternType === 'LITERAL' && b.resourceName.startsWith('run1.'))).toBe(true);
    expect(topics.some((b) => b.principal === 'User:publisher' && b.resourceName.includes('pii.'))).toBe(
      false,
    );
    const groups = bindings.filter((b) => b.resourceType === 'GROUP');
    expect(groups).toHaveLength(servicePrincipals.length * 2);
    expect(groups.every((b) => b.patternType === 'PREFIXED')).toBe(true);
  });

  it('scopes drift to the namespace: other runs are not drift, wider patterns are', () => {
    const acl = (resourceName: string, patternType = 'LITERAL', principal = 'User:ingest') => ({
      principal,
      resourceType: 'TOPIC',
      patternType,
      resourceName,
    });
    expect(aclInScope('', acl('tel.s1.lighting.v1'))).toBe(true);
    expect(aclInScope('', acl('run1.tel.s1.lighting.v1'))).toBe(false);
    expect(aclInScope('run1.', acl('run1.tel.s1.lighting.v1'))).toBe(true);
    expect(aclInScope('run1.', acl('run2.tel.s1.lighting.v1'))).toBe(false);
    expect(aclInScope('run1.', acl('*'))).toBe(true);
    expect(aclInScope('run1.', acl('run', 'PREFIXED'))).toBe(true);
    expect(aclInScope('', acl('pii.', 'PREFIXED'))).toBe(true);
    expect(
      aclInScope('', {
        principal: 'User:publisher',
        resourceType: 'CLUSTER',
        patternType: 'LITERAL',
        resourceName: 'kafka-cluster',
      }),
    ).toBe(true);
    expect(
      aclInScope('', {
        principal: 'User:someone',
        resourceType: 'GROUP',
        patternType: 'PREFIXED',
        resourceName: 'x',
      }),
    ).toBe(false);
  });
});
