import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreWriter, exampleRelease } from '@ondijon/opendata';
import { buildApp, testConfig, type OpendataApiApp } from '../src/index';
import { OFFLOAD_ABOVE } from '../src/query';
import { LIGHTING } from './fixture';

// Long scans of a large release run in the scan worker thread; its answers (records, totals,
// groups, errors) must be exactly those of the same scans run in the HTTP thread.

let dir: string;
let withWorker: OpendataApiApp;
let inline: OpendataApiApp;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'od-scan-'));
  const hours = Math.ceil(OFFLOAD_ABOVE / 23) + 24;
  await createStoreWriter(dir).writeRelease({
    ...exampleRelease(new Date('2026-01-01T00:00:00Z'), hours),
    geo: false,
  });
  withWorker = await buildApp(
    testConfig({ OPENDATA_DIR: dir, PUBLIC_BASE_URL: 'https://x.test', SCAN_WORKER: 'true' }),
  );
  inline = await buildApp(
    testConfig({ OPENDATA_DIR: dir, PUBLIC_BASE_URL: 'https://x.test', SCAN_WORKER: 'false' }),
  );
}, 60_000);
afterAll(async () => {
  await withWorker.close();
  await inline.close();
  await rm(dir, { recursive: true, force: true });
});

const enc = encodeURIComponent;
const ds = `/api/3/action/datastore_search?resource_id=${LIGHTING}`;
const ex = `/api/explore/v2.1/catalog/datasets/${LIGHTING}`;

describe('scan worker', () => {
  it.each([
    `${ds}&filters=${enc('{"commune":["21231","21003"]}')}&sort=${enc('energy_kwh desc, _id')}&limit=50`,
    `${ds}&q=${enc('dijon 2026-01-0')}&limit=20&offset=5`,
    `${ds}&sort=${enc('period_start desc')}&limit=2000`,
    `${ds}&filters=${enc('{"colour":"red"}')}`,
    `${ds}&q=${enc(Array.from({ length: 17 }, (_, i) => `t${i}`).join(' '))}`,
    `${ex}/records?where=${enc('energy_kwh > 10 AND commune != "21231"')}&order_by=${enc('faults desc, period_start')}&limit=30`,
    `${ex}/records?select=${enc('commune, count(*) as n, avg(energy_kwh) as a')}&group_by=commune&order_by=${enc('a desc')}&limit=5`,
    `${ex}/records?refine=${enc('commune:21231')}&exclude=${enc('status:value')}&limit=10`,
    `${ex}/records?where=${enc('nope = 1')}`,
    `${ex}/records?refine=${enc('colour:red')}`,
    `${ex}/exports/csv?where=${enc('commune = "21003"')}&order_by=${enc('energy_kwh desc')}`,
    `${ex}/exports/csv?delimiter=,&select=${enc('commune as c, energy_kwh')}`,
    `${ex}/exports/json?refine=${enc('status:value')}&limit=5000`,
    `${ex}/exports/geojson?where=${enc('faults > 0')}`,
    `${ex}/exports/json?select=${enc('count(*) as n')}`,
    `${ds}&limit=5000&offset=3&sort=${enc('commune desc, period_start')}&fields=_id,commune,energy_kwh`,
    `${ds}&limit=32000&records_format=lists&filters=${enc('{"status":"value"}')}`,
  ])('%s: same answer as in the HTTP thread', async (url) => {
    const a = await withWorker.server.inject({ url });
    const b = await inline.server.inject({ url });
    expect(a.statusCode).toBe(b.statusCode);
    expect(a.body).toBe(b.body);
  });

  it('the worker thread was started and used', () => {
    expect(withWorker.scans?.started).toBe(true);
    expect(inline.scans).toBeUndefined();
  });
});
