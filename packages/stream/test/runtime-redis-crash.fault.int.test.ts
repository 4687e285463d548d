// Redis SIGKILLed in the middle of a stream (kill -9, no shutdown) and started again on its AOF. The
// runtime commits Kafka offsets up to what Redis acknowledged; with `appendfsync everysec` (the
// stack's infra/redis/redis.conf) an acknowledged write is on disk only at the next sync, so a machine
// crash loses up to a second or two of applied state whose offsets Kafka already has. A process
// SIGKILL alone loses nothing Redis wrote to the kernel; the loss of the unsynced tail is reproduced
// by cutting the AOF back to its size at a random earlier point before the restart (after Kafka's
// committed offsets passed that point, so the gap is real). Three cases:
// - SIGKILL, restart on the same AOF, the runtime keeps running;
// - SIGKILL, AOF cut back (the unsynced tail lost), the runtime keeps running: it must notice that
//   Redis went back and apply the lost records again;
// - SIGKILL, AOF cut back, the runtime stopped too (the machine went down) and started again after
//   Redis: Kafka's committed offsets are past the offsets stored with the state.
// Each time the final aggregates must equal the expected sums (plain arithmetic over the records
// produced, below), with no loss and no double count. Seeds are printed (REDIS_CRASH_SEED replays).
// A fault test: its own redis-server, but it kills processes, so it runs alone (vitest project `fault`).
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
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
  type StreamRuntime,
} from '../src/index';
import { OwnRedis } from './redis-crash';

const base = Date.UTC(2025, 0, 15, 0, 0);
const HOURS = 8;
const LAMPS = 40;
const EVERY_MIN = 2;
const PARTITIONS = 4;

type Case = 'same-aof' | 'cut-aof' | 'cut-aof-runtime-restarted';

