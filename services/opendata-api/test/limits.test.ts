import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnDijonError } from '@ondijon/contracts';
import {
  CkanDatastoreSearch,
  CkanFailure,
  CkanSuccess,
  ExploreError,
  loadApiConfig,
  type OpendataApiApp,
} from '../src/index';
import { BODY_LIMIT } from '../src/errors';
import {
  MAX_FILTER_VALUES,
  MAX_FQ_LENGTH,
  MAX_FQ_TERMS,
  MAX_Q_LENGTH,
  MAX_Q_TERMS,
} from '../src/plugins/ckan';
import { MAX_FACETS, MAX_SELECT_ITEMS } from '../src/aggregate';
import { columnOrder, dateColumn } from '../src/query';
import { MAX_WHERE_COMPARISONS, MAX_WHERE_LENGTH } from '../src/where';
import { LIGHTING, fixtureApp } from './fixture';

// Bounded cost per request (issue 13, item 8): each limit answers 400 (413 for the body) naming
// the parameter and the limit. Timings are measured by `pnpm bench:api`, never asserted here.

let app: OpendataApiApp;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, cleanup } = await fixtureApp());
});
afterAll(async () => cleanup());

const enc = encodeURIComponent;
const ds = `/api/3/action/datastore_search?resource_id=${LIGHTING}`;
const ex = `/api/explore/v2.1/catalog/datasets/${LIGHTING}/records`;
const words = (n: number, w = 'a') => Array.from({ length: n }, (_, i) => `${w}${i}`).join(' ');

async function ckanLimit(url: string, param: string, status = 400) {
  const res = await app.server.inject({ url });
  expect(res.statusCode, res.body).toBe(status);
  const body = CkanFailure.parse(res.json());
  expect(body.error.message).toContain(param);
  expect(body.error.message).toContain('limit');
}
async function exploreLimit(url: string, param: string) {
  const res = await app.server.inject({ url });
  expect(res.statusCode, res.body).toBe(400);
  const body = ExploreError.parse(res.json());
  expect(body.message).toContain(param);
  expect(body.message).toContain('limit');
}

describe('CKAN limits', () => {
  it(`datastore_search q: at most ${MAX_Q_TERMS} terms and ${MAX_Q_LENGTH} characters; at the limit it answers`, async () => {
    expect((await app.server.inject({ url: `${ds}&q=${enc(words(MAX_Q_TERMS, 'e'))}` })).statusCode).toBe(
      200,
    );
    await ckanLimit(`${ds}&q=${enc(words(MAX_Q_TERMS + 1))}`, 'q');
    await ckanLimit(`${ds}&q=${'x'.repeat(MAX_Q_LENGTH + 1)}`, 'q');
    await ckanLimit(`${ds}&q=${enc(JSON.stringify({ commune: 'x'.repeat(MAX_Q_LENGTH) }))}`, 'q');
  });

  it(`filters: at most ${MAX_FILTER_VALUES} values`, async () => {
    const many = { commune: Array.from({ length: MAX_FILTER_VALUES + 1 }, (_, i) => String(i)) };
    const res = await app.server.inject({
      method: 'POST',
      url: '/api/3/action/datastore_search',
      payload: { resource_id: LIGHTING, filters: many },
    });
    expect(res.statusCode).toBe(400);
    expect(CkanFailure.parse(res.json()).error.message).toMatch(/filters.*limit/);
  });

  it(`a body over ${BODY_LIMIT} bytes answers 413 naming the limit`, async () => {
    const res = await app.server.inject({
      method: 'POST',
      url: '/api/3/action/datastore_search',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ resource_id: LIGHTING, q: 'x'.repeat(BODY_LIMIT) }),
    });
    expect(res.statusCode).toBe(413);
    expect(CkanFailure.parse(res.json()).error.message).toContain(`${BODY_LIMIT} bytes (limit)`);
  });

  it(`package_search fq: at most ${MAX_FQ_LENGTH} characters and ${MAX_FQ_TERMS} terms; q too`, async () => {
    await ckanLimit(`/api/3/action/package_search?fq=${'name:' + 'a'.repeat(MAX_FQ_LENGTH)}`, 'fq');
    await ckanLimit(
      `/api/3/action/package_search?fq=${enc(Array.from({ length: MAX_FQ_TERMS + 1 }, () => 'tags:x').join(' '))}`,
      'fq',
    );
    await ckanLimit(`/api/3/action/package_search?q=${enc(words(MAX_FQ_TERMS + 1))}`, 'q');
    // The run of word characters that made the old regular expression quadratic: now a plain 409.
    const run = await app.server.inject({
      url: `/api/3/action/package_search?fq=${'a'.repeat(MAX_FQ_LENGTH - 1)}`,
    });
    expect(run.statusCode).toBe(409);
    expect(CkanFailure.parse(run.json()).error.message).toContain('expected field:value');
  });
});

