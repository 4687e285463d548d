import { silentLogger, createMetricsRegistry } from '@ondijon/service-kit';
import { Redis } from 'ioredis';
import { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { loadProcessorsConfig } from '../src/config';
import { processors } from '../src/processors/index';

describe('processors config and app', () => {
  it('has defaults for everything and parses topic overrides', () => {
    const c = loadProcessorsConfig({ STREAM_TOPIC_OVERRIDES: '{"tel.s1.lighting.v1":"my-topic"}' });
    expect(c.PROBE_PORT).toBe(19402);
    expect(c.STREAM_MAX_CHUNK).toBe(1000);
    expect(c.STREAM_MAX_QUEUED).toBe(10_000);
    expect(c.STREAM_MAX_QUEUED_BYTES).toBe(32 * 1_048_576);
    expect(c.PROCESSORS_ENABLED).toEqual([]);
    expect(c.STREAM_TOPIC_OVERRIDES).toEqual({ 'tel.s1.lighting.v1': 'my-topic' });
  });

  it('reports every bad variable at once, by name', () => {
    expect(() =>
      loadProcessorsConfig({ STREAM_TOPIC_OVERRIDES: '{"nope.v1":"x"}', STREAM_SESSION_TIMEOUT_MS: '100' }),
    ).toThrow(
      /STREAM_TOPIC_OVERRIDES[\s\S]*STREAM_SESSION_TIMEOUT_MS|STREAM_SESSION_TIMEOUT_MS[\s\S]*STREAM_TOPIC_OVERRIDES/,
    );
  });

  it('registers each built-in processor once, and refuses unknown names in PROCESSORS_ENABLED', () => {
    expect(new Set(processors.map((p) => p.name)).size).toBe(processors.length);
    expect(processors.map((p) => p.name)).toEqual([
      'lighting-commune-hour',
      'traffic-flow-15m',
      'traffic-flow-hour',
      'signal-status',
      'winter-commune-day',
    ]);
    const deps = {
      kafka: new Kafka({ brokers: ['127.0.0.1:1'], clientId: 'unit' }),
      redis: new Redis({ lazyConnect: true }),
      logger: silentLogger(),
      registry: createMetricsRegistry('processors-unit'),
    };
    expect(() => buildApp(loadProcessorsConfig({ PROCESSORS_ENABLED: 'signal-status,typo' }), deps)).toThrow(
      /typo/,
    );
    expect(
      buildApp(loadProcessorsConfig({ PROCESSORS_ENABLED: 'signal-status' }), deps).runtime.isReady(),
    ).toBe(false);
    deps.redis.disconnect();
  });
});
