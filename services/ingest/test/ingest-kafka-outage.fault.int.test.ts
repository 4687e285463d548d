// FAULT TEST — it stops the shared single-node Kafka for 30 s. It is named *.fault.int.test.ts so vitest
// runs it in project `fault`, alone and after every other test, and it restarts Kafka even when it fails.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@ondijon/test-kit';
import { eventId } from '@ondijon/contracts';
import { probeKafka, startKafka, stopKafka } from '@ondijon/stack';
import type { MqttClient } from 'mqtt';
import { buildApp, type IngestApp } from '../src/app';
import { loadIngestPolicy } from '../src/governance';
import {
  connectPublisher,
  ingestFixture,
  payloadFor,
  publishAll,
  recordCount,
  telemetryIds,
  type IngestFixture,
  type Publication,
} from './helpers';

const { policy } = loadIngestPolicy('');
const OUTAGE_MS = 30_000;

// The global setup exports KAFKA_BROKERS, which makes the stack treat Kafka as external and never start
// it: override that so startKafka really restarts the local node stopKafka stopped.
const restartKafka = () => startKafka({ config: { externalKafka: undefined } });

async function ensureKafkaUp(): Promise<void> {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
  if (!(await probeKafka(brokers)).ok) await restartKafka();
}

describe('ingest while Kafka is down for 30 s', () => {
  let app: IngestApp | undefined;
  let fixture: IngestFixture | undefined;
  let publisher: MqttClient | undefined;

  afterEach(async () => {
    await ensureKafkaUp();
    await publisher?.endAsync().catch(() => undefined);
    await app?.close();
    await fixture?.cleanup();
  });
  afterAll(ensureKafkaUp, 180_000);

  it('withholds acks, reports not ready, bounds what it holds, and loses nothing once Kafka is back', async () => {
    fixture = await ingestFixture('ingest-outage', 10, {
      INGEST_CONNECTIONS: '4',
      MQTT_RECEIVE_MAXIMUM: '16',
      SHUTDOWN_DEADLINE_MS: '20000',
    });
    const f = fixture;
    app = buildApp(f.config, { policy });
    await app.start();
    const total = 8_000;
    const published = new Set<string>();
    const messages: Publication[] = [];
    for (let i = 0; i < total; i += 1) {
      const e = f.registry.equipment[i % f.registry.equipment.length]!;
      const seq = Math.floor(i / f.registry.equipment.length);
      messages.push({ topic: f.topicOf(e), payload: JSON.stringify(payloadFor(e.family, seq)) });
      published.add(eventId(e.equipmentId, seq));
    }
    publisher = await connectPublisher();
    const pub = publisher;
    // A steady stream (250 msg/s, ~32 s) that runs through the outage.
    let stop = false;
    const streaming = (async () => {
      for (let i = 0; i < total && !stop; i += 50) {
        await publishAll(pub, messages.slice(i, i + 50));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    try {
      await waitFor(async () => (await recordCount(f)) >= 500, {
        timeoutMs: 60_000,
        message: 'stream flowing',
      });
      await stopKafka();
      const stoppedAt = Date.now();
      await waitFor(async () => !(await app!.ready()).ready, {
        timeoutMs: 20_000,
        message: 'ingest reports not ready',
      });
      const failing = (await app.ready()).failing;
      expect(failing.kafka).toMatch(/Kafka/);
      // While Kafka is away, ingest holds at most connections × (MQTT_RECEIVE_MAXIMUM + 1) messages (the
      // one beyond the maximum is parsed but mqtt.js is not let go on); the broker keeps the rest.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const held = (await app.metrics.inFlight.get()).values[0]!.value;
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(4 * 17);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
    } finally {
      await restartKafka();
    }
    await waitFor(async () => (await app!.ready()).ready, {
      timeoutMs: 120_000,
      intervalMs: 500,
      message: 'ingest ready again',
    });
    await streaming;
    // On a timeout, say where the missing records are: still held by ingest, or never received.
    await waitFor(
      async () => {
        const count = await recordCount(f);
        if (count >= total) return true;
        const held = (await app!.metrics.inFlight.get()).values[0]?.value;
        const ready = await app!.ready();
        throw new Error(`${count} records; ingest holds ${held}, ready ${JSON.stringify(ready)}`);
      },
      {
        timeoutMs: 120_000,
        intervalMs: 500,
        message: `${total} records after the outage`,
      },
    );
    stop = true;
    const ids = new Set((await telemetryIds(f)).map((r) => r.id));
    expect(ids.size).toBe(total);
    expect([...published].every((id) => ids.has(id))).toBe(true);
    const retries = await app.metrics.kafkaRetries.get();
    expect(retries.values[0]!.value).toBeGreaterThan(0);
  });
});
