import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpendataApiApp } from '../src/index';
import { fixtureApp } from './fixture';

// The served catalogue against the official DCAT-AP 3.0.1 SHACL shapes (vendored in test/shapes),
// with pyshacl (PyPI; ./ondijon's ensure_python_tools installs it). The mandatory shapes
// (shapes.ttl, range.ttl) and the recommended ones (shapes_recommended.ttl) report nothing at all.
// The controlled-vocabulary shapes (mdr-vocabularies, deprecateduris) report only what the data
// cannot fill, each listed below with its reason; anything else fails.

const DCT = 'http://purl.org/dc/terms/';
/** Results of the vocabulary shapes that no data of ours can satisfy, and why. */
const CANNOT_FILL: { why: string; match: (r: Result) => boolean }[] = [
  {
    why: 'dct:publisher must be in the EU corporate-body list, which holds EU and national bodies, not a French EPCI (Dijon Métropole is identified by its SIREN IRI)',
    match: (r) =>
      r.path === `${DCT}publisher` ||
      r.focus === 'https://annuaire-entreprises.data.gouv.fr/entreprise/242100410',
  },
  {
    why: 'dct:spatial must be an EU place/country/continent concept or a GeoNames IRI; the communes are identified by their INSEE codes (geo.api.gouv.fr IRIs, official contours) and have no EU place code',
    match: (r) => r.path === `${DCT}spatial` || r.message.includes(':CountryRestriction'),
  },
  {
    why: "the shape wants spdx:algorithm IRIs to start with https://spdx.org/rdf/terms, but the SPDX vocabulary (and DCAT-AP 3.0.1's own examples) use http://spdx.org/rdf/terms#checksumAlgorithm_sha256",
    match: (r) =>
      r.path === 'http://spdx.org/rdf/terms#algorithm' || r.message.includes("'^https://spdx.org/rdf/terms'"),
  },
  {
    why: 'deprecateduris.ttl warns that the adms:status code list changed in 3.0.0; we use the new one (EU distribution-status), which mdr-vocabularies requires',
    match: (r) =>
      r.path === 'http://www.w3.org/ns/adms#status' ||
      r.focus === 'http://publications.europa.eu/resource/authority/distribution-status/COMPLETED',
  },
];
const STRICT = ['shapes.ttl', 'range.ttl', 'shapes_recommended.ttl'];

const SHAPES = resolve(import.meta.dirname, 'shapes/dcat-ap-3.0.1');
const SCRIPT = resolve(import.meta.dirname, 'fixtures/shacl_validate.py');
const hasPyshacl = spawnSync('python3', ['-c', 'import pyshacl'], { encoding: 'utf8' }).status === 0;

let app: OpendataApiApp;
let cleanup: () => Promise<void>;
let tmp: string;
beforeAll(async () => {
  ({ app, cleanup } = await fixtureApp());
  tmp = await mkdtemp(join(tmpdir(), 'od-shacl-'));
});
afterAll(async () => {
  await cleanup();
  await rm(tmp, { recursive: true, force: true });
});

interface Result {
  severity: string;
  focus: string;
  path: string;
  message: string;
}
interface Report {
  triples: number;
  files: Record<string, { conforms: boolean; results: Result[] }>;
}

async function validate(url: string, file: string, format: string): Promise<Report> {
  const res = await app.server.inject({ method: 'GET', url });
  expect(res.statusCode).toBe(200);
  await writeFile(join(tmp, file), res.body);
  const run = spawnSync('python3', [SCRIPT, join(tmp, file), format, SHAPES], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Report;
}

describe.skipIf(!hasPyshacl)('DCAT-AP 3.0.1 SHACL (pyshacl)', () => {
  for (const [url, file, format] of [
    ['/catalog.ttl', 'catalog.ttl', 'turtle'],
    ['/catalog.jsonld', 'catalog.jsonld', 'json-ld'],
  ] as const) {
    it(`${url}: mandatory and recommended shapes report nothing; vocabulary shapes only what the data cannot fill`, async () => {
      const report = await validate(url, file, format);
      expect(report.triples).toBeGreaterThan(300);
      expect(Object.keys(report.files)).toHaveLength(5);
      for (const name of STRICT) {
        const r = report.files[name]!;
        expect(r.results, `${name}: ${JSON.stringify(r.results.slice(0, 5), null, 1)}`).toEqual([]);
        expect(r.conforms, name).toBe(true);
      }
      for (const name of ['mdr-vocabularies.shape.ttl', 'deprecateduris.ttl']) {
        const unexplained = report.files[name]!.results.filter((r) => !CANNOT_FILL.some((c) => c.match(r)));
        expect(unexplained, name).toEqual([]);
      }
    }, 120_000);
  }

  it('the shapes do catch a literal dct:rights (the check is live)', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/catalog.ttl' });
    const broken = res.body.replace(/dct:rights <[^>]+>/, 'dct:rights "Licence Ouverte 2.0"@fr');
    expect(broken).not.toBe(res.body);
    await writeFile(join(tmp, 'broken.ttl'), broken);
    const run = spawnSync('python3', [SCRIPT, join(tmp, 'broken.ttl'), 'turtle', SHAPES], {
      encoding: 'utf8',
    });
    const report = JSON.parse(run.stdout) as Report;
    expect(report.files['shapes.ttl']!.conforms).toBe(false);
    expect(report.files['shapes.ttl']!.results.map((r) => r.path)).toContain(
      'http://purl.org/dc/terms/rights',
    );
  }, 120_000);
});
