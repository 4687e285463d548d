// Shared by the scale-out tests (issue 17, item 1): input days, a reference publisher, the open data of
// a store in a comparable form, the group's Redis state, and `scaleFixture()`, the set-up they share.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMUNE_CODES } from '@ondijon/contracts';
import { openStoreReader, verifyReleaseFolder, type Row, type StoreBackend } from '@ondijon/opendata';
import { createMetricsRegistry, silentLogger } from '@ondijon/service-kit';
import {
  type Cleanup,
  createTestTopic,
  deleteGroups,
  deleteRedisKeys,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { buildApp, type PublisherApp, type PublisherDeps } from '../src/app';
import { loadPublisherConfig } from '../src/config';
import type { StagedAggregate } from '../src/release';
import { lightingDay, winterAgg } from './helpers';
import { produce } from './int-helpers';

export const LIGHTING = 'lighting-commune-hour';
export const WINTER = 'winter-commune-day';
/** Columns with drawn noise (and the margins summed from them): equal only in status between two runs. */
const NOISED_COLUMNS = new Set(['vehicles_active']);

function shift(aggs: StagedAggregate[], d: number, dataset: string, group: (a: StagedAggregate) => string) {
  const ms = d * 86_400_000;
  const move = (iso: string) => new Date(new Date(iso).getTime() + ms).toISOString();
  return aggs.map((a) => {
    const windowStart = move(a.data.windowStart);
    return {
      ...a,
      key: `${dataset}|${group(a)}|${windowStart}`,
      data: { ...a.data, windowStart, windowEnd: move(a.data.windowEnd) },
    };
  });
}

/** The lighting day of helpers.ts, `d` days later, with night energy growing with d. */
export function lightingDayShifted(d: number): StagedAggregate[] {
  return shift(lightingDay(), d, LIGHTING, (a) => String(a.data.group.commune)).map((a) => {
    const energy = a.data.values.energyKwh as number;
    return {
      ...a,
      data: { ...a.data, values: { ...a.data.values, energyKwh: energy === 0 ? 0 : energy + d } },
    };
  });
}

/** The winter day of publisher.int.test.ts (21003 below threshold, 21106 dominated), `d` days later. */
export function winterDayShifted(d: number): StagedAggregate[] {
  const day = COMMUNE_CODES.map((c) =>
    winterAgg(c, c === '21003' ? { persons: 4 } : c === '21106' ? { top1Share: 0.95 } : { saltKg: 1000 + d }),
  );
  return shift(day, d, WINTER, (a) => String(a.data.group.commune));
}

/** Environment of a publisher of the scale-out tests (own topics, no publication delay, fast ticks). */
export function publisherEnv(o: {
  brokers: string[];
  store: string;
  groupId: string;
  lightingTopic: string;
  winterTopic: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    KAFKA_BROKERS: o.brokers.join(','),
    PUBLISHER_PORT: '0',
    OPENDATA_DIR: o.store,
    PUBLISHER_GROUP_ID: o.groupId,
    PUBLISHER_SOURCE_TOPICS: `${WINTER}=${o.winterTopic},${LIGHTING}=${o.lightingTopic}`,
    PUBLISHER_DATASETS: `${WINTER},${LIGHTING}`,
    PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS: '0',
    PUBLISHER_TICK_MS: '200',
    ...o.extra,
  };
}

/** A started in-process publisher and the records it consumed. */
export interface InProcessPublisher {
  app: PublisherApp;
  consumed: () => Promise<number>;
}

/** An in-process publisher with its own metrics (started). */
export async function startInProcess(
  env: Record<string, string>,
  deps: Partial<Pick<PublisherDeps, 'onStoreStep'>> = {},
): Promise<InProcessPublisher> {
  const registry = createMetricsRegistry('publisher');
  const app = buildApp(loadPublisherConfig(env), { log: silentLogger(), registry, ...deps });
  await app.start();
  return {
    app,
    consumed: async () => {
      const metric = await registry.getSingleMetric('ondijon_publisher_records_total')!.get();
      return metric.values.reduce((s, v) => s + v.value, 0);
    },
  };
}

/**
 * The open data of a store by dataset and period: every release's rows (noised columns blanked, their
 * status kept), and how many releases each period has.
 */
export async function openData(
  store: string | StoreBackend,
): Promise<Map<string, { releases: number; rows: Row[] }>> {
  const reader = openStoreReader(store);
  const out = new Map<string, { releases: number; rows: Row[] }>();
  for (const dataset of [LIGHTING, WINTER]) {
    for (const rel of await reader.releases(dataset).catch(() => [])) {
      const k = `${dataset} ${rel.period.start}`;
      const { rows } = await reader.rows(dataset, rel.releaseId);
      const blanked = rows.map((r) =>
        Object.fromEntries(Object.entries(r).map(([c, v]) => [c, NOISED_COLUMNS.has(c) ? '(noised)' : v])),
      );
      out.set(k, { releases: (out.get(k)?.releases ?? 0) + 1, rows: blanked });
    }
  }
  return out;
}

/** Periods released in a store (dataset and period start), sorted. */
export async function releasedPeriods(store: string | StoreBackend): Promise<string[]> {
  return [...(await openData(store)).keys()].sort();
}

/** Waits until the group has `n` members with partitions assigned (a stable group). */
export async function groupMembers(kafka: Kafka, groupId: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const g = groups[0];
    return g?.state === 'Stable' ? g.members.filter((m) => m.memberAssignment.length > 0).length : 0;
  } finally {
    await admin.disconnect();
  }
}

