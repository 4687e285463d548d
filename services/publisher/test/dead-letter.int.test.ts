import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeadLetter } from '@ondijon/contracts';
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { createKafka, readAll } from '@ondijon/kafka';
import { openStoreReader } from '@ondijon/opendata';
import { silentLogger } from '@ondijon/service-kit';
import { buildApp, type PublisherApp } from '../src/app';
import { loadPublisherConfig } from '../src/config';
import { lightingDay } from './helpers';
import { envelopeOf } from './int-helpers';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());
const kafka = testKafka();

describe('publisher dead letters', () => {
  it('dead-letters a malformed and a non-JSON aggregate with their offsets, commits past them, and keeps releasing', async () => {
    const store = await mkdtemp(join(tmpdir(), 'publisher-dlq-store-'));
    const state = await mkdtemp(join(tmpdir(), 'publisher-dlq-state-'));
    cleanup.add(() => rm(store, { recursive: true, force: true }));
    cleanup.add(() => rm(state, { recursive: true, force: true }));
    // One partition: the offsets of the bad records are known (0 and 1).
    const topic = await createTestTopic('pub-dlq-lighting');
    const dlq = await createTestTopic('pub-dlq');
    const groupId = uniqueName('publisher-dlq');
    cleanup.add(() => deleteTopics([topic, dlq]));
    cleanup.add(() => deleteGroups([groupId]));

    const day = lightingDay();
    const malformed = JSON.parse(envelopeOf(day[0]!, 'lighting-commune-hour')) as {
      data: { values: Record<string, unknown> };
    };
    delete malformed.data.values.energyKwh;
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { value: JSON.stringify(malformed) },
          { value: 'not json {' },
          ...day.map((a) => ({ key: a.key, value: envelopeOf(a, 'lighting-commune-hour') })),
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const app = buildApp(
      loadPublisherConfig({
        KAFKA_BROKERS: testEndpoints().kafkaBrokers.join(','),
        PUBLISHER_PORT: '0',
        OPENDATA_DIR: store,
        PUBLISHER_STATE_DIR: state,
        PUBLISHER_GROUP_ID: groupId,
        PUBLISHER_SOURCE_TOPICS: `lighting-commune-hour=${topic}`,
        PUBLISHER_DATASETS: 'lighting-commune-hour',
        PUBLISHER_DEAD_LETTER_TOPIC: dlq,
        PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS: '0',
        PUBLISHER_TICK_MS: '200',
      }),
      { log: silentLogger() },
    );
    await app.start();
    cleanup.add(() => app.close());

    // The valid records after the bad ones are still staged and released.
    const rel = await waitFor(
      async () => (await openStoreReader(store).releases('lighting-commune-hour'))[0],
      { timeoutMs: 60_000, message: 'lighting release after the bad records' },
    );
    const { rows } = await openStoreReader(store).rows('lighting-commune-hour', rel.releaseId);
    expect(rows.filter((r) => r.status === 'missing')).toHaveLength(0);

    const letters = (await readAll(kafka, dlq)).map((r) => ({
      key: r.key,
      letter: DeadLetter.parse(JSON.parse(r.value!)),
    }));
    expect(letters.map((l) => l.letter.kafkaOffset)).toEqual(['0', '1']);
    for (const { key, letter } of letters) {
      expect(key).toBe(topic);
      expect(letter).toMatchObject({
        code: 'ONDIJON_RECORD_INVALID',
        origin: 'kafka',
        kafkaTopic: topic,
        kafkaPartition: 0,
        expectedSchema: 'agg.s1.lighting-commune-hour.v1',
        sensitivity: 'S1',
        rejectedBy: 'publisher',
      });
    }
    expect(letters[0]!.letter.reason).toContain('data.values.energyKwh');
    expect(letters[1]!.letter.reason).toContain('not JSON');
    expect(Buffer.from(letters[1]!.letter.payloadBase64!, 'base64').toString()).toBe('not json {');

    // Everything was committed: nothing is left to replay, nothing was skipped without a trace.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor(
        async () => {
          const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
          return offsets?.partitions[0]?.offset === String(day.length + 2) || undefined;
        },
        { message: 'offsets committed past the bad records' },
      );
    } finally {
      await admin.disconnect();
    }
  });

  it('does not commit a batch whose dead letters Kafka did not acknowledge, and writes them once it can', async () => {
    const store = await mkdtemp(join(tmpdir(), 'publisher-dlq-store-'));
    const state = await mkdtemp(join(tmpdir(), 'publisher-dlq-state-'));
    cleanup.add(() => rm(store, { recursive: true, force: true }));
    cleanup.add(() => rm(state, { recursive: true, force: true }));
    const topic = await createTestTopic('pub-dlq-lighting');
    // Not created yet: every dead-letter send fails (no topic auto-creation) until the test creates it.
    const dlq = uniqueName('pub-dlq-late');
    const groupId = uniqueName('publisher-dlq');
    cleanup.add(() => deleteTopics([topic, dlq]));
    cleanup.add(() => deleteGroups([groupId]));
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [{ value: 'not json {' }] });
    } finally {
      await producer.disconnect();
    }

    const brokers = testEndpoints().kafkaBrokers;
    const app: PublisherApp = buildApp(
      loadPublisherConfig({
        KAFKA_BROKERS: brokers.join(','),
        PUBLISHER_PORT: '0',
        OPENDATA_DIR: store,
        PUBLISHER_STATE_DIR: state,
        PUBLISHER_GROUP_ID: groupId,
        PUBLISHER_SOURCE_TOPICS: `lighting-commune-hour=${topic}`,
        PUBLISHER_DATASETS: 'lighting-commune-hour',
        PUBLISHER_DEAD_LETTER_TOPIC: dlq,
        PUBLISHER_TICK_MS: '200',
      }),
      // Few retries, so a send fails within a second rather than after kafkajs' default ~25 s.
      {
        log: silentLogger(),
        kafka: createKafka({
          brokers,
          clientId: uniqueName('publisher-dlq'),
          retry: { initialRetryTime: 100, maxRetryTime: 500, retries: 2 },
        }),
      },
    );
    await app.start();
    cleanup.add(() => app.close());

    // A send has failed (readiness says so) and the bad record's offset is still not committed.
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${app.port}/readyz`);
        return res.status === 503 && (await res.text()).includes('deadLetters');
      },
      { message: 'dead-letter send failed' },
    );
    const admin = kafka.admin();
    await admin.connect();
    cleanup.add(() => admin.disconnect());
    const committed = async () =>
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset;
    expect(await committed()).toBe('-1');

    await admin.createTopics({ topics: [{ topic: dlq, numPartitions: 1, replicationFactor: 1 }] });
    await waitFor(async () => (await committed()) === '1', {
      timeoutMs: 60_000,
      message: 'offset committed once the dead letter was written',
    });
    const letters = (await readAll(kafka, dlq)).map((r) => DeadLetter.parse(JSON.parse(r.value!)));
    expect(letters.length).toBeGreaterThanOrEqual(1);
    expect(new Set(letters.map((l) => `${l.id}|${l.kafkaOffset}`))).toEqual(new Set([`${letters[0]!.id}|0`]));
  });
});
