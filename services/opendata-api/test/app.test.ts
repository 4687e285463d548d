import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { uuidFromName } from '@ondijon/contracts';
import { parseCsv } from '@ondijon/opendata';
import {
  CkanDatastoreSearch,
  CkanFailure,
  CkanPackage,
  CkanPackageSearch,
  CkanResource,
  CkanSuccess,
  ExploreDataset,
  ExploreDatasets,
  ExploreError,
  ExploreRecords,
  type OpendataApiApp,
} from '../src/index';
import { LIGHTING, WINTER, fixtureApp } from './fixture';

let app: OpendataApiApp;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ app, cleanup } = await fixtureApp());
});
afterAll(async () => cleanup());

const get = (url: string, headers: Record<string, string> = {}) =>
  app.server.inject({ method: 'GET', url, headers });
const ckan = async <S extends z.ZodType>(url: string, schema: S) => {
  const res = await get(url);
  expect(res.statusCode, res.body).toBe(200);
  const body = CkanSuccess(schema).parse(res.json()) as { result: z.infer<S> };
  return body.result;
};
const ckanFail = async (url: string, status: number, type: string) => {
  const res = await get(url);
  expect(res.statusCode, res.body).toBe(status);
  const body = CkanFailure.parse(res.json());
  expect(body.error.__type).toBe(type);
  return body;
};
const exploreFail = async (url: string, status: number, code: string) => {
  const res = await get(url);
  expect(res.statusCode, res.body).toBe(status);
  const body = ExploreError.parse(res.json());
  expect(body.error_code).toBe(code);
  return body;
};

