import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@ondijon/test-kit';
import { DeadLetter, eventId } from '@ondijon/contracts';
import type { MqttClient } from 'mqtt';
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

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = path.join(repoRoot, 'services/ingest/src/main.ts');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts ingest as its own process (`node --import tsx`, one process, so SIGKILL hits the service itself). */
function spawnIngest(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.resume();
  return child;
}

async function ready(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
  return res?.status === 200;
}

describe('ingest killed with SIGKILL in the middle of a stream', () => {
  let child: ChildProcess | undefined;
  let fixture: IngestFixture | undefined;
  let publisher: MqttClient | undefined;

  afterEach(async () => {
    child?.kill('SIGKILL');
    await publisher?.endAsync().catch(() => undefined);
    await fixture?.cleanup();
  });

  it('loses no message of 20 000 after a restart; duplicates carry the same event id', async () => {
    const port = await freePort();
    fixture = await ingestFixture('ingest-kill', 20, {
      HTTP_PORT: String(port),
      INGEST_CONNECTIONS: '8',
    });
    const f = fixture;
    const total = 20_000;
    const published = new Set<string>();
    const messages: Publication[] = [];
    const equipment = f.registry.equipment;
    for (let i = 0; i < total; i += 1) {
      const e = equipment[i % equipment.length]!;
      const seq = Math.floor(i / equipment.length);
      messages.push({ topic: f.topicOf(e), payload: JSON.stringify(payloadFor(e.family, seq)) });
      published.add(eventId(e.equipmentId, seq));
    }
    expect(published.size).toBe(total);

    child = spawnIngest(f.env);
    await waitFor(() => ready(port), { timeoutMs: 60_000, message: 'ingest ready' });
    publisher = await connectPublisher();
    const publishing = publishAll(publisher, messages, 1000);

    // Kill once a part of the stream is in Kafka, while messages are still flowing.
    await waitFor(async () => (await recordCount(f)) >= 4_000, {
      timeoutMs: 120_000,
      intervalMs: 50,
      message: '4000 records before the kill',
    });
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const atKill = await recordCount(f);
    expect(atKill).toBeLessThan(total);

    // Restart: the broker gave the shared queue back what the dead connections had not acknowledged.
    child = spawnIngest(f.env);
    await publishing;
    await waitFor(async () => (await recordCount(f)) >= total, {
      timeoutMs: 180_000,
      intervalMs: 500,
      message: `${total} records after the restart`,
    });

    const records = await telemetryIds(f);
    const dead = (await f.read('dlq.s3.ingest.v1')).map((r) => DeadLetter.parse(JSON.parse(r.value ?? '')));
    expect(dead).toEqual([]);
    const ids = new Set(records.map((r) => r.id));
    expect(ids.size).toBe(total);
    expect([...ids].every((id) => published.has(id))).toBe(true);
    // A duplicate (acked by Kafka, not yet by MQTT when killed) is the same event: same id, same data.
    const byId = new Map<string, string>();
    for (const r of records) {
      const { ingestedat: _at, ...rest } = JSON.parse(r.value) as Record<string, unknown>;
      const canonical = JSON.stringify(rest);
      const seen = byId.get(r.id);
      if (seen !== undefined) expect(canonical).toBe(seen);
      byId.set(r.id, canonical);
    }
    // eslint-disable-next-line no-console -- evidence for the report
    console.info(
      `kill test: ${atKill} records at kill, ${records.length} records for ${total} messages (${records.length - total} duplicates)`,
    );
  });
});