describe('Explore limits', () => {
  it(`where: at most ${MAX_WHERE_LENGTH} characters and ${MAX_WHERE_COMPARISONS} comparisons`, async () => {
    await exploreLimit(`${ex}?where=${enc(`commune = "${'x'.repeat(MAX_WHERE_LENGTH)}"`)}`, 'where');
    const many = Array.from({ length: MAX_WHERE_COMPARISONS + 1 }, () => 'faults = 1').join(' OR ');
    await exploreLimit(`${ex}?where=${enc(many)}`, 'where');
    const atLimit = Array.from({ length: MAX_WHERE_COMPARISONS }, () => 'faults = 1').join(' OR ');
    expect((await app.server.inject({ url: `${ex}?where=${enc(atLimit)}` })).statusCode).toBe(200);
  });

  it(`select and group_by: at most ${MAX_SELECT_ITEMS} items; refine + exclude: at most ${MAX_FACETS}`, async () => {
    await exploreLimit(
      `${ex}?select=${enc(Array.from({ length: MAX_SELECT_ITEMS + 1 }, () => 'commune').join(','))}`,
      'select',
    );
    await exploreLimit(
      `${ex}?group_by=${enc(Array.from({ length: MAX_SELECT_ITEMS + 1 }, () => 'commune').join(','))}`,
      'group_by',
    );
    const facets = Array.from({ length: MAX_FACETS + 1 }, () => `refine=${enc('commune:21231')}`).join('&');
    await exploreLimit(`${ex}?${facets}`, 'refine');
  });
});

describe('work done once per release', () => {
  it('datetimes are parsed and columns ranked once per loaded release, whatever order_by rotates', async () => {
    const rows = [
      { t: '2026-01-01T00:00:00Z', n: 2 },
      { t: '2026-01-01T01:00:00+01:00', n: 1 },
    ];
    expect(dateColumn(rows, 't')).toBe(dateColumn(rows, 't'));
    expect([...dateColumn(rows, 't')]).toEqual([
      Date.parse('2026-01-01T00:00:00Z'),
      Date.parse('2026-01-01T00:00:00Z'),
    ]);
    const a = columnOrder(rows, 'n', 'integer');
    expect(columnOrder(rows, 'n', 'integer')).toBe(a);
    expect([...a.asc]).toEqual([1, 0]);
    expect([...a.desc]).toEqual([0, 1]);
  });

  it('large datastore_search pages are streamed and parse as the same CKAN envelope', async () => {
    const big = await app.server.inject({ url: `${ds}&limit=2000&sort=${enc('energy_kwh desc')}` });
    expect(big.statusCode).toBe(200);
    const body = CkanSuccess(CkanDatastoreSearch).parse(big.json()).result;
    expect(body.records).toHaveLength(48 * 23);
    expect(body.total).toBe(48 * 23);
    const small = CkanSuccess(CkanDatastoreSearch).parse(
      (await app.server.inject({ url: `${ds}&limit=5&offset=1000&sort=${enc('energy_kwh desc')}` })).json(),
    ).result;
    expect(body.records.slice(1000, 1005)).toEqual(small.records);
    expect(body.fields).toEqual(small.fields);
  });

  it('exports are streamed (chunked, no whole-body length)', async () => {
    const url = await app.start();
    const res = await fetch(`${url}/api/explore/v2.1/catalog/datasets/${LIGHTING}/exports/csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(res.headers.get('content-length')).toBeNull();
    expect((await res.text()).split('\r\n').length).toBeGreaterThan(1000);
  });
});

describe('PUBLIC_BASE_URL and caching', () => {
  it('is required when ONDIJON_ENV=production: a config error naming the variable', () => {
    let err: unknown;
    try {
      loadApiConfig({ ONDIJON_ENV: 'production' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OnDijonError);
    expect((err as OnDijonError).code).toBe('ONDIJON_CONFIG_INVALID');
    expect((err as Error).message).toContain('PUBLIC_BASE_URL');
    expect(
      loadApiConfig({ ONDIJON_ENV: 'production', PUBLIC_BASE_URL: 'https://data.example.fr' })
        .PUBLIC_BASE_URL,
    ).toBe('https://data.example.fr');
  });

  it('without it, answers that embed the host vary on Host; with it, they do not', async () => {
    const byHost = await fixtureApp({ PUBLIC_BASE_URL: '' });
    try {
      for (const url of [
        '/catalog.jsonld',
        `/api/3/action/package_show?id=${LIGHTING}`,
        '/api/explore/v2.1/catalog/datasets',
      ]) {
        const a = await byHost.app.server.inject({ url, headers: { host: 'host-one.invalid' } });
        const b = await byHost.app.server.inject({ url, headers: { host: 'host-two.invalid' } });
        expect(a.headers.vary, url).toMatch(/\bHost\b/);
        expect(a.headers['cache-control']).toMatch(/public/);
        expect(a.body).toContain('host-one.invalid');
        expect(b.body).toContain('host-two.invalid');
      }
    } finally {
      await byHost.cleanup();
    }
    const fixed = await app.server.inject({ url: '/catalog.jsonld', headers: { host: 'host-one.invalid' } });
    expect(String(fixed.headers.vary ?? '')).not.toMatch(/\bHost\b/);
    expect(fixed.body).not.toContain('host-one.invalid');
  });
});
