import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMUNE_CODES } from '@ondijon/contracts';
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
import { openStoreReader, type Row } from '@ondijon/opendata';
import { createMetricsRegistry, silentLogger } from '@ondijon/service-kit';
import { buildApp, type PublisherApp } from '../src/app';
import { loadPublisherConfig } from '../src/config';
import { DAY, lightingDay, winterAgg } from './helpers';
import { catalogProblems, produce, readTree } from './int-helpers';

const cleanup = new Cleanup();
let store: string;
let winterTopic: string;
let lightingTopic: string;
let app: PublisherApp;
const registry = createMetricsRegistry('publisher');
/** Records consumed so far with an outcome (from the publisher's own metric). */
async function consumed(outcome: string): Promise<number> {
  const metric = await registry.getSingleMetric('ondijon_publisher_records_total')!.get();
  return metric.values.filter((v) => v.labels.outcome === outcome).reduce((s, v) => s + v.value, 0);
}
const kafka = testKafka();
const ADMIN_TOKEN = `token-${uniqueName('admin')}`;

// Commune 21003 has too few persons; 21106 is dominated by one vehicle.
const winterInput = () =>
  COMMUNE_CODES.map((c) =>
    winterAgg(c, c === '21003' ? { persons: 4 } : c === '21106' ? { top1Share: 0.95 } : {}),
  );

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'publisher-store-'));
  const state = await mkdtemp(join(tmpdir(), 'publisher-state-'));
  cleanup.add(() => rm(store, { recursive: true, force: true }));
  cleanup.add(() => rm(state, { recursive: true, force: true }));
  winterTopic = await createTestTopic('pub-winter', { partitions: 3 });
  lightingTopic = await createTestTopic('pub-lighting', { partitions: 3 });
  const groupId = uniqueName('publisher');
  cleanup.add(() => deleteTopics([winterTopic, lightingTopic]));
  cleanup.add(() => deleteGroups([groupId]));
  const config = loadPublisherConfig({
    KAFKA_BROKERS: testEndpoints().kafkaBrokers.join(','),
    PUBLISHER_PORT: '0',
    OPENDATA_DIR: store,
    PUBLISHER_STATE_DIR: state,
    PUBLISHER_GROUP_ID: groupId,
    PUBLISHER_SOURCE_TOPICS: `winter-commune-day=${winterTopic},lighting-commune-hour=${lightingTopic}`,
    PUBLISHER_DATASETS: 'winter-commune-day,lighting-commune-hour',
    PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS: '0',
    PUBLISHER_TICK_MS: '200',
    PUBLISHER_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  app = buildApp(config, { log: silentLogger(), registry });
  await app.start();
  cleanup.add(() => app.close());
  await produce(kafka, winterTopic, winterInput(), 'winter-commune-day');
  await produce(kafka, lightingTopic, lightingDay(), 'lighting-commune-hour');
});

afterAll(() => cleanup.run());

const rowsOf = async (datasetId: string, releaseId?: string) =>
  (await openStoreReader(store).rows(datasetId, releaseId)).rows;
const communeRow = (rows: Row[], c: string) =>
  rows.find((r) => r.level === 'commune' && r.area_id === c && r.resolution === 'P1D')!;

