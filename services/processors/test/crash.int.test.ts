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
import { createBatchingProducer, readAll } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildStream,
  kill,
  referenceLighting,
  referenceTraffic15m,
  spawnProcessors,
  type FixtureRecord,
} from './support/stream-fixture';

// Effectively-once under crashes (issue 5, "Must show"): the processors service is SIGKILLed at
// random points and restarted; the latest revision of every aggregate must equal an independent
// reference computed from the unique input records. Seeds are printed so a failure can be replayed.

const PROCESSORS = ['lighting-commune-hour', 'traffic-flow-15m'];

describe('processors under crashes', () => {
  const cleanup = new Cleanup();
  const kafka = testKafka();
  let redis: Redis;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    redis = new Redis(testEndpoints().redisUrl);
    cleanup.add(() => redis.quit());
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => kill(c)));
    await cleanup.run();
  });

  /**
   * createTestTopic, retried: under load on 2 cores, kafkajs' waitForLeaders sometimes sees the new
   * topic before its metadata has spread and throws UNKNOWN_TOPIC_OR_PARTITION.
   */
  async function topic(prefix: string, partitions = 1): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await createTestTopic(prefix, { partitions });
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  async function setup(prefix: string) {
    const name = uniqueName(prefix).toLowerCase();
    const t = {
      lighting: await topic(`${prefix}-lighting`, 6),
      traffic: await topic(`${prefix}-traffic`, 6),
      lightingOut: await topic(`${prefix}-agg-lighting`, 3),
      trafficOut: await topic(`${prefix}-agg-traffic`, 3),
      dlq: await topic(`${prefix}-dlq`),
      late: await topic(`${prefix}-late`),
    };
    cleanup.add(() => deleteTopics(Object.values(t)));
    cleanup.add(() => deleteRedisKeys(redis, `${name}:`));
    cleanup.add(() => deleteGroups(PROCESSORS.map((p) => `${name}.${p}`)));
    const env = {
      KAFKA_BROKERS: testEndpoints().kafkaBrokers.join(','),
      REDIS_URL: testEndpoints().redisUrl,
      PROCESSORS_GROUP_ID: name,
      PROCESSORS_ENABLED: PROCESSORS.join(','),
      STREAM_KEY_PREFIX: `${name}:`,
      STREAM_IDLE_FLUSH_MS: '2000',
      STREAM_EMIT_INTERVAL_MS: '200',
      STREAM_SESSION_TIMEOUT_MS: '6000',
      STREAM_TOPIC_OVERRIDES: JSON.stringify({
        'tel.s1.lighting.v1': t.lighting,
        'tel.s1.traffic.v1': t.traffic,
        'agg.s1.lighting-commune-hour.v1': t.lightingOut,
        'agg.s1.traffic-flow.v1': t.trafficOut,
        'dlq.s3.stream.v1': t.dlq,
        'late.s2.stream.v1': t.late,
      }),
    };
    const produce = async (records: FixtureRecord[]) => {
      const p = createBatchingProducer(kafka);
      await p.connect();
      await Promise.all(
        records.map((r) =>
          p.send(r.topic === 'tel.s1.lighting.v1' ? t.lighting : t.traffic, {
            key: r.key,
            value: JSON.stringify(r.value),
          }),
        ),
      );
      await p.disconnect();
    };
    /** Records applied so far: sum over partitions of the offsets stored with the state. */
    const applied = async () => {
      let n = 0;
      for (const p of PROCESSORS) {
        const offsets = await redis.hgetall(`${name}:{${p}}:offset`);
        for (const o of Object.values(offsets)) n += Number(o) + 1;
      }
      return n;
    };
    const backlog = async () => {
      let n = 0;
      for (const p of PROCESSORS)
        n +=
          (await redis.zcard(`${name}:{${p}}:open`)) +
          (await redis.scard(`${name}:{${p}}:closing`)) +
          (await redis.scard(`${name}:{${p}}:dirty`));
      return n;
    };
    const latest = async (topic: string) => {
      const out = new Map<string, { revision: number; values: Record<string, number | null> }>();
      // Duplicates are reported, not hidden: a result emitted again with the same key and revision
      // (a kill between Kafka's acknowledgement and the ACK in Redis) is an idempotent upsert downstream.
      const seen = new Set<string>();
      let records = 0;
      let repeated = 0;
      for (const r of await readAll(kafka, topic, { timeoutMs: 60_000 })) {
        const v = JSON.parse(r.value!).data;
        records += 1;
        if (seen.has(`${r.key!}|${v.revision}`)) repeated += 1;
        seen.add(`${r.key!}|${v.revision}`);
        const prev = out.get(r.key!);
        if (!prev || v.revision >= prev.revision) out.set(r.key!, { revision: v.revision, values: v.values });
      }
      // eslint-disable-next-line no-console -- reported figures
      console.info(
        `${topic}: ${records} results for ${out.size} windows, ${repeated} repeated (same window and revision)`,
      );
      return out;
    };
    return { name, t, env, produce, applied, backlog, latest };
  }

  function expectEqual(
    actual: Map<string, { values: Record<string, number | null> }>,
    expected: Map<string, Record<string, number | null>>,
  ) {
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, want] of expected) {
      const got = actual.get(key)!.values;
      for (const [field, value] of Object.entries(want)) {
        if (value === null) expect(got[field], `${key} ${field}`).toBeNull();
        // Values are rounded to 6 decimals by the processors; integers must match exactly.
        else expect(got[field], `${key} ${field}`).toBeCloseTo(value, 5);
      }
    }
  }

  async function finish(ctx: Awaited<ReturnType<typeof setup>>, total: number) {
    await waitFor(async () => (await ctx.applied()) === total && (await ctx.backlog()) === 0, {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: 'all records applied and every window emitted',
    });
  }

  it('gives the exact aggregates after random SIGKILLs and restarts', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    // eslint-disable-next-line no-console -- seeds and kill points must be visible to replay a failure
    console.info(`crash test seed ${seed}`);
    const { unique, produceOrder } = buildStream(seed, 6, 30);
    const ctx = await setup('crash');
    await ctx.produce(produceOrder);
    const total = produceOrder.length;
    let rand = seed;
    const next = () => (rand = (rand * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let kills = 0;
    let midStream = 0;
    for (let i = 0; i < 4; i++) {
      const before = await ctx.applied();
      const child = spawnProcessors(ctx.env);
      children.push(child);
      // Kill once it has made progress, after a random extra delay: mid-chunk, mid-emission or between.
      await waitFor(async () => (await ctx.applied()) > before || (await ctx.applied()) === total, {
        timeoutMs: 60_000,
        intervalMs: 20,
        message: `run ${i} made progress`,
      });
      await new Promise((r) => setTimeout(r, Math.floor(next() * 400)));
      await kill(child);
      kills += 1;
      if ((await ctx.applied()) < total) midStream += 1;
      // eslint-disable-next-line no-console -- seeds and kill points must be visible to replay a failure
      console.info(`run ${i}: killed after ${await ctx.applied()} of ${total} records applied`);
      if ((await ctx.applied()) === total) break;
    }
    expect(kills).toBeGreaterThanOrEqual(2);
    expect(midStream, 'kills before every record was applied').toBeGreaterThanOrEqual(2);
    const last = spawnProcessors(ctx.env);
    children.push(last);
    await finish(ctx, total);
    expectEqual(await ctx.latest(ctx.t.lightingOut), referenceLighting(unique));
    expectEqual(await ctx.latest(ctx.t.trafficOut), referenceTraffic15m(unique));
    await kill(last);
  });

  it('two instances in one group split the partitions; one killed mid-stream, still exact', async () => {
    const seed = Number(process.env.CRASH_SEED ?? (Date.now() + 1) % 100_000);
    // eslint-disable-next-line no-console -- seeds and kill points must be visible to replay a failure
    console.info(`two-instance test seed ${seed}`);
    const { unique, produceOrder } = buildStream(seed, 3, 20);
    const ctx = await setup('pair');
    const half = Math.floor(produceOrder.length / 2);
    // Partitions each instance claimed (the runtime logs each claim at debug level).
    const claimed = { a: new Set<string>(), b: new Set<string>() };
    const onClaim = (who: 'a' | 'b') => (line: Record<string, unknown>) => {
      if (line.msg === 'partition claimed')
        claimed[who].add(`${String(line.processor)}/${String(line.topic)}/${String(line.partition)}`);
    };
    const env = { ...ctx.env, LOG_LEVEL: 'debug' };
    const a = spawnProcessors(env, onClaim('a'));
    const b = spawnProcessors(env, onClaim('b'));
    children.push(a, b);
    // Produce once both instances are members of every processor's group, so the first half is split.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor(
        async () => {
          const { groups } = await admin.describeGroups(PROCESSORS.map((p) => `${ctx.name}.${p}`));
          return groups.every((g) => g.state === 'Stable' && g.members.length === 2);
        },
        { timeoutMs: 60_000, intervalMs: 250, message: 'both instances in every group' },
      );
    } finally {
      await admin.disconnect();
    }
    await ctx.produce(produceOrder.slice(0, half));
    // Both instances own partitions: each has claimed at least one.
    await waitFor(async () => (await ctx.applied()) > half / 4 && claimed.a.size > 0 && claimed.b.size > 0, {
      timeoutMs: 60_000,
      message: 'progress with two instances, each owning partitions',
    });
    await kill(a);
    const ownedByA = new Set(claimed.a);
    // eslint-disable-next-line no-console -- seeds and kill points must be visible to replay a failure
    console.info(`instance a claimed ${claimed.a.size} partitions, b ${claimed.b.size}, before the kill`);
    await ctx.produce(produceOrder.slice(half));
    await finish(ctx, produceOrder.length);
    // b took over a's partitions after the kill (claimed them with a new epoch).
    expect([...ownedByA].some((p) => claimed.b.has(p))).toBe(true);
    expectEqual(await ctx.latest(ctx.t.lightingOut), referenceLighting(unique));
    expectEqual(await ctx.latest(ctx.t.trafficOut), referenceTraffic15m(unique));
    await kill(b);
  });
});
