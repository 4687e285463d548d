// The machine of the processors and Redis goes down mid-stream: the processors service and Redis are
// both SIGKILLed, Redis's AOF is cut back to its size at a random earlier point (`appendfsync
// everysec` syncs once a second: the unsynced tail is what a machine crash loses), after Kafka's
// committed offsets had passed that point. Both are started again; the latest revision of every
// aggregate must equal the independent reference of the unique input records (as crash.int.test.ts).
// Redis is the test's own (infra/redis/redis.conf on a free port), so this kills nothing shared; it
// kills processes, so it runs alone (vitest project `fault`). CRASH_SEED replays a run.
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { createBatchingProducer, readAll } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { OwnRedis } from '../../../packages/stream/test/redis-crash';
import {
  buildStream,
  kill,
  referenceLighting,
  referenceTraffic15m,
  spawnProcessors,
  type FixtureRecord,
} from './support/stream-fixture';

const PROCESSORS = ['lighting-commune-hour', 'traffic-flow-15m'];

describe('processors and Redis killed together mid-stream, the AOF tail lost', () => {
  const cleanup = new Cleanup();
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => kill(c)));
    await cleanup.run();
  });

  it('gives the exact aggregates after the restart', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    let s = seed || 1;
    const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // eslint-disable-next-line no-console -- seeds and kill points must be visible to replay a failure
    console.info(`processors + redis crash test seed ${seed}`);
    const kafka = testKafka();
    const own = await OwnRedis.start();
    cleanup.add(() => own.destroy());
    const redis = new Redis(own.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined); // refused while Redis is down: expected here
    cleanup.add(() => redis.disconnect());
    const name = uniqueName('crr').toLowerCase();
    const t = {
      lighting: await createTestTopic('crr-lighting', { partitions: 6 }),
      traffic: await createTestTopic('crr-traffic', { partitions: 6 }),
      lightingOut: await createTestTopic('crr-agg-lighting', { partitions: 3 }),
      trafficOut: await createTestTopic('crr-agg-traffic', { partitions: 3 }),
      dlq: await createTestTopic('crr-dlq'),
      late: await createTestTopic('crr-late'),
    };
    cleanup.add(() => deleteTopics(Object.values(t)));
    cleanup.add(() => deleteGroups(PROCESSORS.map((p) => `${name}.${p}`)));
    const env = {
      KAFKA_BROKERS: testEndpoints().kafkaBrokers.join(','),
      REDIS_URL: own.url,
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
    const { unique, produceOrder } = buildStream(seed, 6, 30);
    // Records stream in while the processors work: 30 slices, one every 150 ms.
    const producer = createBatchingProducer(kafka);
    await producer.connect();
    cleanup.add(() => producer.disconnect());
    let produced = 0;
    const slice = Math.ceil(produceOrder.length / 30);
    const produceSlice = async () => {
      const part = produceOrder.slice(produced, produced + slice);
      await Promise.all(
        part.map((r: FixtureRecord) =>
          producer.send(r.topic === 'tel.s1.lighting.v1' ? t.lighting : t.traffic, {
            key: r.key,
            value: JSON.stringify(r.value),
          }),
        ),
      );
      produced += part.length;
    };
    await produceSlice();
    const producing = (async () => {
      while (produced < produceOrder.length) {
        await new Promise((r) => setTimeout(r, 150));
        await produceSlice();
      }
    })();
    const total = produceOrder.length;
    const physical = (logical: string) => (logical.startsWith('tel.s1.lighting') ? t.lighting : t.traffic);

    /** Offsets stored with the state, by `<processor>/<physical topic>:<partition>`. */
    const stored = async () => {
      const out = new Map<string, bigint>();
      for (const p of PROCESSORS)
        for (const [tp, o] of Object.entries(await redis.hgetall(`${name}:{${p}}:offset`))) {
          const i = tp.lastIndexOf(':');
          out.set(`${p}/${physical(tp.slice(0, i))}:${tp.slice(i + 1)}`, BigInt(o));
        }
      return out;
    };
    const applied = async () => [...(await stored()).values()].reduce((n, o) => n + Number(o) + 1, 0);
    const admin = kafka.admin();
    await admin.connect();
    cleanup.add(() => admin.disconnect());
    const committed = async () => {
      const out = new Map<string, bigint>();
      for (const p of PROCESSORS)
        for (const topic of await admin.fetchOffsets({
          groupId: `${name}.${p}`,
          topics: [t.lighting, t.traffic],
        }))
          for (const part of topic.partitions)
            out.set(`${p}/${topic.topic}:${part.partition}`, BigInt(part.offset));
      return out;
    };

    let child = spawnProcessors(env);
    children.push(child);
    // The point the disk is assumed synced to: the AOF's size, then (a moment later, so at least as
    // far) the offsets Redis holds.
    const cutAt = Math.floor(total * (0.1 + rand() * 0.25));
    await waitFor(async () => (await applied()) >= cutAt, {
      timeoutMs: 60_000,
      intervalMs: 20,
      message: 'progress',
    });
    const size = await own.aofSize();
    const atCut = await stored();
    // Kafka's committed offsets pass the cut point on some partition: the cut loses state whose
    // offsets Kafka has.
    await waitFor(async () => [...(await committed())].some(([k, o]) => o > (atCut.get(k) ?? -1n) + 1n), {
      timeoutMs: 60_000,
      intervalMs: 50,
      message: 'offsets committed past the cut point',
    });
    await new Promise((r) => setTimeout(r, Math.floor(rand() * 300)));
    const before = await applied();
    await Promise.all([kill(child), own.sigkill()]);
    const commits = await committed();
    // eslint-disable-next-line no-console -- kill points must be visible to replay a failure
    console.info(
      `processors + redis crash test: cut at ${cutAt} records applied (AOF ${size} bytes), killed at ${before} of ${total}; ` +
        `partitions whose committed offset is past the cut: ${[...commits].filter(([k, o]) => o > (atCut.get(k) ?? -1n) + 1n).length}`,
    );
    expect(before, 'killed mid-stream').toBeLessThan(total);
    await own.cutAof(size);
    await own.restart();
    const lost = before - (await applied());
    // eslint-disable-next-line no-console -- reported figures
    console.info(`processors + redis crash test: Redis came back ${lost} applied records behind`);
    expect(lost, 'the cut AOF lost applied records').toBeGreaterThan(0);

    child = spawnProcessors(env);
    children.push(child);
    await producing;
    const backlog = async () => {
      let n = 0;
      for (const p of PROCESSORS)
        n +=
          (await redis.zcard(`${name}:{${p}}:open`)) +
          (await redis.scard(`${name}:{${p}}:closing`)) +
          (await redis.scard(`${name}:{${p}}:dirty`));
      return n;
    };
    await waitFor(async () => (await applied()) === total && (await backlog()) === 0, {
      timeoutMs: 90_000,
      intervalMs: 250,
      message: 'all records applied and every window emitted',
    });
    const latest = async (topic: string) => {
      const out = new Map<string, { revision: number; values: Record<string, number | null> }>();
      const seen = new Set<string>();
      let repeated = 0;
      let records = 0;
      for (const r of await readAll(kafka, topic, { timeoutMs: 60_000 })) {
        const v = JSON.parse(r.value!).data;
        records += 1;
        if (seen.has(`${r.key!}|${v.revision}`)) repeated += 1;
        seen.add(`${r.key!}|${v.revision}`);
        const prev = out.get(r.key!);
        if (!prev || v.revision >= prev.revision) out.set(r.key!, { revision: v.revision, values: v.values });
      }
      // eslint-disable-next-line no-console -- duplicates are reported, not hidden
      console.info(
        `${topic}: ${records} results for ${out.size} windows, ${repeated} repeated (same window and revision)`,
      );
      return out;
    };
    const expectEqual = (
      actual: Map<string, { values: Record<string, number | null> }>,
      expected: Map<string, Record<string, number | null>>,
    ) => {
      expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, want] of expected) {
        const got = actual.get(key)!.values;
        for (const [field, value] of Object.entries(want)) {
          if (value === null) expect(got[field], `${key} ${field}`).toBeNull();
          else expect(got[field], `${key} ${field}`).toBeCloseTo(value, 5);
        }
      }
    };
    expectEqual(await latest(t.lightingOut), referenceLighting(unique));
    expectEqual(await latest(t.trafficOut), referenceTraffic15m(unique));
    await kill(child);
  });
});
