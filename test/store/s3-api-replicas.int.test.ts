// Open-data API replicas over the S3 store (issue 17, item 2): two API processes read one bucket (no
// shared file system) and answer exactly as an API process over the same releases in a folder: CKAN,
// Explore, DCAT, release files and registers. A release written after they started is served by both
// once the catalogue names it.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreWriter, exampleRelease, s3Backend } from '@ondijon/opendata';
import { Cleanup, testS3, waitFor, type TestS3 } from '../index';

const REPO = resolve(import.meta.dirname, '../..');
const DATASET = 'eclairage-energie-commune-heure';
const BASE = 'https://data.example.test';
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

/** Starts the open-data API as a child process; resolves to its base URL once it listens. */
async function startApi(env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/opendata-api/src/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'info',
      PUBLIC_BASE_URL: BASE,
      RATE_LIMIT_ENABLED: 'false',
      STORE_REVALIDATE_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.add(() => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  return waitFor(
    () => {
      const m = /"url":"(http:\/\/[^"]+)".*opendata api listening/.exec(out);
      return m?.[1];
    },
    { timeoutMs: 60_000, intervalMs: 100, message: 'API listening' },
  );
}

const PATHS = [
  '/api/3/action/package_list',
  `/api/3/action/package_show?id=${DATASET}`,
  `/api/explore/v2.1/catalog/datasets/${DATASET}/records?limit=20&order_by=period_start`,
  '/api/explore/v2.1/catalog/datasets',
  '/catalog.jsonld',
  '/registers/privacy-budget.json',
];

let s3: TestS3;
let location: string;
let dir: string;
let replicas: string[];
let reference: string;

beforeAll(async () => {
  s3 = await testS3();
  const bucket = await s3.createBucket('od-api');
  cleanup.add(() => s3.deleteBucket(bucket));
  location = `s3://${bucket}/store`;
  dir = await mkdtemp(join(tmpdir(), 'od-api-s3-ref-'));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  const s3Store = s3Backend(location, {
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  for (const store of [dir, s3Store]) {
    // One clock for both stores: registers carry their write time, which the DCAT catalogue shows.
    const w = createStoreWriter(store, { now: () => new Date('2026-11-27T10:00:05Z') });
    await w.writeRelease({
      ...exampleRelease(new Date('2026-11-26T00:00:00Z'), 24),
      publishedAt: new Date('2026-11-27T10:00:00Z'),
    });
    await w.updateRegister('privacy-budget', { datasets: {} });
  }
  const s3Env = { OPENDATA_STORE: location, ...s3.env() };
  replicas = await Promise.all([startApi(s3Env), startApi(s3Env)]);
  reference = await startApi({ OPENDATA_DIR: dir });
}, 180_000);

async function body(base: string, path: string): Promise<string> {
  const res = await fetch(`${base}${path}`);
  expect(res.status, `${base}${path}`).toBe(200);
  return await res.text();
}

describe('open-data API replicas over S3', () => {
  it('answer exactly as the API over the same releases in a folder', async () => {
    for (const path of [...PATHS, `/files/datasets/${DATASET}/releases/2026-11-27T10-00-00Z-r1/data.csv`]) {
      const want = await body(reference, path);
      for (const r of replicas) expect(await body(r, path), `${r}${path}`).toBe(want);
    }
  });

  it('serve a release written after they started, once the catalogue names it', async () => {
    const s3Store = s3Backend(location, {
      endpoint: s3.endpoint,
      region: s3.region,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    });
    await createStoreWriter(s3Store).writeRelease({
      ...exampleRelease(new Date('2026-11-27T00:00:00Z'), 24),
      publishedAt: new Date('2026-11-28T10:00:00Z'),
    });
    for (const r of replicas) {
      const show = JSON.parse(await body(r, `/api/3/action/package_show?id=${DATASET}`)) as {
        result: { resources: { url: string }[] };
      };
      expect(
        show.result.resources.some((x) => x.url.includes('2026-11-28T10-00-00Z-r2')),
        r,
      ).toBe(true);
      const csv = await body(r, `/files/datasets/${DATASET}/releases/2026-11-28T10-00-00Z-r2/data.csv`);
      expect(csv.split('\r\n').length, r).toBeGreaterThan(24);
    }
  });
});