describe('CKAN Action API subset', () => {
  it('status_show, package_list, organization_list/show', async () => {
    expect(
      await ckan(
        '/api/3/action/status_show',
        z.looseObject({ ckan_version: z.string(), extensions: z.array(z.string()) }),
      ),
    ).toMatchObject({ extensions: ['datastore', 'dcat'] });
    expect(await ckan('/api/3/action/package_list', z.array(z.string()))).toEqual([LIGHTING, WINTER]);
    expect(await ckan('/api/3/action/package_list?limit=1&offset=1', z.array(z.string()))).toEqual([WINTER]);
    expect(await ckan('/api/3/action/organization_list', z.array(z.string()))).toEqual(['dijon-metropole']);
    const org = await ckan(
      '/api/3/action/organization_show?id=dijon-metropole&include_datasets=true',
      z.looseObject({ package_count: z.int(), packages: z.array(CkanPackage) }),
    );
    expect(org.package_count).toBe(2);
    await ckanFail('/api/3/action/organization_show?id=elsewhere', 404, 'Not Found Error');
  });

  it('package_show describes the latest release, licence and publisher; by name or id', async () => {
    const pkg = await ckan(`/api/3/action/package_show?id=${LIGHTING}`, CkanPackage);
    expect(pkg.resources.map((r) => r.format)).toEqual(['CSV', 'GeoJSON', 'JSON']);
    expect(pkg.resources[0]!.url).toBe(
      `https://data.example.test/files/datasets/${LIGHTING}/releases/2026-11-28T10-00-00Z-r2/data.csv`,
    );
    expect(pkg.extras).toContainEqual({ key: 'publisher_siren', value: '242100410' });
    expect((await ckan(`/api/3/action/package_show?id=${pkg.id}`, CkanPackage)).name).toBe(LIGHTING);
    await ckanFail('/api/3/action/package_show?id=nope', 404, 'Not Found Error');
    await ckanFail('/api/3/action/package_show', 409, 'Validation Error');
  });

  it('package_search with q, fq, rows and start', async () => {
    expect((await ckan('/api/3/action/package_search', CkanPackageSearch)).count).toBe(2);
    expect(
      (await ckan('/api/3/action/package_search?q=salage', CkanPackageSearch)).results.map((p) => p.name),
    ).toEqual([WINTER]);
    expect(
      (await ckan(`/api/3/action/package_search?fq=name:${LIGHTING}`, CkanPackageSearch)).results.map(
        (p) => p.name,
      ),
    ).toEqual([LIGHTING]);
    expect((await ckan('/api/3/action/package_search?fq=tags:hiver', CkanPackageSearch)).count).toBe(1);
    const page = await ckan('/api/3/action/package_search?rows=1&start=1', CkanPackageSearch);
    expect([page.count, page.results.length]).toEqual([2, 1]);
    await ckanFail('/api/3/action/package_search?rows=-1', 409, 'Validation Error');
    await ckanFail('/api/3/action/package_search?fq=colour:red', 409, 'Validation Error');
    const names = async (sort: string) =>
      (
        await ckan(`/api/3/action/package_search?sort=${encodeURIComponent(sort)}`, CkanPackageSearch)
      ).results.map((p) => p.name);
    expect(await names('name desc')).toEqual([WINTER, LIGHTING]);
    expect(await names('metadata_modified asc')).toEqual([LIGHTING, WINTER]);
    expect(await names('score desc, metadata_modified desc')).toEqual([WINTER, LIGHTING]);
    await ckanFail('/api/3/action/package_search?sort=colour', 409, 'Validation Error');
  });

  it('resource_show by resource id', async () => {
    const id = uuidFromName(`ondijon:opendata:resource:${LIGHTING}:csv`);
    const res = await ckan(`/api/3/action/resource_show?id=${id}`, CkanResource);
    expect(res).toMatchObject({ id, format: 'CSV', datastore_active: true });
    await ckanFail(
      '/api/3/action/resource_show?id=00000000-0000-0000-0000-000000000000',
      404,
      'Not Found Error',
    );
  });

  it('datastore_search: filters, q, fields, sort, limit, offset, include_total', async () => {
    const base = `/api/3/action/datastore_search?resource_id=${LIGHTING}`;
    const all = await ckan(base, CkanDatastoreSearch);
    expect(all.total).toBe(48 * 23);
    expect(all.records).toHaveLength(100);
    expect(all.fields[0]).toEqual({ id: '_id', type: 'int' });
    const filtered = await ckan(
      `${base}&filters=${encodeURIComponent('{"commune":["21231","21003"],"status":"value"}')}&sort=${encodeURIComponent('energy_kwh desc, _id')}&limit=5&fields=_id,commune,energy_kwh,status`,
      CkanDatastoreSearch,
    );
    const recs = filtered.records as Record<string, unknown>[];
    expect(recs).toHaveLength(5);
    for (const r of recs) {
      expect(Object.keys(r)).toEqual(['_id', 'commune', 'energy_kwh', 'status']);
      expect(['21231', '21003']).toContain(r.commune);
      expect(r.status).toBe('value');
    }
    const kwh = recs.map((r) => r.energy_kwh as number);
    expect(kwh).toEqual([...kwh].sort((a, b) => b - a));
    const next = await ckan(
      `${base}&filters=${encodeURIComponent('{"commune":"21231"}')}&limit=10&offset=40`,
      CkanDatastoreSearch,
    );
    expect([next.total, next.records.length]).toEqual([48, 8]);
    const q = await ckan(`${base}&q=Bressey&include_total=false&limit=3`, CkanDatastoreSearch);
    expect(q.total).toBeUndefined();
    expect(
      (q.records as Record<string, unknown>[]).every((r) => r.commune_name === 'Bressey-sur-Tille'),
    ).toBe(true);
    const byField = await ckan(
      `${base}&q=${encodeURIComponent('{"status":"suppress"}')}&limit=1`,
      CkanDatastoreSearch,
    );
    expect((byField.records[0] as Record<string, unknown>).status).toBe('suppressed');
    const byId = await ckan(`${base}&filters=${encodeURIComponent('{"_id":3}')}`, CkanDatastoreSearch);
    expect((byId.records[0] as Record<string, unknown>)._id).toBe(3);
    const lists = await ckan(`${base}&records_format=lists&limit=1&fields=commune`, CkanDatastoreSearch);
    expect(lists.records).toEqual([['21003']]);
  });

  it('datastore_search errors: CKAN shapes and statuses', async () => {
    const base = `/api/3/action/datastore_search?resource_id=${LIGHTING}`;
    await ckanFail('/api/3/action/datastore_search', 409, 'Validation Error');
    await ckanFail('/api/3/action/datastore_search?resource_id=nope', 404, 'Not Found Error');
    const bad = await ckanFail(
      `${base}&filters=${encodeURIComponent('{"colour":"red"}')}`,
      409,
      'Validation Error',
    );
    expect(bad.error.filters).toBeDefined();
    await ckanFail(`${base}&filters=notjson`, 409, 'Validation Error');
    await ckanFail(`${base}&limit=-3`, 409, 'Validation Error');
    await ckanFail(`${base}&sort=nope`, 409, 'Validation Error');
    await ckanFail(`${base}&fields=nope`, 409, 'Validation Error');
    await ckanFail('/api/3/action/package_create', 400, 'Bad Request');
  });

  it('accepts POST with a JSON body, as ckanapi sends it; rejects malformed JSON with 400', async () => {
    const res = await app.server.inject({
      method: 'POST',
      url: '/api/3/action/datastore_search',
      payload: { resource_id: LIGHTING, limit: 2, filters: { commune: '21231' } },
    });
    const result = CkanSuccess(CkanDatastoreSearch).parse(res.json()).result;
    expect([result.total, result.records.length]).toEqual([48, 2]);
    const bad = await app.server.inject({
      method: 'POST',
      url: '/api/3/action/package_list',
      headers: { 'content-type': 'application/json' },
      payload: '{"limit":',
    });
    expect(bad.statusCode).toBe(400);
    expect(CkanFailure.parse(bad.json()).error.__type).toBe('Bad Request');
  });
});

