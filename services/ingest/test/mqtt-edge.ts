// Shared by the MQTT edge fault tests (ingest-edge, ingest-mqtt-ha): an independent publisher (paho-mqtt)
// that records which messages its PUBACK acknowledged, and an independent reader (confluent-kafka) of what
// reached Kafka; an acknowledged message must be in the telemetry topics or the dead letters (by event id).
// Duplicates are counted and reported, not hidden.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { mqttAuth, testEndpoints, waitFor } from '@ondijon/test-kit';
import { eventId, topicList } from '@ondijon/contracts';
import { payloadFor, recordCount, type IngestFixture } from './helpers';

const execFileAsync = promisify(execFile);
/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PUBLISH = path.join(repoRoot, 'test', 'independent', 'mqtt_publish.py');
const KAFKA_IDS = path.join(repoRoot, 'test', 'independent', 'kafka_ids.py');
/** Ingest's entry point, for tests that run it as a process. */
export const INGEST_MAIN = path.join(repoRoot, 'services/ingest/src/main.ts');

/** Writes `total` valid telemetry messages as the independent publisher reads them. */
export function writeMessages(f: IngestFixture, total: number, file: string): Set<string> {
  const ids = new Set<string>();
  const lines: string[] = [];
  for (let i = 0; i < total; i += 1) {
    const e = f.registry.equipment[i % f.registry.equipment.length]!;
    const seq = Math.floor(i / f.registry.equipment.length);
    const id = eventId(e.equipmentId, seq);
    ids.add(id);
    lines.push(
      JSON.stringify({ topic: f.topicOf(e), payload: JSON.stringify(payloadFor(e.family, seq)), id }),
    );
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return ids;
}

/**
 * Starts the paho publisher on the test broker (and `failover` brokers, `host:port`, in turn when a
 * connection drops); resolves with its output when it has every message acknowledged.
 */
export function startPublisher(
  messages: string,
  acked: string,
  failover: string[] = [],
): { process: ChildProcess; done: Promise<string>; output: () => string } {
  const { mqttUrl } = testEndpoints();
  const url = new URL(mqttUrl);
  const { username, password } = mqttAuth();
  const servers = failover.flatMap((s) => ['--server', s]);
  const child = spawn(
    'python3',
    [PUBLISH, url.hostname, url.port, username, password, messages, acked, ...servers],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<string>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`publisher exited ${code}: ${out}`)),
    ),
  );
  return { process: child, done, output: () => out };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function ackedIds(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** Event ids in the fixture's telemetry topics and ingest dead letters, read by confluent-kafka. */
async function storedIds(f: IngestFixture): Promise<{ ids: string[]; records: number }> {
  const topics = topicList
    .filter((t) => t.area === 'tel' || t.area === 'pii' || t.name === 'dlq.s3.ingest.v1')
    .map((t) => `${f.kafkaPrefix}${t.name}`);
  const { stdout } = await execFileAsync(
    'python3',
    [KAFKA_IDS, testEndpoints().kafkaBrokers.join(','), ...topics],
    {
      maxBuffer: 64 * 1024 * 1024,
      env: process.env,
    },
  );
  const byTopic = JSON.parse(stdout) as Record<string, { records: number; ids: (string | null)[] }>;
  const all = Object.values(byTopic);
  return {
    ids: all.flatMap((t) => t.ids.filter((id): id is string => id !== null)),
    records: all.reduce((n, t) => n + t.records, 0),
  };
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
