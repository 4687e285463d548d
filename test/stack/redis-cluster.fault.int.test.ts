// The stream runtime on a real Redis Cluster (issue 17, item 3): `pnpm stack up --redis-cluster`'s three
// masters (Debian's redis-server in cluster mode, the stack's ACL users), the runtime connected with a
// `redis+cluster://` URL as the `processors` user. Its scripts touch only keys of one hash tag, so each
// runs on one master. Mid-stream, the master that holds the processor's slot is SIGKILLed, stays down a
// random while, and is started again on its AOF (no replicas: that slot range is unavailable meanwhile,
// the other masters keep serving; docs/scale-out.md). The final aggregates must equal the in-memory
// engine's (the harness, same processor, same records) and the sums computed here, exactly.
// A fault test: it kills a node, so it runs alone (vitest project `fault`).
import { readAll } from '@ondijon/kafka';
import { killRedisClusterNode, redisClusterNodeOf, redisClusterUp, redisClusterUrl } from '@ondijon/stack';
import {
  createStreamRedis,
  defineWindowedAggregation,
  noopMetrics,
  runProcessor,
  runProcessors,
  silentStreamLogger,
  lampStream,
  telemetryOf,
  tumbling,
  type StreamLogger,
} from '@ondijon/stream';
import { Partitioners } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
  testKafka,
  uniqueName,
  waitFor,
} from '../setup/index';

const base = Date.UTC(2025, 0, 15, 0, 0);
const HOURS = 6;
const LAMPS = 30;
const EVERY_MIN = 2;

/** Energy per commune and hour, with one entry per luminaire in the window's state (as the lighting processor). */
const perLampEnergy = (name: string) =>
  defineWindowedAggregation({
    name,
    version: '1.0.0',
    inputs: ['tel.s1.lighting.v1'],
    output: 'agg.s1.lighting-commune-hour.v1',
    window: tumbling('1h'),
    graceMs: 5 * 60_000,
    late: 'revise',
    key: (r) => ({ commune: r.value.commune! }),
    init: (): { lum: Record<string, number> } => ({ lum: {} }),
    add: (acc, r) => {
      const id = r.value.subject ?? r.value.source;
      acc.lum[id] = (acc.lum[id] ?? 0) + (telemetryOf(r.value, 'streetlight')?.energyWh ?? 0);
      return acc;
    },
    result: (acc) => ({
      energyKwh: Object.values(acc.lum).reduce((a, b) => a + b, 0) / 1000,
      burningHours: 0,
      luminairesReporting: Object.keys(acc.lum).length,
      cabinetsReporting: 0,
      faultsLamp: 0,
      faultsDriver: 0,
      faultsCommunication: 0,
      dimmedShare: null,
    }),
  });

function records() {
  // Integer watt-hours: exact sums.
  return lampStream({
    start: base,
    hours: HOURS,
    lamps: LAMPS,
    everyMin: EVERY_MIN,
    communes: ['21231', '21166', '21054'],
  });
}

interface Latest {
  revision: number;
  wh: number;
  n: number;
  lamps: number;
}

function latestOf(values: unknown[]): Map<string, Latest> {
  const out = new Map<string, Latest>();
  for (const raw of values) {
    const v = raw as {
      data: {
        revision: number;
        group: { commune: string };
        windowStart: string;
        values: { energyKwh: number; luminairesReporting: number };
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
        lamps: v.data.values.luminairesReporting,
      });
  }
  return out;
}