describe('Explore v2.1 subset', () => {
  const ds = `/api/explore/v2.1/catalog/datasets/${LIGHTING}`;

  it('lists datasets, with where and limit', async () => {
    const all = ExploreDatasets.parse((await get('/api/explore/v2.1/catalog/datasets')).json());
    expect(all.results.map((d) => d.dataset_id)).toEqual([LIGHTING, WINTER]);
    const one = ExploreDatasets.parse(
      (
        await get(
          `/api/explore/v2.1/catalog/datasets?where=${encodeURIComponent(`dataset_id = "${WINTER}"`)}`,
        )
      ).json(),
    );
    expect([one.total_count, one.results[0]!.dataset_id]).toEqual([1, WINTER]);
    const d = ExploreDataset.parse((await get(ds)).json());
    expect(d.metas.default.records_count).toBe(48 * 23);
    expect(d.fields.map((f) => f.type)).toEqual([
      'text',
      'text',
      'datetime',
      'datetime',
      'double',
      'int',
      'text',
    ]);
    await exploreFail('/api/explore/v2.1/catalog/datasets/nope', 404, 'NotFound');
  });

  it('records: select, where with AND/OR/parentheses, order_by, limit, offset', async () => {
    const where = encodeURIComponent(
      `commune = "21231" AND (energy_kwh > 100 OR status = 'zero') AND period_start >= date'2026-11-26T12:00:00Z'`,
    );
    const res = ExploreRecords.parse(
      (
        await get(
          `${ds}/records?select=commune,period_start,energy_kwh,status&where=${where}&order_by=energy_kwh%20desc&limit=100`,
        )
      ).json(),
    );
    expect(res.total_count).toBeGreaterThan(0);
    expect(res.results).toHaveLength(res.total_count);
    for (const r of res.results) {
      expect(Object.keys(r)).toEqual(['commune', 'period_start', 'energy_kwh', 'status']);
      expect(r.commune).toBe('21231');
      expect((r.energy_kwh as number) > 100 || r.status === 'zero').toBe(true);
      expect(Date.parse(r.period_start as string)).toBeGreaterThanOrEqual(Date.parse('2026-11-26T12:00:00Z'));
    }
    const page = ExploreRecords.parse(
      (await get(`${ds}/records?limit=5&offset=10&order_by=period_start`)).json(),
    );
    expect([page.total_count, page.results.length]).toEqual([48 * 23, 5]);
  });

  it('records errors: Explore shapes with HTTP 400/404', async () => {
    await exploreFail(`${ds}/records?limit=101`, 400, 'InvalidRESTParameterError');
    await exploreFail(`${ds}/records?limit=abc`, 400, 'InvalidRESTParameterError');
    await exploreFail(`${ds}/records?offset=9999&limit=10`, 400, 'InvalidRESTParameterError');
    await exploreFail(`${ds}/records?where=${encodeURIComponent('energy_kwh >')}`, 400, 'ODSQLError');
    await exploreFail(`${ds}/records?where=${encodeURIComponent('nope = 1')}`, 400, 'ODSQLError');
    await exploreFail(`${ds}/records?order_by=nope`, 400, 'ODSQLError');
    await exploreFail(`${ds}/records?select=nope`, 400, 'ODSQLError');
    await exploreFail('/api/explore/v2.1/catalog/datasets/nope/records', 404, 'NotFound');
    await exploreFail(`${ds}/exports/xlsx`, 400, 'InvalidRESTParameterError');
  });

  it('exports csv (";" by default, "," on request), json and geojson, with filters', async () => {
    const where = encodeURIComponent('commune = "21003"');
    const csv = await get(`${ds}/exports/csv?where=${where}`);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe('commune;commune_name;period_start;period_end;energy_kwh;faults;status');
    expect(lines).toHaveLength(49);
    const comma = await get(`${ds}/exports/csv?delimiter=,&limit=3`);
    expect(parseCsv(comma.body)).toHaveLength(4);
    const json = (await get(`${ds}/exports/json?where=${where}&select=commune,status`)).json();
    expect(json).toHaveLength(48);
    expect(Object.keys(json[0])).toEqual(['commune', 'status']);
    const geo = (await get(`${ds}/exports/geojson?where=${where}&limit=2`)).json();
    expect(geo.type).toBe('FeatureCollection');
    expect(geo.features[0].geometry).toEqual({ type: 'Point', coordinates: [5.022, 47.37] });
  });
});

