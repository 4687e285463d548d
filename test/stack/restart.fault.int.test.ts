// After `down` + `up`, Kafka topics and the MQTT broker's persisted sessions (with their queued QoS 1 messages)
// are still there, and `down` leaves no process (issue 2 "Must show"). Runs a private stack on free
// ports in a temporary folder so the shared stack other tests use is never stopped.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createKafka } from '@ondijon/kafka';
import {
  ARTEMIS_VERSION,
  endpoints,
  repoRoot,
  resolveConfig,
  securityOf,
  stackDown,
  stackMqttCredentials,
  stackStatus,
  stackUp,
  type StackConfig,
} from '@ondijon/stack';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../setup/index';
import { freePort, processAlive } from './helpers';

let config: Partial<StackConfig>;
beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-stack-'));
  config = {
    dir,
    kafkaLibsDir: resolveConfig().kafkaLibsDir, // reuse the cached jars (ONDIJON_KAFKA_LIBS or .stack/kafka/libs)
    artemisHome: path.join(repoRoot, '.stack', 'artemis-dist', `apache-artemis-${ARTEMIS_VERSION}`),
    kafkaPort: await freePort(),
    kafkaControllerPort: await freePort(),
    mqttPort: await freePort(),
    mqttsPort: await freePort(),
    mqttAdminPort: await freePort(),
    redisPort: await freePort(),
    externalKafka: undefined,
    externalMqtt: undefined,
    externalRedis: undefined,
  };
});
afterAll(async () => {
  await stackDown({ config });
  rmSync(config.dir!, { recursive: true, force: true });
}, 60_000);

describe('stack down + up', () => {
  it('keeps topics, persisted MQTT sessions and Redis data, and leaves no process', async () => {
    await stackUp({ config });
    const ep = endpoints({ config });
    // This stack has its own secrets: its super user, not the environment's.
    const kafka = createKafka({
      brokers: ep.kafkaBrokers,
      clientId: 'restart-test',
      security: securityOf(ep),
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: 'restart.kept.v1', numPartitions: 2 }],
    });
    await admin.disconnect();

    // A persistent MQTT 5 session subscribes, goes away; a QoS 1 message is queued for it.
    const topic = 'ondijon/v1/lighting/op/lamp-9';
    const session = {
      protocolVersion: 5 as const,
      clientId: 'restart-subscriber',
      ...stackMqttCredentials('admin', { config }),
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    };
    const sub = await mqtt.connectAsync(ep.mqttUrl, session);
    await sub.subscribeAsync(topic, { qos: 1 });
    await sub.endAsync();
    const pub = await mqtt.connectAsync(ep.mqttUrl, {
      protocolVersion: 5,
      clientId: 'restart-publisher',
      ...stackMqttCredentials('admin', { config }),
    });
    await pub.publishAsync(topic, 'queued while away', { qos: 1 });
    await pub.endAsync();

    const redis = new Redis(ep.redisUrl);
    await redis.set('restart:kept', 'yes');
    redis.disconnect();

    const pids = (await stackStatus({ config })).map((s) => s.pid);
    expect(pids.every((p) => p !== null)).toBe(true);
    const stopped = await stackDown({ config });
    expect(stopped.sort()).toEqual(['kafka', 'mqtt', 'redis']);
    for (const pid of pids) expect(processAlive(pid!)).toBe(false);
    expect((await stackStatus({ config })).every((s) => !s.healthy && s.pid === null)).toBe(true);

    await stackUp({ config });
    const admin2 = kafka.admin();
    await admin2.connect();
    const meta = await admin2.fetchTopicMetadata({ topics: ['restart.kept.v1'] });
    expect(meta.topics[0]!.partitions).toHaveLength(2);
    await admin2.disconnect();

    const received: string[] = [];
    const back = mqtt.connect(ep.mqttUrl, session);
    back.on('message', (_t, payload) => received.push(payload.toString()));
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => back.once('connect', resolve));
    expect(connack.sessionPresent).toBe(true);
    await waitFor(() => received.includes('queued while away'), {
      timeoutMs: 10_000,
      message: 'queued QoS 1 message after restart',
    });
    await back.endAsync();

    const redis2 = new Redis(ep.redisUrl);
    expect(await redis2.get('restart:kept')).toBe('yes');
    redis2.disconnect();
    expect(existsSync(path.join(config.dir!, 'redis', 'appendonlydir'))).toBe(true);
    // The broker's users file holds hashes only, never a password in clear.
    const users = readFileSync(path.join(config.dir!, 'artemis', 'etc', 'users.properties'), 'utf8');
    expect(users).toMatch(/^admin = ENC\(1024:[0-9A-F]{64}:[0-9A-F]{128}\)$/m);
    expect(users).not.toContain(stackMqttCredentials('admin', { config }).password);
  });
});
