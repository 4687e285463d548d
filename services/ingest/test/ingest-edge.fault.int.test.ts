// Issue 11 "Every stack process killed": the MQTT edge. Losses are counted by clients this project did
// not write — paho-mqtt publishes and records which messages its PUBACK acknowledged, confluent-kafka
// reads back what reached Kafka — and a message acknowledged to the publisher must be in the telemetry
// topics or the dead letters (by event id). Duplicates are counted and reported, not hidden.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { mqttAuth, testEndpoints, waitFor } from '@ondijon/test-kit';
import { eventId, topicList } from '@ondijon/contracts';
import { killMqtt, startMqtt } from '@ondijon/stack';
import { buildApp, type IngestApp } from '../src/app';
import { loadIngestPolicy } from '../src/governance';
import { ingestFixture, payloadFor, recordCount, type IngestFixture } from './helpers';

const execFileAsync = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PUBLISH = path.join(repoRoot, 'test', 'independent', 'mqtt_publish.py');
const KAFKA_IDS = path.join(repoRoot, 'test', 'independent', 'kafka_ids.py');
const MAIN = path.join(repoRoot, 'services/ingest/src/main.ts');

/** Writes `total` valid telemetry messages as the independent publisher reads them. */
function writeMessages(f: IngestFixture, total: number, file: string): Set<string> {
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

/** Starts the paho publisher; resolves with its summary when it has every message acknowledged. */
function startPublisher(messages: string, acked: string): { process: ChildProcess; done: Promise<string> } {
  const { mqttUrl } = testEndpoints();
  const url = new URL(mqttUrl);
  const { username, password } = mqttAuth();
  const child = spawn('python3', [PUBLISH, url.hostname, url.port, username, password, messages, acked], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<string>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`publisher exited ${code}: ${out}`)),
    ),
  );
  return { process: child, done };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function ackedIds(file: string): string[] {
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
async function account(f: IngestFixture, ackedFile: string, published: Set<string>) {
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

describe('the MQTT edge under SIGKILL (independent publisher and reader)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('loses no acknowledged message when the MQTT broker is SIGKILLed mid-stream and restarted', async () => {
    const f = await ingestFixture('edge-broker-kill', 20, { INGEST_CONNECTIONS: '4' });
    cleanups.push(() => f.cleanup());
    const { policy } = loadIngestPolicy('');
    const app: IngestApp = buildApp(f.config, { policy });
    cleanups.push(() => app.close());
    await app.start();

    const dir = mkdtempSync(path.join(tmpdir(), 'edge-'));
    const total = 8_000;
    const published = writeMessages(f, total, path.join(dir, 'messages.jsonl'));
    const ackedFile = path.join(dir, 'acked.txt');
    const publisher = startPublisher(path.join(dir, 'messages.jsonl'), ackedFile);
    cleanups.push(async () => publisher.process.kill('SIGKILL'));

    // A random point between 20 % and 70 % of the acknowledged stream.
    const killAt = Math.floor(total * (0.2 + Math.random() * 0.5));
    await waitFor(() => ackedIds(ackedFile).length >= killAt, { timeoutMs: 120_000, intervalMs: 20 });
    killMqtt();
    const ackedAtKill = ackedIds(ackedFile).length;
    await startMqtt();
    await publisher.done;
    // Ingest comes back by itself: reconnected and subscribed again.
    await waitFor(async () => (await app.ready()).ready, {
      timeoutMs: 60_000,
      message: 'ingest ready again',
    });

    const r = await account(f, ackedFile, published);
    // eslint-disable-next-line no-console -- evidence for the report
    console.info(
      `broker kill: killed at ${ackedAtKill} acknowledged; ${r.acked} acknowledged, ${r.stored} records, ${r.distinct} distinct, ${r.duplicates} duplicates, ${r.lost.length} lost`,
    );
    expect(r.lost).toEqual([]);
    expect(r.acked).toBe(total);
  });

  it('loses no acknowledged message when one of two ingest instances is SIGKILLed for good', async () => {
    const f = await ingestFixture('edge-instance-gone', 20, { INGEST_CONNECTIONS: '4' });
    cleanups.push(() => f.cleanup());
    const spawnIngest = (instance: string, port: number): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
        cwd: repoRoot,
        env: {
          ...process.env,
          ...f.env,
          HTTP_PORT: String(port),
          MQTT_CLIENT_ID_PREFIX: `${f.env.MQTT_CLIENT_ID_PREFIX}-${instance}`,
        },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      cleanups.push(async () => child.kill('SIGKILL'));
      return child;
    };
    const ports = [await freePort(), await freePort()] as const;
    const a = spawnIngest('a', ports[0]);
    spawnIngest('b', ports[1]);
    for (const port of ports)
      await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200), {
        timeoutMs: 90_000,
        message: `ingest on ${port} ready`,
      });
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-'));
    const total = 8_000;
    const published = writeMessages(f, total, path.join(dir, 'messages.jsonl'));
    const ackedFile = path.join(dir, 'acked.txt');
    const publisher = startPublisher(path.join(dir, 'messages.jsonl'), ackedFile);
    cleanups.push(async () => publisher.process.kill('SIGKILL'));

    const killAt = Math.floor(total * (0.2 + Math.random() * 0.4));
    await waitFor(async () => (await recordCount(f)) >= killAt, { timeoutMs: 120_000, intervalMs: 50 });
    const exited = new Promise((resolve) => a.once('exit', resolve));
    a.kill('SIGKILL');
    await exited;
    await publisher.done;

    const r = await account(f, ackedFile, published);
    // eslint-disable-next-line no-console -- evidence for the report
    console.info(
      `instance gone: ${r.acked} acknowledged, ${r.stored} records, ${r.distinct} distinct, ${r.duplicates} duplicates, ${r.lost.length} lost`,
    );
    expect(r.lost).toEqual([]);
    expect(r.acked).toBe(total);
  });
});
