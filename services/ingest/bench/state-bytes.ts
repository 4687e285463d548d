// The hops of `pnpm bench:bytes` after Kafka (bytes.bench.ts): the Redis window state of each built-in
// processor and the open-data rows of each dataset, from the same binary-mode readings as the Kafka
// figures (ingest's records, with their keys and record timestamps).
// - Redis: every built-in processor runs in the real stream runtime (packages/stream) on the stack's
//   Kafka and Redis over the readings of its inputs; once its windows are emitted (the state stays until
//   the revise horizon), each window's hash (`…:w:<window>`: state JSON, group, version, bounds) and its
//   dedupe set of event ids (`…:ids:<window>`) are measured with Redis' MEMORY USAGE, and the state JSON
//   with HSTRLEN. "Per equipment-window" divides by the distinct equipment (subjects) of each window.
// - Open data: the same processors in the stream harness (the runtime's code path in memory), their
//   latest aggregates staged as the publisher stages them, each day built into a release by the
//   publisher's `buildRelease` and written by the store's writer to a temporary folder: `data.csv` bytes
//   per row and per reading.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sensitivity, TopicName } from '@ondijon/contracts';
import {
  PrivacyBudgetLedger,
  createNoiseMemory,
  datasetPolicy,
  loadPolicy,
  seededRng,
} from '@ondijon/governance';
import { createStoreWriter } from '@ondijon/opendata';
import { processors } from '@ondijon/processors';
import { buildRelease, DATASET_SPECS, type StagedAggregate } from '@ondijon/publisher';
import { createStreamRuntime, runProcessor, silentStreamLogger, type AnyProcessor } from '@ondijon/stream';
import {
  createTestTopic,
  deleteRedisKeys,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
} from '@ondijon/test-kit';
import { Redis } from 'ioredis';

/** A binary-mode reading as ingest writes it (bytes.bench.ts `Rec`, the fields used here). */
export interface Reading {
  topic: string;
  key: string;
  value: string;
  headers: Readonly<Record<string, string>>;
  timestamp?: string;
}

/** Redis state of one processor over the readings of its inputs. */
export interface RedisStateFigures {
  processor: string;
  readings: number;
  windows: number;
  /** Σ over windows of the distinct equipment in it. */
  equipmentWindows: number;
  /** State JSON (HSTRLEN of the `s` field), bytes per equipment-window. */
  stateJsonPerEquipmentWindow: number;
  /** MEMORY USAGE of the window hashes, bytes per equipment-window. */
  windowKeyPerEquipmentWindow: number;
  /** MEMORY USAGE of the dedupe sets of event ids, bytes per equipment-window. */
  idsPerEquipmentWindow: number;
  /** Both, per reading folded in. */
  redisPerReading: number;
}

/** Open-data release bytes of one dataset over the readings of its processors' inputs. */
export interface OpenDataFigures {
  dataset: string;
  readings: number;
  releases: number;
  rows: number;
  csvBytes: number;
  csvBytesPerRow: number;
  csvBytesPerReading: number;
}

const inputsOf = (p: AnyProcessor) => new Set<string>(p.inputs);
const forProcessor = (p: AnyProcessor, readings: readonly Reading[]) =>
  readings.filter((r) => inputsOf(p).has(r.topic));
/** A reading as kafkajs produces it: key, value, headers and, in binary mode, ingest's record timestamp. */
export const message = (r: Reading) => ({
  key: r.key,
  value: r.value,
  headers: { ...r.headers },
  ...(r.timestamp === undefined ? {} : { timestamp: r.timestamp }),
});

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

const memoryUsage = async (redis: Redis, key: string) =>
  Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);

