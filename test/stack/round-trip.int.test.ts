// Issue 2 "Must show": real MQTT (QoS 1), real Kafka (produce + consume in a group), real Redis.
import { createBatchingProducer, readAll } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  createTestTopic,
  mqttAuth,
  deleteGroups,
  deleteRedisKeys,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '../setup/index';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

describe('the stack round trip', () => {
  it('carries a QoS 1 MQTT message into Kafka, through a consumer group, into Redis', async () => {
    const { mqttUrl, redisUrl } = testEndpoints();
    const mqttTopic = `ondijon/v1/lighting/${uniqueName('op')}/lamp-1`;
    const kafkaTopic = await createTestTopic('stack-roundtrip', { partitions: 2 });
    cleanup.add(() => deleteTopics([kafkaTopic]));
    const keyPrefix = `${uniqueName('stack-test')}:`;
    const redis = new Redis(redisUrl);
    cleanup.add(async () => {
      await deleteRedisKeys(redis, keyPrefix);
      redis.disconnect();
    });

    // MQTT: subscribe at QoS 1, publish at QoS 1 (resolves on PUBACK), receive it.
    const subscriber = await mqtt.connectAsync(mqttUrl, {
      protocolVersion: 5,
      clientId: uniqueName('sub'),
      ...mqttAuth(),
    });
    const publisher = await mqtt.connectAsync(mqttUrl, {
      protocolVersion: 5,
      clientId: uniqueName('pub'),
      ...mqttAuth(),
    });
    cleanup.add(() => Promise.all([subscriber.endAsync(), publisher.endAsync()]));
    const received: { topic: string; payload: string; qos: number }[] = [];
    subscriber.on('message', (topic, payload, packet) =>
      received.push({ topic, payload: payload.toString(), qos: packet.qos }),
    );
    await subscriber.subscribeAsync(mqttTopic, { qos: 1 });
    const payload = JSON.stringify({ equipmentId: 'lamp-1', seq: 1, lampOn: true });
    // mqtt.js resolves a QoS 1 publish only once the broker's PUBACK arrived.
    const sent = await publisher.publishAsync(mqttTopic, payload, { qos: 1 });
    expect(sent?.messageId).toBeGreaterThan(0);
    const [message] = await waitFor(() => (received.length > 0 ? received : undefined), {
      timeoutMs: 10_000,
      message: 'MQTT message',
    });
    expect(message).toEqual({ topic: mqttTopic, payload, qos: 1 });

    // Kafka: produce through the batching producer (acks=all), consume in a group.
    const kafka = testKafka();
    const producer = createBatchingProducer(kafka, { lingerMs: 2 });
    await producer.connect();
    cleanup.add(() => producer.disconnect());
    await Promise.all([
      producer.send(kafkaTopic, { key: 'lamp-1', value: message!.payload, headers: { sensitivity: 'S1' } }),
      producer.send(kafkaTopic, { key: 'lamp-2', value: JSON.stringify({ equipmentId: 'lamp-2', seq: 1 }) }),
    ]);
    expect(producer.bufferedRecords).toBe(0);
    const groupId = uniqueName('stack-group');
    cleanup.add(() => deleteGroups([groupId]));
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    cleanup.add(() => consumer.disconnect());
    await consumer.subscribe({ topic: kafkaTopic, fromBeginning: true });
    const consumed: { key: string; value: string; sensitivity?: string }[] = [];
    await consumer.run({
      eachMessage: async ({ message: m }) => {
        const key = m.key!.toString();
        consumed.push({
          key,
          value: m.value!.toString(),
          ...(m.headers?.sensitivity ? { sensitivity: m.headers.sensitivity.toString() } : {}),
        });
        // Redis: the consumer writes what it read.
        await redis.hset(`${keyPrefix}equipment:${key}`, {
          lastPayload: m.value!.toString(),
          offset: m.offset,
        });
      },
    });
    await waitFor(() => consumed.length === 2, {
      timeoutMs: 30_000,
      message: 'two records consumed by the group',
    });
    expect(consumed.find((c) => c.key === 'lamp-1')).toEqual({
      key: 'lamp-1',
      value: payload,
      sensitivity: 'S1',
    });

    const stored = await waitFor(async () => {
      const h = await redis.hgetall(`${keyPrefix}equipment:lamp-1`);
      return h.lastPayload ? h : undefined;
    });
    expect(JSON.parse(stored.lastPayload!)).toEqual({ equipmentId: 'lamp-1', seq: 1, lampOn: true });
    await consumer.disconnect();

    // The group committed its offsets on Kafka; readAll sees both records from the start.
    const all = await readAll(kafka, kafkaTopic, { timeoutMs: 20_000 });
    expect(all.map((r) => r.key).sort()).toEqual(['lamp-1', 'lamp-2']);
  });
});
