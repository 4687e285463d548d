// Redis refuses writes for a while in the middle of a stream: state updates time out, batches fail and
// are fetched again (fetch-ahead rewind), and some timed-out updates are still applied by Redis when the
// pause ends, behind the runtime's back. The final aggregates must still be exact: no loss, no double
// count. A fault test: it pauses the shared Redis, so it runs alone (vitest project `fault`).
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteRedisKeys,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { readAll } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import { Partitioners } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  noopMetrics,
  runProcessors,
  silentStreamLogger,
  energyProcessor,
  lampStream,
  type StreamLogger,
} from '../src/index';

const base = Date.UTC(2025, 0, 15, 0, 0);
const HOURS = 6;
const LAMPS = 40;
const EVERY_MIN = 2;

describe('stream runtime when Redis stops accepting writes mid-stream', () => {
  const cleanup = new Cleanup();
  afterAll(() => cleanup.run());

  it('fetches failed batches again and still gives the exact aggregates', async () => {
    const kafka = testKafka();
    const name = uniqueName('rto')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const keyPrefix = `${name}:`;
    // The runtime's client gives up on a command after 250 ms (a paused Redis would block it forever).
    const redis = new Redis(testEndpoints().redisUrl, { commandTimeout: 250 });
    const admin = new Redis(testEndpoints().redisUrl);
    cleanup.add(async () => {
      await admin.client('UNPAUSE').catch(() => undefined);
      await deleteRedisKeys(admin, keyPrefix);
      await redis.quit().catch(() => undefined);
      await admin.quit();
    });
    const input = await createTestTopic('rto-in', { partitions: 6 });
    const output = await createTestTopic('rto-out', { partitions: 2 });
    const dlq = await createTestTopic('rto-dlq');
    const late = await createTestTopic('rto-late');
    cleanup.add(() => deleteTopics([input, output, dlq, late]));
    cleanup.add(() => deleteGroups([`${name}.${name}`]));

    // Integer watt-hours, so the expected sums are exact; computed by plain arithmetic.
    const { expected, values } = lampStream({
      start: base,
      hours: HOURS,
      lamps: LAMPS,
      everyMin: EVERY_MIN,
      communes: ['21231', '21166'],
    });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let i = 0; i < values.length; i += 2000)
      await producer.sendBatch({
        acks: -1,
        topicMessages: [{ topic: input, messages: values.slice(i, i + 2000) }],
      });
    await producer.disconnect();

    const failures: string[] = [];
    const logger: StreamLogger = {
      ...silentStreamLogger,
      error: (_o, msg) => {
        failures.push(msg);
      },
      child: () => logger,
    };
    let processed = 0;
    let paused = false;
    const processor = energyProcessor(name, 'revise', 5 * 60_000);
    const runtime = await runProcessors([processor], {
      kafka,
      redis,
      groupId: name,
      logger,
      keyPrefix,
      maxChunk: 200,
      redisAttempts: 2,
      idleFlushMs: 2_000,
      emitIntervalMs: 200,
      topicOverrides: {
        'tel.s1.lighting.v1': input,
        'agg.s1.lighting-commune-hour.v1': output,
        'dlq.s3.stream.v1': dlq,
        'late.s2.stream.v1': late,
      },
      metrics: {
        ...noopMetrics,
        processed: (_p, _t, n) => {
          processed += n;
          // A third of the way in: Redis refuses writes (scripts included) for 3 s.
          if (!paused && processed >= values.length / 3) {
            paused = true;
            void admin.client('PAUSE', 3_000, 'WRITE');
          }
        },
      },
    });
    try {
      const latest = async () => {
        const out = new Map<string, { revision: number; wh: number; n: number }>();
        for (const r of await readAll(kafka, output)) {
          const v = JSON.parse(r.value!) as {
            data: {
              revision: number;
              group: { commune: string };
              windowStart: string;
              values: { energyKwh: number };
              inputRecords: number;
            };
          };
          const k = `${v.data.group.commune}|${v.data.windowStart}`;
          const prev = out.get(k);
          if (!prev || v.data.revision >= prev.revision)
            out.set(k, {
              revision: v.data.revision,
              wh: Math.round(v.data.values.energyKwh * 1000),
              n: v.data.inputRecords,
            });
        }
        return out;
      };
      const final = await waitFor(
        async () => {
          const b = await runtime.backlog().catch(() => undefined);
          if (!b || b.open + b.closing + b.dirty > 0) return undefined;
          const got = await latest();
          if (got.size !== expected.size) return undefined;
          for (const [k, e] of expected) {
            const g = got.get(k);
            if (!g || g.wh !== e.wh || g.n !== e.n) return undefined;
          }
          return got;
        },
        { timeoutMs: 120_000, intervalMs: 1_000, message: 'final aggregates equal to the expected sums' },
      ).catch(async (err: unknown) => {
        // Name what differs in the failure.
        const got = await latest();
        const differs = [...expected]
          .filter(([k, e]) => got.get(k)?.wh !== e.wh || got.get(k)?.n !== e.n)
          .map(
            ([k, e]) => `${k}: expected ${e.wh} Wh from ${e.n} records, got ${JSON.stringify(got.get(k))}`,
          );
        throw new Error(`${String(err)}\n${differs.join('\n')}`);
      });
      expect(paused).toBe(true);
      // The outage really made batches fail (otherwise this test shows nothing).
      expect(failures).toContain('batch failed; fetching it again');
      expect(final.size).toBe(expected.size);
      for (const [k, e] of expected) expect(final.get(k)).toMatchObject({ wh: e.wh, n: e.n });
    } finally {
      await runtime.close();
    }
  });
});