describe('DCAT-AP 3 catalogue', () => {
  const graph = async () => (await get('/catalog.jsonld')).json()['@graph'] as Record<string, unknown>[];
  const ofType = (g: Record<string, unknown>[], t: string) =>
    g.filter((n) => ([] as unknown[]).concat(n['@type']).includes(t));

  it('negotiates JSON-LD and Turtle on /catalog and /dcat; 406 otherwise', async () => {
    const ld = await get('/catalog', { accept: 'application/ld+json' });
    expect(ld.headers['content-type']).toMatch(/^application\/ld\+json/);
    expect(ld.headers.vary).toMatch(/Accept/);
    const ttl = await get('/dcat', { accept: 'text/turtle;q=0.9, application/ld+json;q=0.5' });
    expect(ttl.headers['content-type']).toMatch(/^text\/turtle/);
    expect(ttl.body).toContain('a dcat:Catalog');
    expect((await get('/catalog.ttl')).body).toBe(ttl.body);
    expect((await get('/catalog', { accept: 'image/png' })).statusCode).toBe(406);
  });

  it('fills mandatory and recommended properties of Catalogue, Dataset, Distribution and Agent', async () => {
    const g = await graph();
    const [catalog] = ofType(g, 'dcat:Catalog');
    for (const p of [
      'dct:title',
      'dct:description',
      'dct:publisher',
      'dcat:dataset',
      'foaf:homepage',
      'dct:language',
      'dct:license',
      'dct:issued',
      'dct:modified',
      'dct:spatial',
      'dcat:themeTaxonomy',
    ])
      expect(catalog, p).toHaveProperty([p]);
    const datasets = ofType(g, 'dcat:Dataset');
    // Two datasets and the privacy-budget register.
    expect(datasets).toHaveLength(3);
    for (const d of datasets.filter((x) => !String(x['@id']).includes('/registre-'))) {
      for (const p of [
        'dct:title',
        'dct:description',
        'dcat:contactPoint',
        'dcat:distribution',
        'dcat:keyword',
        'dct:publisher',
        'dct:spatial',
        'dct:temporal',
        'dcat:theme',
        'dct:accessRights',
        'dct:accrualPeriodicity',
        'dct:issued',
        'dct:modified',
        'dct:language',
        'dct:identifier',
        'dct:conformsTo',
        'dct:provenance',
        'dcat:version',
      ]) {
        expect(d, p).toHaveProperty([p]);
      }
    }
    const dists = ofType(g, 'dcat:Distribution');
    expect(dists.length).toBe(7);
    for (const d of dists) {
      for (const p of [
        'dcat:accessURL',
        'dcat:downloadURL',
        'dct:description',
        'dct:format',
        'dct:license',
        'dcatap:availability',
        'dcat:mediaType',
        'spdx:checksum',
      ])
        expect(d, p).toHaveProperty([p]);
    }
    const [agent] = ofType(g, 'foaf:Agent');
    expect(agent).toMatchObject({
      'dct:identifier': '242100410',
      'dct:type': { '@id': 'http://purl.org/adms/publishertype/LocalAuthority' },
    });
    expect(ofType(g, 'dct:LicenseDocument')[0]!['@id']).toBe(
      'https://www.etalab.gouv.fr/licence-ouverte-open-licence/',
    );
    // The Métropole (catalogue) and one Location per dataset, each with a bbox and a centroid.
    const locations = ofType(g, 'dct:Location');
    expect(locations.length).toBe(3);
    for (const l of locations) {
      expect(l['dcat:bbox']).toMatchObject({ '@type': 'geosparql:wktLiteral' });
      expect(l['dcat:centroid']).toMatchObject({ '@type': 'geosparql:wktLiteral' });
    }
    const [dist] = ofType(g, 'dcat:Distribution');
    expect(dist!['dcatap:availability']).toEqual({
      '@id': 'http://publications.europa.eu/resource/authority/planned-availability/STABLE',
    });
    expect(dist!['adms:status']).toEqual({
      '@id': 'http://publications.europa.eu/resource/authority/distribution-status/COMPLETED',
    });
    expect(ofType(g, 'dct:RightsStatement').map((n) => n['@id'])).toContain(
      'https://data.example.test/catalog#rights',
    );
  });
});

