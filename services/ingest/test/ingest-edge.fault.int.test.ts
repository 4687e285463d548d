// Issue 11 "Every stack process killed": the MQTT edge. Losses are counted by clients this project did
// not write — paho-mqtt publishes and records which messages its PUBACK acknowledged, confluent-kafka
// reads back what reached Kafka — and a message acknowledged to the publisher must be in the telemetry
// topics or the dead letters (by event id). Duplicates are counted and reported, not hidden.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ackedIds, waitFor } from '@ondijon/test-kit';
import { killMqtt, startMqtt } from '@ondijon/stack';
import { buildApp, type IngestApp } from '../src/app';
import { loadIngestPolicy } from '../src/governance';
import { ingestFixture, recordCount } from './helpers';
import { INGEST_MAIN, account, freePort, repoRoot, startPublisher, writeMessages } from './mqtt-edge';

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
      const child = spawn(process.execPath, ['--import', 'tsx', INGEST_MAIN], {
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