/** What the scale-out tests share: topics, a group, a reference publisher, stores and the checks. */
export interface ScaleFixture {
  kafka: Kafka;
  /** Admin client of the test Redis. */
  redis: Redis;
  lightingTopic: string;
  winterTopic: string;
  /** Consumer group of the instances under test. */
  groupId: string;
  /** Their Redis key prefix, `publisher:{<group>}:`. */
  prefix: string;
  /** A fresh folder for the group's store (tests writing S3 ignore it). */
  store: string;
  /** Store of the reference: one instance, folder state, same topics, own group (already started). */
  refStore: string;
  ref: InProcessPublisher;
  /** Environment of one instance of the group, its state in Redis; `extra` overrides. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Produces day `d` of both datasets (one request per topic). */
  produceDay(d: number): Promise<void>;
  /** Waits until `store` holds every period of `days` days of both datasets, and the reference too. */
  waitForAllReleased(store: string | StoreBackend, days: number, timeoutMs?: number): Promise<void>;
  /** The open data of `store` equals the reference's, each period released exactly once. */
  expectSameAsReference(store: string | StoreBackend): Promise<void>;
  /** The ε ledger in Redis and the public register of `store`: one spend of 0.5 per winter day. */
  expectOneSpendPerDay(store: string | StoreBackend, days: number): Promise<void>;
}

/** Options of `scaleFixture`. */
export interface ScaleFixtureOptions {
  /** Names topics, groups and folders. */
  name: string;
  partitions: number;
  sessionTimeoutMs: number;
  leaseMs: number;
}

/**
 * Sets up a scale-out test: two 'partitions'-partition topics, a group id and its Redis prefix, temp
 * folders, and the reference publisher (started); everything is removed by `cleanup`.
 */
