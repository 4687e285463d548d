import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CkanFailure, ExploreError, type OpendataApiApp } from '../src/index';
import { LIGHTING, fixtureApp } from './fixture';

// Every parameter of every endpoint gets hostile values: the API must answer 2xx or 4xx in its own
// error shape, never 500 (issue 6, "Must show").
const GARBAGE = [
  '',
  ' ',
  '-1',
  '0',
  '1e999',
  '-0',
  'NaN',
  'Infinity',
  '9999999999999999999999',
  '1.5',
  'true',
  'null',
  '{',
  '}',
  '[]',
  '{"a":',
  '{"__proto__":{"x":1}}',
  '{"commune":{"$gt":1}}',
  '{"commune":[[1]]}',
  '__proto__',
  'constructor',
  "'",
  '"',
  '`',
  '((((',
  ')))',
  'a = ',
  '= 1',
  'AND',
  'NOT NOT NOT',
  "date'x'",
  'commune = "a" OR',
  '\u0000',
  '🙂',
  '%',
  '\\',
  'a'.repeat(5000),
  '('.repeat(500),
  '_id desc desc',
  ',,,',
  '*',
  '* desc',
  'commune;drop table',
];

const ENDPOINTS: { path: string; params: string[]; api: 'ckan' | 'explore' | 'other' }[] = [
  { path: '/api/3/action/package_list', params: ['limit', 'offset'], api: 'ckan' },
  { path: '/api/3/action/package_show', params: ['id'], api: 'ckan' },
  { path: '/api/3/action/package_search', params: ['q', 'fq', 'rows', 'start', 'sort'], api: 'ckan' },
  { path: '/api/3/action/organization_list', params: ['all_fields'], api: 'ckan' },
  { path: '/api/3/action/organization_show', params: ['id', 'include_datasets'], api: 'ckan' },
  { path: '/api/3/action/resource_show', params: ['id'], api: 'ckan' },
  {
    path: `/api/3/action/datastore_search?resource_id=${LIGHTING}`,
    params: [
      'resource_id',
      'filters',
      'q',
      'fields',
      'sort',
      'limit',
      'offset',
      'include_total',
      'records_format',
    ],
    api: 'ckan',
  },
  {
    path: '/api/explore/v2.1/catalog/datasets',
    params: ['where', 'order_by', 'limit', 'offset'],
    api: 'explore',
  },
  {
    path: `/api/explore/v2.1/catalog/datasets/${LIGHTING}/records`,
    params: ['select', 'where', 'order_by', 'limit', 'offset'],
    api: 'explore',
  },
  {
    path: `/api/explore/v2.1/catalog/datasets/${LIGHTING}/exports/csv`,
    params: ['select', 'where', 'order_by', 'limit', 'offset', 'delimiter'],
    api: 'explore',
  },
  {
    path: `/api/explore/v2.1/catalog/datasets/${LIGHTING}/exports/geojson`,
    params: ['select', 'where', 'limit'],
    api: 'explore',
  },
  { path: '/catalog', params: ['x'], api: 'other' },
];

let app: OpendataApiApp;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, cleanup } = await fixtureApp());
});
afterAll(async () => cleanup());

function withParam(path: string, name: string, value: string): string {
  const u = new URL(path, 'http://x');
  u.searchParams.set(name, value);
  return u.pathname + u.search;
}

describe('garbage in every parameter', () => {
  it.each(ENDPOINTS.map((e) => [e.path, e]))(
    '%s: 2xx or 4xx in the API’s own shape, never 5xx',
    async (_p, e) => {
      const failures: string[] = [];
      let fourxx = 0;
      for (const param of e.params) {
        for (const value of GARBAGE) {
          const url = withParam(e.path, param, value);
          for (const method of e.api === 'ckan' ? (['GET', 'POST'] as const) : (['GET'] as const)) {
            const res =
              method === 'GET'
                ? await app.server.inject({ method, url })
                : await app.server.inject({
                    method,
                    url: e.path.split('?')[0]!,
                    payload: {
                      ...Object.fromEntries(new URL(e.path, 'http://x').searchParams),
                      [param]: value,
                    },
                  });
            if (res.statusCode >= 500) {
              failures.push(`${method} ${url.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 200)}`);
              continue;
            }
            if (res.statusCode >= 400) {
              fourxx++;
              const body = res.json();
              const ok =
                e.api === 'ckan'
                  ? CkanFailure.safeParse(body).success
                  : e.api === 'explore'
                    ? ExploreError.safeParse(body).success
                    : typeof body.message === 'string';
              if (!ok)
                failures.push(
                  `${method} ${url.slice(0, 120)} → ${res.statusCode} wrong error shape ${res.body.slice(0, 200)}`,
                );
            } else if (
              e.api === 'ckan' &&
              !(res.json().success === true && typeof res.json().help === 'string' && 'result' in res.json())
            ) {
              failures.push(`${method} ${url.slice(0, 120)} → 200 without CKAN envelope`);
            }
          }
        }
      }
      expect(failures).toEqual([]);
      if (e.api !== 'other') expect(fourxx, 'garbage should be rejected somewhere').toBeGreaterThan(0);
    },
    60_000,
  );

  it('repeated parameters and raw malformed bodies are 4xx', async () => {
    const r1 = await app.server.inject({
      url: `/api/explore/v2.1/catalog/datasets/${LIGHTING}/records?limit=1&limit=500`,
    });
    expect(r1.statusCode).toBe(400);
    for (const payload of ['[1,2]', '"str"', '{bad', 'null']) {
      const r = await app.server.inject({
        method: 'POST',
        url: '/api/3/action/datastore_search',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(r.statusCode, payload).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, payload).toBeLessThan(500);
      expect(CkanFailure.safeParse(r.json()).success, r.body).toBe(true);
    }
  });
});
