import { describe, expect, it } from 'vitest';
import { Domain, TOPICS, topicList, topicSpec, telemetryTopicFor } from '../src/index';

describe('Kafka topic registry', () => {
  it('names every topic <area>.<class>.<entity>.v<N>, consistent with its spec', () => {
    for (const spec of topicList) {
      const m = /^([a-z]+)\.(s[0-4])\.([a-z0-9-]+)\.v(\d+)$/.exec(spec.name);
      expect(m, spec.name).not.toBeNull();
      expect(m![1]).toBe(spec.area);
      expect(m![2]).toBe(spec.class.toLowerCase());
      expect(spec.partitions).toBeGreaterThan(0);
      if (spec.cleanupPolicy === 'compact') expect(spec.retentionMs).toBe(-1);
    }
  });

  it('keeps S3 on pii.* and never registers S4', () => {
    for (const spec of topicList) {
      if (spec.area === 'tel') expect(['S1', 'S2']).toContain(spec.class);
      if (spec.area === 'pii') expect(spec.class).toBe('S3');
      expect(spec.class).not.toBe('S4');
    }
  });

  it('resolves telemetry topics per domain and class', () => {
    expect(telemetryTopicFor('lighting', 'S1')).toBe('tel.s1.lighting.v1');
    expect(telemetryTopicFor('winter', 'S2')).toBe('tel.s2.winter.v1');
    expect(telemetryTopicFor('winter', 'S3')).toBe('pii.s3.winter.v1');
    expect(telemetryTopicFor('traffic', 'S3')).toBeUndefined();
    expect(telemetryTopicFor('lighting', 'S4')).toBeUndefined();
    for (const d of Domain.options) expect(telemetryTopicFor(d, 'S1')).toBeDefined();
    expect(topicSpec('ref.s0.equipment.v1')).toBe(TOPICS['ref.s0.equipment.v1']);
  });
});