export async function scaleFixture(cleanup: Cleanup, o: ScaleFixtureOptions): Promise<ScaleFixture> {
  const kafka = testKafka();
  const redis = new Redis(testEndpoints().redisUrl);
  cleanup.add(() => redis.quit());
  const lightingTopic = await createTestTopic(`${o.name}-lighting`, { partitions: o.partitions });
  const winterTopic = await createTestTopic(`${o.name}-winter`, { partitions: o.partitions });
  const groupId = uniqueName(o.name);
  const refGroup = uniqueName(`${o.name}-ref`);
  const prefix = `publisher:{${groupId}}:`;
  cleanup.add(() => deleteTopics([lightingTopic, winterTopic]));
  cleanup.add(() => deleteGroups([groupId, refGroup]));
  cleanup.add(() => deleteRedisKeys(redis, prefix));
  const dir = async (d: string) => {
    const path = await mkdtemp(join(tmpdir(), `${o.name}-${d}-`));
    cleanup.add(() => rm(path, { recursive: true, force: true }));
    return path;
  };
  const [store, refStore, refState] = [await dir('store'), await dir('ref-store'), await dir('ref-state')];
  const common = { brokers: testEndpoints().kafkaBrokers, lightingTopic, winterTopic };
  const ref = await startInProcess(
    publisherEnv({ ...common, store: refStore, groupId: refGroup, extra: { PUBLISHER_STATE_DIR: refState } }),
  );
  cleanup.add(() => ref.app.close());
  const expected = (days: number) => days * 2;
  return {
    kafka,
    redis,
    lightingTopic,
    winterTopic,
    groupId,
    prefix,
    store,
    refStore,
    ref,
    env: (extra = {}) =>
      publisherEnv({
        ...common,
        store,
        groupId,
        extra: {
          PUBLISHER_STATE_STORE: 'redis',
          REDIS_URL: testEndpoints().redisUrl,
          PUBLISHER_SESSION_TIMEOUT_MS: String(o.sessionTimeoutMs),
          PUBLISHER_LEASE_MS: String(o.leaseMs),
          ...extra,
        },
      }),
    async produceDay(d) {
      await produce(kafka, lightingTopic, lightingDayShifted(d), LIGHTING);
      await produce(kafka, winterTopic, winterDayShifted(d), WINTER);
    },
    async waitForAllReleased(s, days, timeoutMs = 150_000) {
      await waitFor(async () => (await releasedPeriods(refStore)).length === expected(days), {
        timeoutMs,
        message: 'reference released every day',
      });
      await waitFor(async () => (await releasedPeriods(s)).length === expected(days), {
        timeoutMs,
        message: 'the group released every day',
      });
    },
    async expectSameAsReference(s) {
      // Imported here: benchmarks use the rest of this module outside vitest.
      const { expect } = await import('vitest');
      await ref.app.core.idle();
      const reference = await openData(refStore);
      const got = await openData(s);
      expect([...got.keys()].sort()).toEqual([...reference.keys()].sort());
      for (const [k, r] of reference) {
        expect(got.get(k)!.releases, `${k}: releases`).toBe(1);
        expect(r.releases, `${k}: reference releases`).toBe(1);
        expect(got.get(k)!.rows, k).toEqual(r.rows);
      }
      // Every release the catalogue names is whole (its files match the checksums of its notes).
      const { catalog } = await openStoreReader(s).catalog();
      const notWhole: string[] = [];
      for (const d of Object.values(catalog.datasets))
        for (const r of d.releases) if (!(await verifyReleaseFolder(s, r.path))) notWhole.push(r.path);
      expect(notWhole).toEqual([]);
    },
    async expectOneSpendPerDay(s, days) {
      const { expect } = await import('vitest');
      const ledger = await redis.hgetall(`${prefix}ledger:${WINTER}`);
      const spentDays = Object.keys(ledger).sort();
      expect(spentDays).toHaveLength(days);
      for (const day of spentDays) {
        expect(Number(ledger[day]), `ledger ${day}`).toBeCloseTo(0.5);
        expect(
          Object.keys(await redis.hgetall(`${prefix}spends:${WINTER}|${day}`)),
          `spends ${day}`,
        ).toHaveLength(1);
      }
      const register = (await openStoreReader(s).register('privacy-budget')) as {
        datasets: Record<string, { spentByDay: Record<string, number> }>;
      };
      expect(register.datasets[WINTER]!.spentByDay).toEqual(
        Object.fromEntries(spentDays.map((d) => [d, 0.5])),
      );
    },
  };
}