/** Runs one processor in the stream runtime over its readings and measures its windows in Redis. */
async function redisStateOf(p: AnyProcessor, readings: readonly Reading[]): Promise<RedisStateFigures> {
  const kafka = testKafka(uniqueName('bytes-state'));
  const redis = new Redis(testEndpoints().redisUrl);
  const name = uniqueName(`bytes-${p.name}`);
  const inputs = [...inputsOf(p)];
  const topics: Record<string, string> = {};
  for (const t of [
    ...inputs,
    p.kind === 'windowed' ? p.output : undefined,
    'dlq.s3.stream.v1',
    'late.s2.stream.v1',
  ])
    if (t !== undefined) topics[t] = await createTestTopic(`bytes-${t.split('.')[2]}`);
  const producer = kafka.producer();
  const runtime = createStreamRuntime([p], {
    kafka,
    redis,
    groupId: name,
    logger: silentStreamLogger,
    keyPrefix: `${name}:`,
    idleFlushMs: 1_000,
    emitIntervalMs: 100,
    topicOverrides: topics,
  });
  try {
    await producer.connect();
    for (const t of inputs) {
      const rs = readings.filter((r) => r.topic === t);
      for (let i = 0; i < rs.length; i += 500)
        await producer.send({ topic: topics[t]!, acks: -1, messages: rs.slice(i, i + 500).map(message) });
    }
    await runtime.start();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const b = await runtime.backlog();
      if (runtime.stats().processed >= readings.length && b.open + b.closing + b.dirty === 0) break;
      if (Date.now() > deadline) throw new Error(`${p.name}: readings not processed within 120 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const base = `${name}:{${p.name}}`;
    let windows = 0;
    let equipmentWindows = 0;
    let stateJson = 0;
    let windowKeys = 0;
    let ids = 0;
    for (const key of await scanKeys(redis, `${base}:w:*`)) {
      const state = await redis.hget(key, 's');
      if (state === null) continue;
      windows++;
      stateJson += Buffer.byteLength(state);
      const subjects = (JSON.parse(state) as { meta?: { subjects?: Record<string, 1> } }).meta?.subjects;
      equipmentWindows += Object.keys(subjects ?? {}).length;
      windowKeys += await memoryUsage(redis, key);
      ids += await memoryUsage(redis, `${base}:ids:${key.slice(`${base}:w:`.length)}`);
    }
    const per = (n: number) => (equipmentWindows === 0 ? Number.NaN : n / equipmentWindows);
    return {
      processor: p.name,
      readings: readings.length,
      windows,
      equipmentWindows,
      stateJsonPerEquipmentWindow: per(stateJson),
      windowKeyPerEquipmentWindow: per(windowKeys),
      idsPerEquipmentWindow: per(ids),
      redisPerReading: (windowKeys + ids) / readings.length,
    };
  } finally {
    await runtime.close().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await deleteRedisKeys(redis, `${name}:`).catch(() => undefined);
    await redis.quit().catch(() => undefined);
    await deleteTopics(Object.values(topics)).catch(() => undefined);
  }
}

/** The Redis state of every built-in windowed processor whose inputs the readings cover. */
export async function redisState(readings: readonly Reading[]): Promise<RedisStateFigures[]> {
  const out: RedisStateFigures[] = [];
  for (const p of processors) {
    const mine = forProcessor(p, readings);
    if (p.kind === 'windowed' && mine.length > 0) out.push(await redisStateOf(p, mine));
  }
  return out;
}

/** Paris day (`YYYY-MM-DD`) of an instant. */
const parisDay = (iso: string) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date(iso));

/** Every dataset's releases over the readings, written to a temporary store: CSV bytes per row and reading. */
export async function openDataRows(readings: readonly Reading[]): Promise<OpenDataFigures[]> {
  const policy = loadPolicy();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-bytes-store-'));
  const writer = createStoreWriter(dir);
  const out: OpenDataFigures[] = [];
  try {
    for (const spec of Object.values(DATASET_SPECS)) {
      const rules = datasetPolicy(policy, spec.id);
      const feeding = processors.filter((p) => p.kind === 'windowed' && p.output === rules.sourceTopic);
      const input = feeding.flatMap((p) => forProcessor(p, readings));
      if (input.length === 0) continue;
      const staged: StagedAggregate[] = [];
      for (const p of feeding) {
        const { latest } = runProcessor(
          p,
          forProcessor(p, readings).map((r) => ({ topic: r.topic as TopicName, ...message(r) })),
        );
        for (const env of latest.values()) {
          const e = env as unknown as {
            sensitivity: Sensitivity;
            policyrevision: string;
            data: StagedAggregate['data'] & { key: string };
          };
          staged.push({
            key: e.data.key,
            topic: rules.sourceTopic,
            sensitivity: e.sensitivity,
            policyRevision: e.policyrevision,
            data: e.data,
          });
        }
      }
      const days = [...new Set(staged.map((s) => parisDay(s.data.windowStart)))].sort();
      let rows = 0;
      let csvBytes = 0;
      for (const day of days) {
        const built = buildRelease({
          spec,
          rules,
          policyRevision: policy.revision,
          day,
          staged,
          previous: [],
          noiseMemory: createNoiseMemory(),
          rng: seededRng(`bench-bytes-${spec.id}-${day}`),
          ledger: new PrivacyBudgetLedger(),
          now: new Date(Date.now() + 3 * 86_400_000),
        });
        const info = await writer.writeRelease({
          datasetId: spec.id,
          metadata: built.metadata,
          tableSchema: built.tableSchema,
          rows: built.rows,
          notes: built.notes,
        });
        rows += info.rowCount;
        csvBytes += statSync(path.join(dir, info.path, 'data.csv')).size;
      }
      out.push({
        dataset: spec.id,
        readings: input.length,
        releases: days.length,
        rows,
        csvBytes,
        csvBytesPerRow: rows === 0 ? Number.NaN : csvBytes / rows,
        csvBytesPerReading: csvBytes / input.length,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