/** A small deterministic generator (seeded), so a failing run can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function stream() {
  // Integer watt-hours, so the expected sums are exact; computed by plain arithmetic.
  return lampStream({
    start: base,
    hours: HOURS,
    lamps: LAMPS,
    everyMin: EVERY_MIN,
    communes: ['21231', '21166'],
  });
}

describe('stream runtime when Redis is SIGKILLed mid-stream and restarted on its AOF', () => {
  const cleanup = new Cleanup();
  afterAll(() => cleanup.run());

  const cases: Case[] = ['same-aof', 'cut-aof', 'cut-aof-runtime-restarted'];
  cases.forEach((kind, i) => {
    it(`gives the exact aggregates (${kind})`, async () => {
      const seed = Number(process.env.REDIS_CRASH_SEED ?? (Date.now() + i) % 100_000);
      const rand = rng(seed);
      // eslint-disable-next-line no-console -- the seed and kill points must be visible to replay a failure
      console.info(`redis crash test (${kind}) seed ${seed}`);
      const kafka = testKafka();
      const name = uniqueName('rcr')
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-');
      const keyPrefix = `${name}:`;
      const own = await OwnRedis.start();
      cleanup.add(() => own.destroy());
      // The runtime's client gives up on a command after 1 s (a dead Redis would hold it for long).
      const newClient = () => {
        const c = new Redis(own.url, { commandTimeout: 1_000, maxRetriesPerRequest: 1 });
        c.on('error', () => undefined); // refused connections while Redis is down: expected here
        return c;
      };
      const redis = newClient();
      const admin = newClient();
      cleanup.add(() => {
        redis.disconnect();
        admin.disconnect();
      });
      const input = await createTestTopic('rcr-in', { partitions: PARTITIONS });
      const output = await createTestTopic('rcr-out', { partitions: 2 });
      const dlq = await createTestTopic('rcr-dlq');
      const late = await createTestTopic('rcr-late');
      const groupId = `${name}.${name}`;
      cleanup.add(() => deleteTopics([input, output, dlq, late]));
      cleanup.add(() => deleteGroups([groupId]));
      const { expected, values } = stream();
      const total = values.length;

      const warnings: string[] = [];
      const logger: StreamLogger = {
        ...silentStreamLogger,
        warn: (_o, msg) => {
          warnings.push(msg);
        },
        child: () => logger,
      };
      let processed = 0;
      let cut: { size: number; offsets: Record<string, string> } | undefined;
      let cutPending = false;
      const cutAt = Math.floor(total * (0.15 + rand() * 0.25));
      const start = (client: Redis): Promise<StreamRuntime> =>
        runProcessors([energyProcessor(name, 'revise', 5 * 60_000)], {
          kafka,
          redis: client,
          groupId: name,
          logger,
          keyPrefix,
          maxChunk: 100,
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
              // The point the disk is assumed synced to: the AOF's size, then (a little later, so at
              // least as far) the offsets Redis holds.
              if (!cut && !cutPending && processed >= cutAt) {
                cutPending = true;
                void own.aofSize().then(async (size) => {
                  cut = { size, offsets: await admin.hgetall(`${keyPrefix}{${name}}:offset`) };
                });
              }
            },
          },
        });
      let runtime = await start(redis);
      cleanup.add(() => runtime.close());

      // Records stream in while the runtime works: 200 every 60 ms.
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      cleanup.add(() => producer.disconnect());
      let produced = 0;
      const producing = (async () => {
        for (let j = 0; j < total; j += 200) {
          await producer.sendBatch({
            acks: -1,
            topicMessages: [{ topic: input, messages: values.slice(j, j + 200) }],
          });
          produced = Math.min(total, j + 200);
          await new Promise((r) => setTimeout(r, 60));
        }
      })();

      // Kill once Kafka's committed offsets are past the cut point on some partition (so a cut AOF
      // loses state whose input offsets Kafka has), after a random extra delay.
      const kafkaAdmin = kafka.admin();
      await kafkaAdmin.connect();
      cleanup.add(() => kafkaAdmin.disconnect());
      const committed = async () => {
        const [t] = await kafkaAdmin.fetchOffsets({ groupId, topics: [input] });
        return new Map(t!.partitions.map((p) => [`tel.s1.lighting.v1:${p.partition}`, BigInt(p.offset)]));
      };
      const gapAt = await waitFor(
        async () => {
          if (!cut) return undefined;
          const c = await committed();
          const ahead = [...c].filter(([tp, o]) => o > BigInt(cut!.offsets[tp] ?? '-1') + 1n);
          return ahead.length > 0 ? c : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 50, message: 'offsets committed past the cut point' },
      );
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 300)));
      await own.sigkill();
      const killedAt = processed;
      // eslint-disable-next-line no-console -- kill points must be visible to replay a failure
      console.info(
        `redis crash test (${kind}): cut at ${cutAt} records (AOF ${cut!.size} bytes, offsets ${JSON.stringify(cut!.offsets)}), ` +
          `committed ${JSON.stringify(Object.fromEntries([...gapAt].map(([k, v]) => [k, v.toString()])))}, ` +
          `killed after ${killedAt} of ${total} processed, ${produced} produced`,
      );
      expect(killedAt, 'Redis killed mid-stream').toBeLessThan(total);
      if (kind === 'cut-aof-runtime-restarted') {
        // The machine went down: the runtime stops too (without Redis its last chunk fails).
        await runtime.close();
      }
      if (kind !== 'same-aof') await own.cutAof(cut!.size);
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 1_000)));
      await own.restart();
      if (kind === 'cut-aof-runtime-restarted') {
        redis.disconnect();
        const again = newClient();
        cleanup.add(() => again.disconnect());
        runtime = await start(again);
      }
      await producing;

      const latest = async () => {
        const out = new Map<string, { revision: number; wh: number; n: number }>();
        let records = 0;
        const seen = new Map<string, number>();
        let duplicates = 0;
        let differing = 0;
        for (const r of await readAll(kafka, output)) {
          records += 1;
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
          const wh = Math.round(v.data.values.energyKwh * 1000);
          const before = seen.get(`${k}|${v.data.revision}`);
          if (before !== undefined) {
            duplicates += 1;
            if (before !== wh) differing += 1;
          }
          seen.set(`${k}|${v.data.revision}`, wh);
          const prev = out.get(k);
          if (!prev || v.data.revision >= prev.revision)
            out.set(k, {
              revision: v.data.revision,
              wh: Math.round(v.data.values.energyKwh * 1000),
              n: v.data.inputRecords,
            });
        }
        return { out, records, duplicates, differing };
      };
      const final = await waitFor(
        async () => {
          if (processed < total) return undefined;
          const b = await runtime.backlog().catch(() => undefined);
          if (!b || b.open + b.closing + b.dirty > 0) return undefined;
          const got = await latest();
          if (got.out.size !== expected.size) return undefined;
          for (const [k, e] of expected) {
            const g = got.out.get(k);
            if (!g || g.wh !== e.wh || g.n !== e.n) return undefined;
          }
          return got;
        },
        { timeoutMs: 120_000, intervalMs: 1_000, message: 'final aggregates equal to the expected sums' },
      ).catch(async (err: unknown) => {
        // Name what differs in the failure.
        const got = (await latest()).out;
        const differs = [...expected]
          .filter(([k, e]) => got.get(k)?.wh !== e.wh || got.get(k)?.n !== e.n)
          .map(
            ([k, e]) => `${k}: expected ${e.wh} Wh from ${e.n} records, got ${JSON.stringify(got.get(k))}`,
          );
        throw new Error(`${String(err)}\n${differs.join('\n')}`);
      });
      // Duplicates are reported, not hidden: a window whose close and acknowledgement Redis lost is
      // emitted again with the same key and revision; if it closes again before every lost record was
      // applied again (the idle flush), that repeat holds other values and the replayed records then
      // revise it with a higher revision.
      // eslint-disable-next-line no-console -- reported figures
      console.info(
        `redis crash test (${kind}): ${final.records} results for ${expected.size} windows, ` +
          `${final.duplicates} repeated (same window and revision), ${final.differing} of them with other values ` +
          `(a later revision supersedes them); runtime warnings: ` +
          JSON.stringify([...new Set(warnings)]),
      );
      expect(final.out.size).toBe(expected.size);
      for (const [k, e] of expected) expect(final.out.get(k)).toMatchObject({ wh: e.wh, n: e.n });
      await runtime.close();
    });
  });
});
