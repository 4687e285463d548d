// Issue 11 "Every stack process killed": the MQTT broker as a replicated pair (`pnpm stack up --mqtt-nodes 2`,
// docs/mqtt-broker.md "The replicated pair"). The primary is SIGKILLed at a random point mid-stream; the backup
// takes over, the publisher (paho-mqtt, --server) and ingest (MQTT_FAILOVER_URLS) fail over to it. Counted by
// clients this project did not write: every message whose PUBACK paho saw must be in the telemetry topics or
// the dead letters (confluent-kafka, by event id). Duplicates are printed, not hidden. The time from the kill
// to ingest subscribed again and to its first new record in Kafka is printed (evidence, not asserted).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ackedIds, waitFor } from '@ondijon/test-kit';
import { killMqtt, mqttPairDown, mqttPairUp, stackMqttBackupUrl, startMqtt } from '@ondijon/stack';
import { buildApp, type IngestApp } from '../src/app';
import { loadIngestPolicy } from '../src/governance';
import { ingestFixture, recordCount } from './helpers';
import { account, startPublisher, writeMessages } from './mqtt-edge';

const seconds = (ms: number) => (ms / 1000).toFixed(1);

describe('the replicated MQTT pair under SIGKILL of the primary (independent publisher and reader)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  // The way back (failback, then the single node) takes minutes on a busy 2-core machine.
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  }, 420_000);

  it('loses no acknowledged message when the primary is SIGKILLed mid-stream and the backup takes over', async () => {
    await mqttPairUp({ timeoutMs: 240_000 });
    // Back to the single node for the tests after this one: the primary starts again and fails back (it
    // replicates what the backup took while it was away, then takes over), then the pair stops cleanly and
    // the primary's journal, which now holds everything, serves as the single node's.
    cleanups.push(async () => {
      const started = Date.now();
      await mqttPairUp({ waitForBackup: false, timeoutMs: 240_000 });
      // eslint-disable-next-line no-console -- evidence for the report
      console.info(`mqtt pair: primary restarted and failed back in ${seconds(Date.now() - started)} s`);
      await mqttPairDown();
      await startMqtt();
    });
    const backup = new URL(stackMqttBackupUrl());
    const f = await ingestFixture('mqtt-ha', 20, {
      INGEST_CONNECTIONS: '4',
      MQTT_FAILOVER_URLS: backup.href,
    });
    cleanups.push(() => f.cleanup());
    const { policy } = loadIngestPolicy('');
    const app: IngestApp = buildApp(f.config, { policy });
    cleanups.push(() => app.close());
    await app.start();

    const dir = mkdtempSync(path.join(tmpdir(), 'mqtt-ha-'));
    const total = 10_000;
    const published = writeMessages(f, total, path.join(dir, 'messages.jsonl'));
    const ackedFile = path.join(dir, 'acked.txt');
    const publisher = startPublisher(path.join(dir, 'messages.jsonl'), ackedFile, [
      `${backup.hostname}:${backup.port}`,
    ]);
    cleanups.push(async () => publisher.process.kill('SIGKILL'));

    // A random point between 20 % and 70 % of the acknowledged stream.
    const killAt = Math.floor(total * (0.2 + Math.random() * 0.5));
    await waitFor(() => ackedIds(ackedFile).length >= killAt, { timeoutMs: 180_000, intervalMs: 20 });
    killMqtt();
    const killedAt = Date.now();
    const ackedAtKill = ackedIds(ackedFile).length;

    // Ingest notices the lost connections, then is ready again once every connection is subscribed on the
    // backup; "receiving again" is its first record in Kafka after that.
    await waitFor(async () => !(await app.ready()).ready, {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: 'ingest noticed the primary is gone',
    });
    await waitFor(async () => (await app.ready()).ready, {
      timeoutMs: 120_000,
      intervalMs: 100,
      message: 'ingest subscribed on the backup',
    });
    const subscribedMs = Date.now() - killedAt;
    const recordsWhenSubscribed = await recordCount(f);
    let receivingMs: number | undefined;
    if (ackedIds(ackedFile).length < total) {
      await waitFor(async () => (await recordCount(f)) > recordsWhenSubscribed, {
        timeoutMs: 120_000,
        intervalMs: 100,
        message: 'ingest receiving from the backup',
      });
      receivingMs = Date.now() - killedAt;
    }

    await publisher.done;
    const r = await account(f, ackedFile, published);
    // eslint-disable-next-line no-console -- evidence for the report
    console.info(
      `mqtt pair, primary SIGKILLed at ${ackedAtKill} acknowledged: ingest subscribed on the backup after ${seconds(subscribedMs)} s, receiving after ${receivingMs === undefined ? '- (publisher already done)' : `${seconds(receivingMs)} s`}; ${r.acked} acknowledged, ${r.stored} records, ${r.distinct} distinct, ${r.duplicates} duplicates, ${r.lost.length} lost${r.lost.length > 0 ? ` (first: ${r.lost.slice(0, 5).join(', ')})` : ''}`,
    );
    // The publisher really went over to the backup (else this test would not test the pair).
    expect(publisher.output()).toContain(`connected ${backup.hostname}:${backup.port}`);
    expect(r.lost).toEqual([]);
    expect(r.acked).toBe(total);
    // Starting the pair (two brokers, a journal copy) and the failover take minutes on a busy 2-core machine.
  }, 900_000);
});