describe('HTTP behaviour', () => {
  it('ETag and conditional GET: 304 without a body; a new release changes the ETag', async () => {
    const url = `/api/3/action/datastore_search?resource_id=${LIGHTING}&limit=3`;
    const first = await get(url);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await get(url, { 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect((await get(url, { 'if-none-match': 'W/"other"' })).statusCode).toBe(200);
  });

  it('release files: strong ETag = SHA-256 from the release notes, immutable caching, 304', async () => {
    const pkg = CkanSuccess(CkanPackage).parse(
      (await get(`/api/3/action/package_show?id=${LIGHTING}`)).json(),
    ).result;
    const url = new URL(pkg.resources[0]!.url).pathname;
    const res = await get(url);
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe(`"${pkg.resources[0]!.hash.replace('sha256:', '')}"`);
    expect(res.headers['cache-control']).toMatch(/immutable/);
    expect(parseCsv(res.body)).toHaveLength(48 * 23 + 1);
    expect((await get(url, { 'if-none-match': res.headers.etag as string })).statusCode).toBe(304);
    expect(
      (await get(`/files/datasets/${LIGHTING}/releases/2026-11-28T10-00-00Z-r9/data.csv`)).statusCode,
    ).toBe(404);
    expect(
      (await get(`/files/datasets/${LIGHTING}/releases/2026-11-28T10-00-00Z-r2/..%2F..%2F..%2Fcatalog.json`))
        .statusCode,
    ).toBe(404);
  });

  it('gzip when asked, CORS for any origin', async () => {
    const res = await get(`/api/explore/v2.1/catalog/datasets/${LIGHTING}/exports/json`, {
      'accept-encoding': 'gzip',
      origin: 'https://portal.example',
    });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(JSON.parse(gunzipSync(res.rawPayload).toString('utf8'))).toHaveLength(48 * 23);
    const pre = await app.server.inject({
      method: 'OPTIONS',
      url: '/api/3/action/package_list',
      headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.statusCode).toBe(204);
  });

  it('probes, metrics and a valid-looking OpenAPI document', async () => {
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await get('/readyz')).json()).toEqual({ status: 'ready', datasets: 2 });
    expect((await get('/metrics')).body).toContain('ondijon_opendata_api_http_request_duration_seconds');
    const doc = (await get('/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/api/3/action/datastore_search');
  });
});

describe('rate limiting', () => {
  it('answers 429 past the configured budget, never on probes', async () => {
    const limited = await fixtureApp({
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_MAX: '3',
      RATE_LIMIT_WINDOW_MS: '60000',
    });
    try {
      const codes = [];
      for (let i = 0; i < 5; i++)
        codes.push((await limited.app.server.inject({ url: '/api/3/action/package_list' })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      expect((await limited.app.server.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await limited.cleanup();
    }
  });
});
