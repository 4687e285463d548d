// Shared helpers of ingest's integration tests: a fresh set of Kafka topics, MQTT topic prefix, share
// group and client ids per test, a registry file of its own, payload factories and read-back.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { deleteTopics, mqttAuth, testEndpoints, testKafka, uniqueName, waitFor } from '@ondijon/test-kit';
import {
  TOPICS,
  telemetryTopic,
  topicList,
  type Equipment,
  type EquipmentRegistryFile,
} from '@ondijon/contracts';
import { provisionTopics, readAll, type ReadRecord } from '@ondijon/kafka';
import { IngestEnv, type IngestConfig } from '../src/config';

export { OPERATORS, makeRegistry, payloadFor } from './fixtures';
import { makeRegistry } from './fixtures';

/** Everything one test owns. */
export interface IngestFixture {
  /** Config of ingest for this test. */
  config: IngestConfig;
  /** Environment equivalent of `config` (for a child process). */
  env: Record<string, string>;
  /** Kafka topic prefix. */
  kafkaPrefix: string;
  /** Kafka brokers of the test (the stack's, or the 3-node cluster's). */
  brokers: string[];
  /** MQTT topic prefix. */
  mqttPrefix: string;
  registry: EquipmentRegistryFile;
  /** MQTT topic of an equipment of the registry. */
  topicOf(equipment: Equipment): string;
  /** Reads a registry topic of this test (prefixed) from the beginning. */
  read(topic: keyof typeof TOPICS): Promise<ReadRecord[]>;
  /** Deletes the test's topics. */
  cleanup(): Promise<void>;
}

/** Provisions this test's prefixed topics and writes its registry; `overrides` are extra env values. */
export async function ingestFixture(
  name: string,
  perFamily = 3,
  overrides: Record<string, string> = {},
  options: { brokers?: string[]; replicationFactor?: number } = {},
): Promise<IngestFixture> {
  const unique = uniqueName(name);
  const kafkaPrefix = `${unique}.`;
  const mqttPrefix = `t/${unique}/`;
  const registry = makeRegistry(`e${randomBytes(4).toString('hex')}`, perFamily);
  const dir = mkdtempSync(path.join(tmpdir(), 'ingest-'));
  const registryFile = path.join(dir, 'equipment.json');
  writeFileSync(registryFile, JSON.stringify(registry));
  const endpoints = testEndpoints();
  const env: Record<string, string> = {
    KAFKA_BROKERS: (options.brokers ?? endpoints.kafkaBrokers).join(','),
    MQTT_URL: endpoints.mqttUrl,
    MQTT_USERNAME: mqttAuth('ingest').username,
    MQTT_PASSWORD: mqttAuth('ingest').password,
    LOG_LEVEL: 'warn',
    INGEST_CONNECTIONS: '4',
    MQTT_SHARE_GROUP: unique.replace(/[^A-Za-z0-9_-]/g, '_'),
    MQTT_CLIENT_ID_PREFIX: `ing-${unique}`,
    MQTT_SESSION_EXPIRY_S: '600',
    MQTT_TOPIC_PREFIX: mqttPrefix,
    KAFKA_TOPIC_PREFIX: kafkaPrefix,
    REGISTRY_FILE: registryFile,
    HTTP_PORT: '0',
    ...overrides,
  };
  const brokers = options.brokers ?? endpoints.kafkaBrokers;
  const kafka = testKafka(undefined, brokers);
  const admin = kafka.admin();
  await admin.connect();
  const specs = topicList.map((t) => ({ ...t, name: `${kafkaPrefix}${t.name}` }));
  try {
    // createTopics' wait for leaders can fail transiently while the broker is busy (other tests create and
    // delete topics); provisioning is idempotent, so try again.
    await waitFor(
      () =>
        provisionTopics(admin, specs, { replicationFactor: options.replicationFactor ?? 1 }).then(() => true),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
        message: 'topics provisioned',
      },
    );
  } finally {
    await admin.disconnect();
  }
  return {
    config: Object.freeze(IngestEnv.parse(env)),
    env,
    kafkaPrefix,
    brokers,
    mqttPrefix,
    registry,
    topicOf: (e) => `${mqttPrefix}${telemetryTopic(e.family, e.operator, e.equipmentId)}`,
    read: (topic) => readAll(kafka, `${kafkaPrefix}${topic}`, { timeoutMs: 60_000 }),
    cleanup: () =>
      deleteTopics(
        specs.map((s) => s.name),
        brokers,
      ),
  };
}

/** A persistent-session MQTT 5 publisher (QoS 1 messages survive an ingest restart in the broker). */
export async function connectPublisher(clientId = uniqueName('pub')): Promise<MqttClient> {
  const client = mqtt.connect(testEndpoints().mqttUrl, {
    protocolVersion: 5,
    clientId,
    ...mqttAuth(),
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 500,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** One message to publish. */
export interface Publication {
  topic: string;
  payload: string | Buffer;
  properties?: { userProperties?: Record<string, string> };
}

/** Publishes at QoS 1 with at most `window` unacknowledged PUBLISHes; resolves when the broker acked all. */
export async function publishAll(
  client: MqttClient,
  messages: Iterable<Publication>,
  window = 500,
): Promise<void> {
  const pending = new Set<Promise<unknown>>();
  for (const m of messages) {
    const p = client.publishAsync(m.topic, m.payload, {
      qos: 1,
      ...(m.properties ? { properties: m.properties } : {}),
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
    if (pending.size >= window) await Promise.race(pending);
  }
  await Promise.all(pending);
}

/** Ids of every record of the test's telemetry topics (tel.* and pii.*), with their topic. */
export async function telemetryIds(
  fixture: IngestFixture,
): Promise<{ id: string; topic: string; value: string }[]> {
  const out: { id: string; topic: string; value: string }[] = [];
  for (const spec of topicList.filter((t) => t.area === 'tel' || t.area === 'pii')) {
    for (const r of await fixture.read(spec.name as keyof typeof TOPICS)) {
      out.push({
        id: (JSON.parse(r.value ?? '{}') as { id: string }).id,
        topic: spec.name,
        value: r.value ?? '',
      });
    }
  }
  return out;
}

/** Total records in the test's telemetry and dead-letter topics, from the end offsets (cheap polling). */
export async function recordCount(fixture: IngestFixture): Promise<number> {
  const admin = testKafka(undefined, fixture.brokers).admin();
  await admin.connect();
  try {
    let total = 0;
    for (const spec of topicList.filter(
      (t) => t.area === 'tel' || t.area === 'pii' || t.name === 'dlq.s3.ingest.v1',
    )) {
      for (const p of await admin.fetchTopicOffsets(`${fixture.kafkaPrefix}${spec.name}`))
        total += Number(p.high) - Number(p.low);
    }
    return total;
  } finally {
    await admin.disconnect();
  }
}
