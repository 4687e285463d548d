import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMUNES, isOnDijonError } from '@ondijon/contracts';
import {
  DatasetMetadata,
  EXAMPLE_METADATA,
  EXAMPLE_SCHEMA,
  ReleaseNotes,
  createStoreWriter,
  exampleNotes,
  exampleRelease,
  exampleRows,
  openStoreReader,
  parseCsv,
  sha256,
} from '../src/index';
import { catalogProblems } from './helpers';

const DATASET = 'eclairage-energie-commune-heure';
const DAY1 = new Date('2026-11-27T00:00:00Z');
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'od-writer-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function expectBlocked(p: Promise<unknown>, message: RegExp) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isOnDijonError(err, 'ONDIJON_RELEASE_BLOCKED'), String(err)).toBe(true);
  expect((err as Error).message).toMatch(message);
}

describe('createStoreWriter / openStoreReader', () => {
  it('writes a release that reads back typed, with notes, metadata and checksums', async () => {
    const w = createStoreWriter(root);
    const info = await w.writeRelease({
      ...exampleRelease(DAY1, 24),
      publishedAt: new Date('2026-11-28T10:00:00Z'),
    });
    expect(info.releaseId).toBe('2026-11-28T10-00-00Z-r1');
    const reader = openStoreReader(root);
    const { rows, schema } = await reader.rows(DATASET);
    expect(rows).toHaveLength(24 * 23);
    expect(schema.fields.map((f) => f.name)).toEqual([...EXAMPLE_SCHEMA.fields.map((f) => f.name), 'status']);
    expect(rows[0]).toMatchObject({
      commune: '21003',
      period_start: '2026-11-27T00:00:00Z',
      energy_kwh: 13.7,
      status: 'value',
    });
    for (const r of rows)
      if (r.status === 'suppressed' || r.status === 'missing')
        expect([r.energy_kwh, r.faults]).toEqual([null, null]);

    const notes = ReleaseNotes.parse(
      JSON.parse(readFileSync(join(root, info.path, 'release-notes.json'), 'utf8')),
    );
    const suppressedRows = rows.filter((r) => r.status === 'suppressed').length;
    expect(suppressedRows).toBeGreaterThan(0);
    expect(notes.suppressedCells).toBe(suppressedRows * 2);
    expect(notes.statusCounts.suppressed).toBe(suppressedRows);
    expect(notes).toMatchObject({ policyRevision: 'policy-2026.1', period: { start: DAY1.toISOString() } });
    for (const f of notes.files)
      expect(sha256(readFileSync(join(root, info.path, f.name))), f.name).toBe(f.sha256);
    expect(readFileSync(join(root, info.path, 'release-notes.md'), 'utf8')).toContain(notes.files[0]!.sha256);

    const meta = DatasetMetadata.parse(await reader.dataset(DATASET));
    expect(meta.licence.uri).toBe('https://www.etalab.gouv.fr/licence-ouverte-open-licence/');
    expect(meta.publisher.siren).toBe('242100410');
    expect(meta.spatial).toHaveLength(23);
    expect(meta.spatialNote).toMatch(/approximate/);
    expect(meta.temporal).toEqual({ start: DAY1.toISOString(), end: '2026-11-28T00:00:00.000Z' });
    expect(await catalogProblems(root)).toEqual([]);
  });

  it('writes valid RFC 4180 CSV: header, same cell count, CRLF, ISO 8601 datetimes with offset', async () => {
    const info = await createStoreWriter(root).writeRelease(exampleRelease(DAY1, 3));
    const text = readFileSync(join(root, info.path, 'data.csv'), 'utf8');
    expect(text.charCodeAt(0)).not.toBe(0xfeff);
    expect(text.split('\r\n').at(-1)).toBe('');
    const records = parseCsv(text);
    expect(records[0]).toEqual([
      'commune',
      'commune_name',
      'period_start',
      'period_end',
      'energy_kwh',
      'faults',
      'status',
    ]);
    for (const r of records) expect(r).toHaveLength(7);
    for (const r of records.slice(1))
      expect(r[2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  });

  it('writes RFC 7946 GeoJSON: a FeatureCollection of [lon, lat] points at the commune centres', async () => {
    const info = await createStoreWriter(root).writeRelease(exampleRelease(DAY1, 2));
    const fc = JSON.parse(readFileSync(join(root, info.path, 'data.geojson'), 'utf8'));
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.crs).toBeUndefined();
    expect(fc.features).toHaveLength(46);
    for (const f of fc.features) {
      expect(f.type).toBe('Feature');
      expect(f.geometry.type).toBe('Point');
      const [lon, lat] = f.geometry.coordinates;
      const c = COMMUNES.find((x) => x.insee === f.properties.commune)!;
      expect([lon, lat]).toEqual([c.lon, c.lat]);
      // Dijon is at ~5°E, ~47°N: swapped axes would fail here.
      expect(lon).toBeGreaterThan(4.8);
      expect(lon).toBeLessThan(5.3);
      expect(lat).toBeGreaterThan(47.1);
    }
  });

  it('refuses rows that contradict their status, unknown fields and bad types; writes nothing', async () => {
    const w = createStoreWriter(root);
    const base = exampleRelease(DAY1, 1);
    const row = exampleRows(DAY1, 1)[0]!;
    await expectBlocked(
      w.writeRelease({ ...base, rows: [{ ...row, status: 'suppressed', energy_kwh: 3, faults: null }] }),
      /suppressed row has a value/,
    );
    await expectBlocked(
      w.writeRelease({ ...base, rows: [{ ...row, status: 'zero', energy_kwh: 1, faults: 0 }] }),
      /zero row/,
    );
    await expectBlocked(
      w.writeRelease({ ...base, rows: [{ ...row, status: 'value', energy_kwh: null }] }),
      /empty/,
    );
    await expectBlocked(
      w.writeRelease({ ...base, rows: [{ ...row, agent_pseudonym: 'abc' }] }),
      /not in the Table Schema/,
    );
    await expectBlocked(w.writeRelease({ ...base, rows: [{ ...row, status: 'hidden' }] }), /enum/);
    await expectBlocked(w.writeRelease({ ...base, rows: [{ ...row, faults: 1.5 }] }), /integer/);
    await expectBlocked(
      w.writeRelease({ ...base, rows: [{ ...row, period_start: '2026-11-27T00:00:00' }] }),
      /offset/,
    );
    await expectBlocked(
      w.writeRelease({ ...base, metadata: { ...EXAMPLE_METADATA, themes: [] } }),
      /metadata/,
    );
    expect(await openStoreReader(root).releases(DATASET)).toEqual([]);
  });

  it('never modifies a previous release; a revision is a new version; an identical retry is reused', async () => {
    const w = createStoreWriter(root);
    const r1 = await w.writeRelease({
      ...exampleRelease(DAY1, 24),
      publishedAt: new Date('2026-11-28T10:00:00Z'),
    });
    const before = await readFile(join(root, r1.path, 'data.csv'));
    const retry = await w.writeRelease({
      ...exampleRelease(DAY1, 24),
      publishedAt: new Date('2026-11-28T11:00:00Z'),
    });
    expect(retry).toMatchObject({ releaseId: r1.releaseId, reused: true });
    const revised = exampleRelease(DAY1, 24);
    const r2 = await w.writeRelease({
      ...revised,
      rows: revised.rows.map((r, i) => (i === 0 ? { ...r, faults: 3 } : r)),
      notes: { ...exampleNotes(DAY1, 24), supersedes: r1.releaseId },
      publishedAt: new Date('2026-11-29T10:00:00Z'),
    });
    expect(r2.releaseId).toBe('2026-11-29T10-00-00Z-r2');
    expect(await readFile(join(root, r1.path, 'data.csv'))).toEqual(before);
    const reader = openStoreReader(root);
    expect((await reader.releases(DATASET)).map((r) => r.sequence)).toEqual([1, 2]);
    expect((await reader.rows(DATASET)).rows[0]!.faults).toBe(3);
    expect((await reader.rows(DATASET, r1.releaseId)).rows[0]!.faults).toBe(0);
    expect((await reader.dataset(DATASET))!.issued).toBe('2026-11-28T10:00:00Z');
  });

  it('updates registers atomically and lists them in the catalogue; the reader sees changes', async () => {
    const w = createStoreWriter(root);
    const reader = openStoreReader(root);
    await w.updateRegister('privacy-budget', { entries: [{ dataset: DATASET, epsilon: 0.5 }] });
    expect(await reader.register('privacy-budget')).toEqual({
      entries: [{ dataset: DATASET, epsilon: 0.5 }],
    });
    const { etag } = await reader.catalog();
    await w.updateRegister('privacy-budget', { entries: [] });
    expect(await reader.register('privacy-budget')).toEqual({ entries: [] });
    expect((await reader.catalog()).etag).not.toBe(etag);
    await expectBlocked(w.updateRegister('../escape', {}), /register name/);
  });

  it('passes `frictionless validate` (Table Schema, Data Package, CSV)', async (ctx) => {
    const probe = spawnSync('frictionless', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      ctx.skip(true, 'frictionless CLI not installed: `pip install frictionless` to run this check');
      return;
    }
    const info = await createStoreWriter(root).writeRelease(exampleRelease(DAY1, 48));
    for (const pkg of [
      join(root, info.path, 'datapackage.json'),
      join(root, 'datasets', DATASET, 'datapackage.json'),
    ]) {
      const res = spawnSync('frictionless', ['validate', '--json', pkg], { encoding: 'utf8', cwd: root });
      const report = JSON.parse(res.stdout);
      expect(report.valid, res.stdout.slice(0, 2000)).toBe(true);
      expect(report.tasks[0].stats.rows).toBe(48 * 23);
    }
  }, 60_000);
});
