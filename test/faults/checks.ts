/**
 * The end checks of the pipeline fault tests (kafka-node-kill, scale-out-kill): what the independent
 * clients counted (acknowledged ⊆ stored, duplicates counted), the aggregates' latest revisions against the
 * independent reference (test/reference), and the open data (whole releases, released values equal to the
 * reference).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { topicList, type TopicName } from '@ondijon/contracts';
import { physical, type PipelinePlan } from '@ondijon/devstack';
import { readAll } from '@ondijon/kafka';
import { Catalog, verifyReleaseFolder } from '@ondijon/opendata';
import { testKafka, uniqueName, waitFor } from '../setup/index';
import type { Reference } from '../reference/reference';
import { cellKey } from '../reference/reference';
import { catalogReleases, fetchReleaseRows, latestPerPeriod, rowDiffs, rowKey } from '../e2e/open-data';
import { independentIds } from '@ondijon/test-kit';

/** The run's telemetry topics and ingest dead letters: where an acknowledged message must be. */
export const storedTopics = (plan: Pick<PipelinePlan, 'topicPrefix'>): string[] =>
  topicList
    .filter((t) => t.area === 'tel' || t.area === 'pii' || t.name === 'dlq.s3.ingest.v1')
    .map((t) => physical(plan, t.name as TopicName));

/** What confluent-kafka read back for the acknowledged ids. */
export interface StoredCount {
  acknowledged: number;
  records: number;
  deadLetters: number;
  distinct: number;
  duplicates: number;
  lost: string[];
}

/**
 * Reads the run's telemetry and dead letters with confluent-kafka until every acknowledged id is there (or
 * 90 s passed), and counts: records, dead letters, distinct ids, duplicates (stored more than once), lost.
 */
export async function countStored(
  plan: Pick<PipelinePlan, 'topicPrefix'>,
  brokers: string[],
  acked: string[],
): Promise<StoredCount> {
  const topics = storedTopics(plan);
  const want = new Set(acked);
  const stored = await waitFor(
    async () => {
      const read = await independentIds(brokers, topics);
      const have = new Set(read.ids);
      return [...want].every((id) => have.has(id)) ? read : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 2_000, message: `${want.size} acknowledged messages in Kafka` },
  ).catch(() => independentIds(brokers, topics));
  const distinct = new Set(stored.ids);
  const deadLetters = stored.byTopic[physical(plan, 'dlq.s3.ingest.v1')]?.records ?? 0;
  return {
    acknowledged: want.size,
    records: stored.records,
    deadLetters,
    distinct: distinct.size,
    duplicates: stored.records - distinct.size,
    lost: [...want].filter((id) => !distinct.has(id)),
  };
}

interface Aggregate {
  group: Record<string, string>;
  windowStart: string;
  revision: number;
  values: Record<string, number | null>;
  inputRecords: number;
}

/**
 * Waits (up to 2 min) until every reference window of `dataset` was emitted with all its input, then lists
 * the differences between the latest revision of each window and the reference (values within 1e-6
 * relative, input counts exactly; missing and unexpected windows). Returns the differences and the
 * number of windows compared.
 */
export async function aggregateDifferences(
  plan: Pick<PipelinePlan, 'topicPrefix'>,
  brokers: string[],
  reference: Reference,
  dataset: string,
  topic: TopicName,
): Promise<{ problems: string[]; windows: number; records: number }> {
  const want = new Map([...reference.cells].filter(([, c]) => c.dataset === dataset));
  const latest = new Map<string, Aggregate>();
  let records = 0;
  await waitFor(
    async () => {
      latest.clear();
      const read = await readAll(testKafka(uniqueName('fault-agg'), brokers), physical(plan, topic), {
        timeoutMs: 60_000,
      });
      records = read.length;
      for (const r of read) {
        const d = (JSON.parse(r.value!) as { data: Aggregate }).data;
        const key = cellKey(dataset, d.group, d.windowStart);
        const prev = latest.get(key);
        if (!prev || prev.revision <= d.revision) latest.set(key, d);
      }
      return [...want].every(([k, c]) => latest.get(k)?.inputRecords === c.inputRecords);
    },
    { timeoutMs: 120_000, intervalMs: 2_000, message: 'every window emitted with all its input' },
  ).catch(() => undefined);
  const problems: string[] = [];
  for (const [key, cell] of want) {
    const got = latest.get(key);
    if (!got) {
      problems.push(`missing ${key}`);
      continue;
    }
    if (got.inputRecords !== cell.inputRecords)
      problems.push(`${key} inputRecords: emitted ${got.inputRecords}, reference ${cell.inputRecords}`);
    for (const [field, v] of Object.entries(cell.values)) {
      const have = got.values[field];
      const same =
        v === null
          ? have === null
          : typeof have === 'number' && Math.abs(have - v) <= 1e-6 * Math.max(1, Math.abs(v));
      if (!same) problems.push(`${key} ${field}: emitted ${String(have)}, reference ${String(v)}`);
    }
  }
  for (const key of latest.keys()) if (!want.has(key)) problems.push(`unexpected ${key}`);
  return { problems, windows: want.size, records };
}

/**
 * Waits (up to 2 min) until the catalogue names a release of `dataset` for `periodStart`; then lists the
 * releases the catalogue names that are not whole, and the differences between every row released as a
 * value (latest release of each period, read through the open-data API) and the reference.
 */
export async function openDataDifferences(
  plan: Pick<PipelinePlan, 'opendataDir'>,
  apiBase: string,
  reference: Reference,
  dataset: string,
  periodStart: string,
): Promise<{ notWhole: string[]; released: string[]; compared: number; releases: number }> {
  await waitFor(
    async () =>
      (await catalogReleases(plan.opendataDir, dataset).catch(() => [])).some(
        (r) => r.period.start === periodStart,
      ),
    { timeoutMs: 120_000, intervalMs: 2_000, message: `the release of ${dataset} for ${periodStart}` },
  );
  const catalog = Catalog.parse(
    JSON.parse(await readFile(path.join(plan.opendataDir, 'catalog.json'), 'utf8')),
  );
  const notWhole: string[] = [];
  let releases = 0;
  for (const [id, d] of Object.entries(catalog.datasets))
    for (const r of d.releases) {
      releases += 1;
      if (!(await verifyReleaseFolder(plan.opendataDir, r.path))) notWhole.push(`${id}/${r.releaseId}`);
    }
  const want = new Map([...reference.cells].filter(([, c]) => c.dataset === dataset));
  const released: string[] = [];
  let compared = 0;
  for (const release of latestPerPeriod(await catalogReleases(plan.opendataDir, dataset))) {
    for (const row of await fetchReleaseRows(apiBase, dataset, release.releaseId)) {
      if (row.is_total === true || row.status !== 'value') continue;
      const key = rowKey(dataset, row);
      const cell = want.get(key);
      if (!cell) released.push(`${key}: released as a value without a reference cell`);
      else {
        compared += 1;
        released.push(...rowDiffs(dataset, row, cell).map((d) => `${key} ${d}`));
      }
    }
  }
  return { notWhole, released, compared, releases };
}
