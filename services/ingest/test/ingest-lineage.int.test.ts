// Issue 16: telemetry records carry their lineage as a reference to the lineage registry topic
// (`ce_lineageref`, packages/contracts cloudevents-binary.ts). Checks on the real stack that ingest
// writes every lineage there before the records that reference it, that a reader in a fresh process
// (an empty lineage map) resolves them, and that an unknown reference is a coded error, not a stall.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import {
  BinaryHeaders,
  LINEAGE_REGISTRY_TOPIC,
  TOPICS,
  decodeRecordValue,
  eventId,
  isOnDijonError,
  lineageRef,
  type Envelope,
} from '@ondijon/contracts';
import { createConsumer, readAll } from '@ondijon/kafka';
import { testKafka, uniqueName, waitFor } from '@ondijon/test-kit';
import { buildApp, type IngestApp } from '../src/app';
import { loadIngestPolicy } from '../src/governance';
import {
  connectPublisher,
  ingestFixture,
  payloadFor,
  publishAll,
  recordCount,
  type IngestFixture,
  type Publication,
} from './helpers';

const { policy } = loadIngestPolicy('');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CHILD = path.join(repoRoot, 'services/ingest/test/read-telemetry.child.ts');

interface ChildOutput {
  knownBefore: string[];
  records: { value: string | null; binary: boolean; headers: Record<string, string> }[];
}

/** Reads a topic with readAll in a process of its own (empty lineage map). */
async function readInFreshProcess(topic: string, refs: string[]): Promise<ChildOutput> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', CHILD, topic, refs.join(',')],
    { cwd: repoRoot, env: process.env, maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as ChildOutput;
}

describe('lineage registry (real Kafka)', () => {
  let app: IngestApp | undefined;
  let fixture: IngestFixture | undefined;
  let publisher: MqttClient | undefined;

  afterEach(async () => {
    await publisher?.endAsync().catch(() => undefined);
    await app?.close();
    await fixture?.cleanup();
    app = undefined;
    fixture = undefined;
    publisher = undefined;
  });

  it('ingest registers each lineage once; a reader in a fresh process resolves every reference', async () => {
    fixture = await ingestFixture('lineage', 2);
    const f = fixture;
    app = buildApp(f.config, { policy });
    await app.start();
    const messages: Publication[] = [];
    const expected = new Set<string>();
    for (const e of f.registry.equipment)
      for (let seq = 0; seq < 10; seq += 1) {
        messages.push({ topic: f.topicOf(e), payload: JSON.stringify(payloadFor(e.family, seq)) });
        expected.add(eventId(e.equipmentId, seq));
      }
    publisher = await connectPublisher();
    await publishAll(publisher, messages);
    await waitFor(async () => (await recordCount(f)) >= messages.length, {
      timeoutMs: 60_000,
      message: `${messages.length} records`,
    });

    // The registry: one entry per distinct lineage, each keyed by the hash of its text.
    const entries = await f.read(LINEAGE_REGISTRY_TOPIC);
    const registry = new Map(entries.map((r) => [r.key!, r.value!]));
    expect(registry.size).toBe(entries.length);
    for (const [ref, text] of registry) {
      expect(lineageRef(text)).toBe(ref);
      expect(TOPICS[LINEAGE_REGISTRY_TOPIC].schema.safeParse(JSON.parse(text)).success).toBe(true);
    }

    const seen = new Set<string>();
    for (const spec of Object.values(TOPICS).filter((t) => t.area === 'tel' || t.area === 'pii')) {
      const topic = `${f.kafkaPrefix}${spec.name}`;
      const inProcess = await readAll(testKafka(), topic, { timeoutMs: 60_000 });
      if (inProcess.length === 0) continue;
      const refs = [...new Set(inProcess.map((r) => r.headers.ce_lineageref!))];
      const fresh = await readInFreshProcess(topic, refs);
      // The child knew none of them before reading: it resolved them from the registry topic.
      expect(fresh.knownBefore).toEqual([]);
      expect(fresh.records).toHaveLength(inProcess.length);
      for (const [i, r] of fresh.records.entries()) {
        // A valid CloudEvent in binary mode: required attributes and content type in the headers,
        // the lineage as a reference the registry holds.
        expect(r.binary).toBe(true);
        expect(BinaryHeaders.safeParse(r.headers).success).toBe(true);
        expect(r.headers).not.toHaveProperty('ce_lineage');
        expect(registry.has(r.headers.ce_lineageref!)).toBe(true);
        const env = spec.schema.parse(JSON.parse(r.value!)) as Envelope<unknown>;
        expect(env.lineage).toEqual({
          inputs: ['mqtt'],
          producer: 'ingest',
          ...(JSON.parse(registry.get(r.headers.ce_lineageref!)!) as object),
        });
        expect(env.lineage.fieldActions).toBeDefined();
        // The same envelope as this process (which wrote the lineages) decodes.
        expect(JSON.parse(r.value!)).toEqual(JSON.parse(inProcess[i]!.value!));
        seen.add(env.id);
      }
    }
    expect(seen).toEqual(expected);
  });

  it('hands a record with an unknown reference to the handler, where it fails with ONDIJON_LINEAGE_UNKNOWN', async () => {
    fixture = await ingestFixture('lineage-unknown', 1);
    const f = fixture;
    app = buildApp(f.config, { policy });
    await app.start();
    const light = f.registry.equipment.find((e) => e.family === 'streetlight')!;
    publisher = await connectPublisher();
    await publishAll(publisher, [
      { topic: f.topicOf(light), payload: JSON.stringify(payloadFor('streetlight', 1)) },
    ]);
    await waitFor(async () => (await recordCount(f)) >= 1, { timeoutMs: 60_000, message: 'one record' });
    const topic = `${f.kafkaPrefix}tel.s1.lighting.v1`;
    const [written] = await readAll(testKafka(), topic, { timeoutMs: 60_000 });
    const unknown = 'feedbeef00000000';
    const kafka = testKafka();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        {
          key: light.equipmentId,
          value: written!.message.value,
          headers: { ...written!.headers, ce_id: 'another-id', ce_lineageref: unknown },
        },
      ],
    });
    await producer.disconnect();

    const outcomes: string[] = [];
    const consumer = createConsumer(kafka, {
      groupId: uniqueName('ondijon-lineage-test'),
      topics: [topic],
      fromBeginning: true,
      throwawayGroup: true,
      lineageTimeoutMs: 20_000,
    });
    try {
      await consumer.start(async ({ batch }) => {
        for (const m of batch.messages) {
          try {
            const env = decodeRecordValue(
              m.headers,
              m.value,
              'tel.s1.lighting.v1',
              true,
              m,
            ) as Envelope<unknown>;
            outcomes.push(`ok ${env.id}`);
          } catch (error) {
            outcomes.push(
              isOnDijonError(error) ? `${error.code} ${error.message}` : `other ${String(error)}`,
            );
          }
        }
      });
      await waitFor(() => outcomes.length >= 2, { timeoutMs: 60_000, message: 'both records handled' });
    } finally {
      await consumer.stop();
    }
    expect(outcomes[0]).toBe(`ok ${eventId(light.equipmentId, 1)}`);
    expect(outcomes[1]).toMatch(/^ONDIJON_LINEAGE_UNKNOWN /);
    expect(outcomes[1]).toContain(unknown);
  });
});