describe('stream runtime on a 3-master Redis Cluster', () => {
  const cleanup = new Cleanup();
  afterAll(() => cleanup.run(), 60_000);

  it('gives the exact aggregates with the master of its slot SIGKILLed mid-stream and restarted', async () => {
    await redisClusterUp();
    const seed = Number(process.env.REDIS_CLUSTER_SEED ?? Date.now() % 100_000);
    let s = seed;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 31;
    };
    const kafka = testKafka();
    const name = uniqueName('rcl')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const keyPrefix = `processors:test:${name}:`;
    const processor = perLampEnergy(name);
    // The processors' own user, as the service connects: the runtime's commands and key prefix only.
    const redis = createStreamRedis(redisClusterUrl('processors'), {
      maxRetriesPerRequest: 3,
      commandTimeout: 2_000,
    });
    redis.on('error', () => undefined); // the killed master refuses connections for a while: expected here
    cleanup.add(() => redis.disconnect());
    const input = await createTestTopic('rcl-in', { partitions: 4 });
    const output = await createTestTopic('rcl-out', { partitions: 2 });
    const dlq = await createTestTopic('rcl-dlq');
    const late = await createTestTopic('rcl-late');
    cleanup.add(() => deleteTopics([input, output, dlq, late]));
    cleanup.add(() => deleteGroups([`${name}.${name}`]));
    const { expected, values } = records();
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
    const runtime = await runProcessors([processor], {
      kafka,
      redis,
      groupId: name,
      logger,
      keyPrefix,
      maxChunk: 100,
      idleFlushMs: 2_000,
      emitIntervalMs: 200,
      topicOverrides: {
        'tel.s1.lighting.v1': input,
        'agg.s1.lighting-commune-hour.v1': output,
        'dlq.s3.stream.v1': dlq,
        'late.s2.stream.v1': late,
      },
      metrics: { ...noopMetrics, processed: (_p, _t, n) => void (processed += n) },
    });
    cleanup.add(() => runtime.close());

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    cleanup.add(() => producer.disconnect());
    const producing = (async () => {
      for (let j = 0; j < total; j += 200) {
        await producer.sendBatch({
          acks: -1,
          topicMessages: [
            { topic: input, messages: values.slice(j, j + 200).map(({ key, value }) => ({ key, value })) },
          ],
        });
        await new Promise((r) => setTimeout(r, 60));
      }
    })();

    // The master that holds every key of this processor (one hash tag), killed once a share of the
    // records is applied, down for a random while.
    const port = await redisClusterNodeOf(`${keyPrefix}{${name}}:offset`);
    const killAt = Math.floor(total * (0.2 + rand() * 0.4));
    await waitFor(async () => (processed >= killAt ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 20,
      message: 'records applied before the kill',
    });
    killRedisClusterNode(port);
    const killedAt = processed;
    const downMs = 1_000 + Math.floor(rand() * 4_000);
    await new Promise((r) => setTimeout(r, downMs));
    await redisClusterUp();
    // eslint-disable-next-line no-console -- the seed and kill point must be visible to replay a failure
    console.info(
      `redis cluster test: seed ${seed}, master ${port} SIGKILLed after ${killedAt} of ${total} records applied, down ${downMs} ms`,
    );
    expect(killedAt, 'killed mid-stream').toBeLessThan(total);
    await producing;

    // Reference: the in-memory engine over the same records.
    const reference = runProcessor(
      processor,
      values.map((v) => ({ topic: 'tel.s1.lighting.v1', key: v.key, value: v.envelope })),
    );
    const fromHarness = latestOf([...reference.latest.values()]);
    expect(fromHarness.size).toBe(expected.size);
    for (const [k, e] of expected) expect(fromHarness.get(k)).toMatchObject({ wh: e.wh, n: e.n });

    const final = await waitFor(
      async () => {
        if (processed < total) return undefined;
        const b = await runtime.backlog().catch(() => undefined);
        if (!b || b.open + b.closing + b.dirty > 0) return undefined;
        const got = latestOf((await readAll(kafka, output)).map((r) => JSON.parse(r.value!) as unknown));
        if (got.size !== expected.size) return undefined;
        for (const [k, e] of expected) {
          const g = got.get(k);
          if (!g || g.wh !== e.wh || g.n !== e.n) return undefined;
        }
        return got;
      },
      { timeoutMs: 180_000, intervalMs: 1_000, message: 'final aggregates equal to the reference' },
    ).catch(async (err: unknown) => {
      const got = latestOf((await readAll(kafka, output)).map((r) => JSON.parse(r.value!) as unknown));
      const differs = [...expected]
        .filter(([k, e]) => got.get(k)?.wh !== e.wh || got.get(k)?.n !== e.n)
        .map(([k, e]) => `${k}: expected ${e.wh} Wh from ${e.n} records, got ${JSON.stringify(got.get(k))}`);
      throw new Error(`${String(err)} (processed ${processed} of ${total})\n${differs.join('\n')}`);
    });
    for (const [k, h] of fromHarness)
      expect(final.get(k), k).toMatchObject({ wh: h.wh, n: h.n, lamps: h.lamps });
    // eslint-disable-next-line no-console -- reported figures
    console.info(`redis cluster test: runtime warnings ${JSON.stringify([...new Set(warnings)])}`);
    await runtime.close();
  });
});
