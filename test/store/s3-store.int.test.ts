// The open-data store on a real S3-compatible server (S3Proxy, the stack's optional S3 service; issue 17,
// item 2): the same releases as on the file system, object for object; a write cut short at any step
// leaves the catalogue naming only whole releases, and recovery adopts a whole release that the
// catalogue does not name yet; readers over either backend return the same data.
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  WRITE_STEPS,
  createStoreWriter,
  exampleRelease,
  fsBackend,
  openStoreReader,
  recoverStore,
  s3Backend,
  verifyReleaseFolder,
  type StoreBackend,
} from '@ondijon/opendata';
import { Cleanup, testS3, type TestS3 } from '../index';

const DATASET = 'eclairage-energie-commune-heure';
const cleanup = new Cleanup();
let s3: TestS3;
let bucket: string;
afterAll(() => cleanup.run());
beforeAll(async () => {
  s3 = await testS3();
  bucket = await s3.createBucket('od-store');
  cleanup.add(() => s3.deleteBucket(bucket));
});

const backendAt = (prefix: string): StoreBackend =>
  s3Backend(`s3://${bucket}/${prefix}`, {
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
const first = () => ({
  ...exampleRelease(new Date('2026-11-27T00:00:00Z'), 24),
  publishedAt: new Date('2026-11-28T10:00:00Z'),
});
const second = () => ({
  ...exampleRelease(new Date('2026-11-28T00:00:00Z'), 24),
  publishedAt: new Date('2026-11-29T10:00:00Z'),
});

/** Releases the catalogue names that are not whole (empty: consistent). */
async function catalogProblems(backend: StoreBackend): Promise<string[]> {
  const { catalog } = await openStoreReader(backend).catalog();
  const problems: string[] = [];
  for (const [id, d] of Object.entries(catalog.datasets))
    for (const r of d.releases)
      if (!(await verifyReleaseFolder(backend, r.path))) problems.push(`${id}/${r.releaseId}`);
  return problems;
}

describe('the open-data store on S3 (S3Proxy)', () => {
  it('holds the same objects as the file-system store, and reads back the same data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'od-s3-fs-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const s3Store = backendAt('same');
    const written = [];
    for (const store of [dir, s3Store] as const) {
      const w = createStoreWriter(store);
      written.push(await w.writeRelease(first()), await w.writeRelease(second()));
      await w.updateRegister('privacy-budget', { datasets: {} });
    }
    expect(written[2]!.releaseId).toBe(written[0]!.releaseId);
    expect(written[3]!.releaseId).toBe(written[1]!.releaseId);
    const fs = fsBackend(dir);
    for (const info of written.slice(0, 2)) {
      for (const name of [...info.files.map((f) => f.name), 'release-notes.json', 'release-notes.md']) {
        const rel = `${info.path}/${name}`;
        expect((await s3Store.read(rel))?.toString('utf8'), rel).toBe(await readFile(join(dir, rel), 'utf8'));
      }
    }
    for (const rel of [
      `datasets/${DATASET}/dataset.json`,
      `datasets/${DATASET}/schema.json`,
      'registers/privacy-budget.json',
    ])
      expect((await s3Store.read(rel))?.toString('utf8'), rel).toBe((await fs.read(rel))?.toString('utf8'));
    const [a, b] = [openStoreReader(dir), openStoreReader(s3Store)];
    expect((await b.releases(DATASET)).map((r) => r.releaseId)).toEqual(
      (await a.releases(DATASET)).map((r) => r.releaseId),
    );
    expect((await b.rows(DATASET)).rows).toEqual((await a.rows(DATASET)).rows);
    expect(await b.register('privacy-budget')).toEqual(await a.register('privacy-budget'));
    expect((await b.registerBody('privacy-budget'))?.toString()).toBe(
      (await a.registerBody('privacy-budget'))?.toString(),
    );
    expect(await catalogProblems(s3Store)).toEqual([]);
    // A second write of the same data is the same release (idempotent retry), as on the file system.
    expect((await createStoreWriter(s3Store).writeRelease(second())).reused).toBe(true);
  });

  it.each(WRITE_STEPS.map((s) => [s]))(
    'a write cut short at %s: the catalogue names only whole releases; after recovery the release is whole or absent',
    async (step) => {
      const store = backendAt(`cut-${step.replace(/[^a-z0-9]/gi, '-')}`);
      await createStoreWriter(store).writeRelease(first());
      const cut = createStoreWriter(store, {
        onStep: (s) => {
          if (s === step) throw new Error(`cut at ${s}`);
        },
      });
      await expect(cut.writeRelease(second())).rejects.toThrow(`cut at ${step}`);
      // Before any recovery, a reader (e.g. an API replica) sees a consistent store.
      expect(await catalogProblems(store)).toEqual([]);
      const before = (await openStoreReader(store).releases(DATASET)).map((r) => r.releaseId);
      const report = await recoverStore(store);
      expect(await catalogProblems(store)).toEqual([]);
      const after = (await openStoreReader(store).releases(DATASET)).map((r) => r.releaseId);
      const whole = WRITE_STEPS.indexOf(step) >= WRITE_STEPS.indexOf('release:renamed');
      expect(after).toEqual(
        whole ? ['2026-11-28T10-00-00Z-r1', '2026-11-29T10-00-00Z-r2'] : ['2026-11-28T10-00-00Z-r1'],
      );
      // The release is adopted by recovery only when the cut fell between its upload and the catalogue.
      expect(report.adopted.length).toBe(whole && before.length === 1 ? 1 : 0);
      // A retried write neither duplicates an adopted release nor trips over debris of an unfinished one.
      const again = await createStoreWriter(store).writeRelease(second());
      expect(again.releaseId).toBe('2026-11-29T10-00-00Z-r2');
      expect(again.reused).toBe(whole);
      expect((await openStoreReader(store).rows(DATASET)).rows).toHaveLength(24 * 23);
      expect(await catalogProblems(store)).toEqual([]);
    },
    60_000,
  );
});
