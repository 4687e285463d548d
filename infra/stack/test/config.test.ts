import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StackError, endpointsOf, repoRoot, resolveConfig } from '../src/config';

describe('resolveConfig', () => {
  it('uses the project ports and .stack by default', () => {
    const config = resolveConfig({}, {});
    expect(config).toMatchObject({
      dir: path.join(repoRoot, '.stack'),
      kafkaLibsDir: path.join(repoRoot, '.stack', 'kafka', 'libs'),
      kafkaPort: 19_092,
      kafkaControllerPort: 19_093,
      clusterPorts: [19_192, 19_193, 19_194],
      clusterControllerPorts: [19_292, 19_293, 19_294],
      mqttPort: 11_883,
      redisPort: 16_379,
    });
    // Secrets are generated in the stack's folder: use a fresh one.
    const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-stack-config-'));
    const ep = endpointsOf({ ...config, dir });
    expect(ep).toMatchObject({
      kafkaBrokers: ['127.0.0.1:19092'],
      kafkaSasl: { username: 'admin', passwordFile: path.join(dir, 'secrets', 'kafka-admin.password') },
      mqttUrl: 'mqtt://127.0.0.1:11883',
    });
    expect(ep.kafkaSasl!.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The local Redis has no default user: the URL carries the admin user's credentials.
    expect(ep.redisUrl).toMatch(/^redis:\/\/admin:[A-Za-z0-9_-]{32}@127\.0\.0\.1:16379$/);
    expect(statSync(path.join(dir, 'secrets')).mode & 0o777).toBe(0o700);
    expect(statSync(ep.kafkaSasl!.passwordFile!).mode & 0o777).toBe(0o600);
  });

  it('takes ports and external endpoints from the environment', () => {
    const config = resolveConfig(
      {},
      {
        ONDIJON_REDIS_PORT: '26379',
        ONDIJON_KAFKA_CLUSTER_PORT: '29000',
        KAFKA_BROKERS: 'a:1, b:2',
        MQTT_URL: 'mqtt://m:1',
        REDIS_URL: '',
      },
    );
    expect(config.redisPort).toBe(26_379);
    expect(config.clusterPorts).toEqual([29_000, 29_001, 29_002]);
    const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-stack-config-'));
    // External Kafka: credentials come from the environment's KAFKA_SASL_* (none here).
    expect(endpointsOf({ ...config, dir }, {})).toEqual({
      kafkaBrokers: ['a:1', 'b:2'],
      mqttUrl: 'mqtt://m:1',
      redisUrl: expect.stringMatching(/^redis:\/\/admin:[^@]+@127\.0\.0\.1:26379$/),
    });
    expect(
      endpointsOf({ ...config, dir }, { KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD: 'pw' }).kafkaSasl,
    ).toEqual({ username: 'ingest', password: 'pw' });
  });

  it('rejects a port that is not a number with a sentence naming the variable', () => {
    expect(() => resolveConfig({}, { ONDIJON_MQTT_PORT: 'abc' })).toThrow(StackError);
    expect(() => resolveConfig({}, { ONDIJON_MQTT_PORT: 'abc' })).toThrow(
      'ONDIJON_MQTT_PORT=abc is not a port number; set it to an integer between 1 and 65535.',
    );
  });
});
