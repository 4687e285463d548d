// Ingest's equipment index comes from the compacted reference topic and follows it while running: an entry
// published there by another tool is accepted without a restart, and a tombstone removes it again.
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { Producer } from 'kafkajs';
import { testKafka, waitFor } from '@ondijon/test-kit';
import { DeadLetter, TOPICS, eventId, type Equipment } from '@ondijon/contracts';
import { buildApp, type IngestApp } from '../src/app';
import { IngestEnv } from '../src/config';
import { loadIngestPolicy } from '../src/governance';
import { SERVICE_VERSION } from '../src/pipeline';
import { equipmentRecord } from '../src/registry';
import {
  connectPublisher,
  ingestFixture,
  payloadFor,
  publishAll,
  recordCount,
  telemetryIds,
  type IngestFixture,
} from './helpers';

const { policy } = loadIngestPolicy('');

/** Records in the test's dead-letter topic, from its end offsets. */
async function deadLetterCount(f: IngestFixture): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(`${f.kafkaPrefix}dlq.s3.ingest.v1`);
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('ingest equipment index from the reference topic (real Kafka and Mosquitto)', () => {
  let app: IngestApp | undefined;
  let fixture: IngestFixture | undefined;
  let publisher: MqttClient | undefined;
  let producer: Producer | undefined;

  afterEach(async () => {
    await publisher?.endAsync().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await app?.close();
    await fixture?.cleanup();
    app = undefined;
    fixture = undefined;
    publisher = undefined;
    producer = undefined;
  });

  it('accepts equipment added to the topic while running, and rejects it again after a tombstone', async () => {
    fixture = await ingestFixture('ingest-ref', 1);
    const f = fixture;
    const refTopic = `${f.kafkaPrefix}${TOPICS['ref.s0.equipment.v1'].name}`;
    producer = testKafka().producer();
    await producer.connect();
    // A broken record already on the topic: logged with its offset and skipped, start goes on.
    await producer.send({ topic: refTopic, messages: [{ key: 'broken-1', value: '{not json' }] });

    app = buildApp(f.config, { policy });
    await app.start();
    expect((await app.ready()).ready).toBe(true);
    publisher = await connectPublisher();

    const light = f.registry.equipment.find((e) => e.family === 'streetlight')!;
    const newcomer: Equipment = { ...light, equipmentId: `${light.equipmentId}-newcomer` };
    const topic = f.topicOf(newcomer);
    let seq = 0;
    /** Publishes one message of the newcomer and tells whether ingest accepted it (false: dead-lettered). */
    const accepted = async (): Promise<{ seq: number; ok: boolean }> => {
      seq += 1;
      const [total, dead] = [await recordCount(f), await deadLetterCount(f)];
      await publishAll(publisher!, [{ topic, payload: JSON.stringify(payloadFor('streetlight', seq)) }]);
      await waitFor(async () => (await recordCount(f)) > total, {
        timeoutMs: 30_000,
        message: `message ${seq} written`,
      });
      return { seq, ok: (await deadLetterCount(f)) === dead };
    };

    // Before: unknown to ingest, like any equipment not in the registry file.
    expect((await accepted()).ok).toBe(false);

    // Another tool publishes the new entry to the reference topic; ingest picks it up without a restart.
    const { key, value } = equipmentRecord(newcomer, policy.revision, SERVICE_VERSION, new Date());
    await producer.send({ topic: refTopic, messages: [{ key, value: JSON.stringify(value) }] });
    let firstAccepted = 0;
    await waitFor(
      async () => {
        const r = await accepted();
        if (r.ok) firstAccepted = r.seq;
        return r.ok;
      },
      { timeoutMs: 60_000, intervalMs: 200, message: 'newcomer accepted' },
    );
    const ids = new Set((await telemetryIds(f)).map((r) => r.id));
    expect(ids.has(eventId(newcomer.equipmentId, firstAccepted))).toBe(true);

    // A tombstone removes it: its messages are dead letters again.
    await producer.send({ topic: refTopic, messages: [{ key, value: null }] });
    let firstRejected = 0;
    await waitFor(
      async () => {
        const r = await accepted();
        if (!r.ok) firstRejected = r.seq;
        return !r.ok;
      },
      { timeoutMs: 60_000, intervalMs: 200, message: 'newcomer rejected after the tombstone' },
    );
    const letters = (await f.read('dlq.s3.ingest.v1')).map((r) =>
      DeadLetter.parse(JSON.parse(r.value ?? '')),
    );
    const last = letters.find((d) => d.id === eventId(newcomer.equipmentId, firstRejected));
    expect(last?.code).toBe('ONDIJON_EQUIPMENT_UNKNOWN');
    expect(letters.find((d) => d.id === eventId(newcomer.equipmentId, 1))?.code).toBe(
      'ONDIJON_EQUIPMENT_UNKNOWN',
    );
  });

  it('fails start and readiness with the reason when the reference topic cannot be read', async () => {
    fixture = await ingestFixture('ingest-ref-missing', 1);
    const config = Object.freeze(
      IngestEnv.parse({
        ...fixture.env,
        // A prefix under which no topic exists, and nothing published first.
        KAFKA_TOPIC_PREFIX: `${fixture.kafkaPrefix}missing.`,
        REGISTRY_PUBLISH_ON_START: 'false',
        REGISTRY_LOAD_TIMEOUT_MS: '5000',
      }),
    );
    app = buildApp(config, { policy });
    await expect(app.start()).rejects.toThrow(/ref\.s0\.equipment\.v1/);
    const readiness = await app.ready();
    expect(readiness.ready).toBe(false);
    expect(readiness.failing.registry).toMatch(/equipment reference topic .*ref\.s0\.equipment\.v1/);
  });
});
