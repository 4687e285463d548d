// Shared by the MQTT edge fault tests (ingest-edge, ingest-mqtt-ha): the independent publisher (paho-mqtt)
// records which messages its PUBACK acknowledged, and the independent reader (confluent-kafka) reads what
// reached Kafka (both driven by @ondijon/test-kit); an acknowledged message must be in the telemetry topics
// or the dead letters (by event id). Duplicates are counted and reported, not hidden.
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  ackedIds,
  independentIds,
  mqttAuth,
  startIndependentPublisher,
  testEndpoints,
  waitFor,
  writeIndependentMessages,
  type IndependentMessage,
  type IndependentPublisher,
} from '@ondijon/test-kit';
import { eventId, topicList } from '@ondijon/contracts';
import { payloadFor, recordCount, type IngestFixture } from './helpers';

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Ingest's entry point, for tests that run it as a process. */
export const INGEST_MAIN = path.join(repoRoot, 'services/ingest/src/main.ts');

/** Writes `total` valid telemetry messages as the independent publisher reads them. */
export function writeMessages(f: IngestFixture, total: number, file: string): Set<string> {
  const ids = new Set<string>();
  const messages: IndependentMessage[] = [];
  for (let i = 0; i < total; i += 1) {
    const e = f.registry.equipment[i % f.registry.equipment.length]!;
    const seq = Math.floor(i / f.registry.equipment.length);
    const id = eventId(e.equipmentId, seq);
    ids.add(id);
    messages.push({ topic: f.topicOf(e), payload: JSON.stringify(payloadFor(e.family, seq)), id });
  }
  writeIndependentMessages(file, messages);
  return ids;
}

/**
 * Starts the paho publisher on the test broker as admin (and `failover` brokers, `host:port`, in turn
 * when a connection drops); its `done` resolves when it has every message acknowledged.
 */
export function startPublisher(
  messages: string,
  acked: string,
  failover: string[] = [],
): IndependentPublisher {
  return startIndependentPublisher({
    mqttUrl: testEndpoints().mqttUrl,
    ...mqttAuth(),
    messagesFile: messages,
    ackedFile: acked,
    failover,
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Event ids in the fixture's telemetry topics and ingest dead letters, read by confluent-kafka. */
function storedIds(f: IngestFixture) {
  const topics = topicList
    .filter((t) => t.area === 'tel' || t.area === 'pii' || t.name === 'dlq.s3.ingest.v1')
    .map((t) => `${f.kafkaPrefix}${t.name}`);
  return independentIds(testEndpoints().kafkaBrokers, topics);
}

/** Checks acknowledged ⊆ stored; returns the figures for the report. */
export async function account(f: IngestFixture, ackedFile: string, published: Set<string>) {
  const acked = ackedIds(ackedFile);
  // Wait until Kafka holds as many records as were acknowledged; the comparison by id below says what
  // is missing when it never does.
  await waitFor(async () => (await recordCount(f)) >= acked.length, {
    timeoutMs: 60_000,
    intervalMs: 500,
    message: `${acked.length} acknowledged messages in Kafka`,
  }).catch(() => undefined);
  const stored = await storedIds(f);
  const distinct = new Set(stored.ids);
  const lost = acked.filter((id) => !distinct.has(id));
  expect(acked.every((id) => published.has(id))).toBe(true);
  return {
    acked: acked.length,
    stored: stored.records,
    distinct: distinct.size,
    lost,
    duplicates: stored.records - distinct.size,
  };
}
