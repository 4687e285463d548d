// Shared by the scale-out tests (issue 17, item 1): input days, a reference publisher, the open data of
// a store in a comparable form, the group's Redis state.
import { COMMUNE_CODES } from '@ondijon/contracts';
import { openStoreReader, type Row, type StoreBackend } from '@ondijon/opendata';
import { createMetricsRegistry, silentLogger } from '@ondijon/service-kit';
import type { Kafka } from 'kafkajs';
import { buildApp, type PublisherApp } from '../src/app';
import { loadPublisherConfig } from '../src/config';
import type { StagedAggregate } from '../src/release';
import { lightingDay, winterAgg } from './helpers';

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

/** An in-process publisher with its own metrics (started). */
export async function startInProcess(env: Record<string, string>): Promise<{
  app: PublisherApp;
  consumed: () => Promise<number>;
}> {
  const registry = createMetricsRegistry('publisher');
  const app = buildApp(loadPublisherConfig(env), { log: silentLogger(), registry });
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