describe('publisher with Kafka', () => {
  it('releases the lighting day with cells matching the input', async () => {
    const rel = await waitFor(
      async () => (await openStoreReader(store).releases('lighting-commune-hour'))[0],
      { timeoutMs: 60_000, message: 'lighting release' },
    );
    expect(rel.period.start).toBe('2026-01-09T23:00:00Z');
    const rows = await rowsOf('lighting-commune-hour');
    const input = lightingDay();
    for (const agg of input) {
      const r = rows.find(
        (x) =>
          x.level === 'commune' &&
          x.area_id === agg.data.group.commune &&
          x.resolution === 'PT1H' &&
          x.period_start === agg.data.windowStart.replace('.000Z', 'Z'),
      )!;
      expect(r.energy_kwh).toBe(agg.data.values.energyKwh);
      expect(r.faults_lamp).toBe(agg.data.values.faultsLamp);
    }
    expect(rows.filter((r) => r.status === 'missing')).toHaveLength(0);
  });

  it('never shows a person-derived cell below threshold, and the margins do not reveal it', async () => {
    await waitFor(async () => (await openStoreReader(store).releases('winter-commune-day'))[0], {
      timeoutMs: 60_000,
      message: 'winter release',
    });
    const rows = await rowsOf('winter-commune-day');
    const input = new Map(winterInput().map((a) => [String(a.data.group.commune), a]));
    for (const r of rows.filter(
      (x) => x.level === 'commune' && x.status !== 'suppressed' && x.status !== 'missing',
    )) {
      expect(input.get(String(r.area_id))!.data.contributors.persons).toBeGreaterThanOrEqual(11);
    }
    expect(communeRow(rows, '21003').status).toBe('suppressed');
    expect(communeRow(rows, '21106').status).toBe('suppressed');
    // Attack: Métropole total − published communes = the suppressed cells' sum, never one of them.
    const metro = rows.find((r) => r.level === 'metropole')!;
    for (const field of ['salt_kg', 'km_salting', 'km_patrol'] as const) {
      const residual =
        (metro[field] as number) -
        rows
          .filter((r) => r.level === 'commune' && r.status !== 'suppressed')
          .reduce((s, r) => s + (r[field] as number), 0);
      expect(residual).toBeGreaterThan(0);
      const suppressed = rows.filter((r) => r.level === 'commune' && r.status === 'suppressed');
      expect(suppressed.length).toBeGreaterThanOrEqual(2);
    }
    const notes = await openStoreReader(store).releaseNotes(
      'winter-commune-day',
      (await openStoreReader(store).releases('winter-commune-day'))[0]!.releaseId,
    );
    expect(notes.budget.epsilon).toBe(0.5);
    expect(notes.lineage.outputSensitivity).toBe('S0');
    expect(notes.lineage.maxInputSensitivity).toBe('S2');
  });

  it('an identical re-emission changes nothing; late data makes a new version whose diff reveals no suppressed cell', async () => {
    const reader = openStoreReader(store);
    const before = await reader.releases('winter-commune-day');
    expect(before).toHaveLength(1);
    const unchangedBefore = await consumed('unchanged');
    await produce(kafka, winterTopic, winterInput(), 'winter-commune-day');
    await waitFor(async () => (await consumed('unchanged')) >= unchangedBefore + 23, {
      message: 're-emission consumed',
    });
    // Nothing is pending: even on demand, no new release.
    expect(
      (await app.publishNow({ datasetId: 'winter-commune-day' })).filter((o) => o.outcome === 'released'),
    ).toEqual([]);
    expect(await reader.releases('winter-commune-day')).toHaveLength(1);

    // Late data revises a published commune.
    const late = winterAgg('21231', { revision: 1, saltKg: 9000 });
    await produce(kafka, winterTopic, [late], 'winter-commune-day');
    const v2 = await waitFor(async () => (await reader.releases('winter-commune-day'))[1], {
      timeoutMs: 60_000,
      message: 'revision release',
    });
    const v1 = before[0]!;
    const r1 = await rowsOf('winter-commune-day', v1.releaseId);
    const r2 = await rowsOf('winter-commune-day', v2.releaseId);
    expect(communeRow(r2, '21231').salt_kg).toBe(9000);
    // Stability: suppressed once, suppressed in the revision.
    for (const r of r1.filter((x) => x.status === 'suppressed'))
      expect(communeRow(r2, String(r.area_id)).status).toBe('suppressed');
    // Differencing attack: cells unchanged between versions are known from either; the suppressed cells
    // of both versions still only appear as one sum per release.
    const unknownIn = (rows: Row[]) =>
      rows.filter((x) => x.level === 'commune' && x.status === 'suppressed').map((x) => String(x.area_id));
    const knownAnywhere = new Set(
      [...r1, ...r2]
        .filter((x) => x.level === 'commune' && x.status !== 'suppressed')
        .map((x) => `${String(x.area_id)}@${String(x.revision)}`),
    );
    for (const rows of [r1, r2]) {
      const unknown = unknownIn(rows).filter(
        (c) => !knownAnywhere.has(`${c}@${String(communeRow(rows, c).revision)}`),
      );
      expect(unknown.length).toBeGreaterThanOrEqual(2);
    }
    const notes2 = await reader.releaseNotes('winter-commune-day', v2.releaseId);
    expect(notes2.supersedes).toBe(v1.releaseId);
    expect(notes2.budget.cumulativeEpsilon).toBeCloseTo(1.0);
    // Noised counts of unchanged communes are reused, never redrawn.
    expect(communeRow(r2, '21278').vehicles_active).toBe(communeRow(r1, '21278').vehicles_active);
  });

  it('the whole store holds no S3/S4 field and no pseudonym, and the catalogue names only whole releases', async () => {
    const files = await readTree(store);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      expect(f.text.includes('psd:'), f.path).toBe(false);
      expect(/agent_?id/i.test(f.text), f.path).toBe(false);
    }
    expect(await catalogProblems(store)).toEqual([]);
    const budget = (await openStoreReader(store).register('privacy-budget')) as {
      datasets: Record<string, { spentByDay: Record<string, number> }>;
    };
    expect(budget.datasets['winter-commune-day']!.spentByDay[DAY]).toBeCloseTo(1.0);
    expect(await openStoreReader(store).register('data-uses')).toBeTruthy();
  });
});

describe('POST /publish-now (an admin endpoint)', () => {
  const call = (authorization?: string) =>
    fetch(`http://127.0.0.1:${app.adminPort}/publish-now?dataset=lighting-commune-hour`, {
      method: 'POST',
      headers: authorization === undefined ? {} : { authorization },
    });

  it('refuses a call without the bearer token, or with a wrong one, with 401 and changes nothing', async () => {
    const before = await openStoreReader(store).releases('lighting-commune-hour');
    for (const auth of [undefined, 'Bearer wrong', `Basic ${ADMIN_TOKEN}`, ADMIN_TOKEN]) {
      const res = await call(auth);
      expect(res.status, String(auth)).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('ONDIJON_UNAUTHORIZED');
    }
    expect(await openStoreReader(store).releases('lighting-commune-hour')).toEqual(before);
  });

  it('accepts the bearer token', async () => {
    const res = await call(`Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(200);
    expect(Array.isArray(((await res.json()) as { outcomes: unknown[] }).outcomes)).toBe(true);
  });

  it('keeps the probes open: /healthz needs no token', async () => {
    expect((await fetch(`http://127.0.0.1:${app.port}/healthz`)).status).toBe(200);
  });
});
