import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  COMMUNE_COVERAGE,
  DIJON_METROPOLE,
  GEOJSON_URI,
  LICENCE,
  SPATIAL_NOTE,
  TABLE_SCHEMA_URI,
  type Agent,
} from '@ondijon/opendata';
import {
  DISTRIBUTIONS,
  allDatasetViews,
  baseUrl,
  fileFacts,
  fileUrl,
  type ApiContext,
  type DatasetView,
} from '../context';
import { OTHER_ROUTES } from '../contract';
import { Graph, iri, lit, toJsonLd, toTurtle, type CIri, type Term } from '../rdf';
import { registerDatasetId, registerInfo, registerUrl } from '../registers';

/**
 * DCAT-AP 3.0.1 catalogue (https://semiceu.github.io/DCAT-AP/releases/3.0.1/) in JSON-LD and Turtle,
 * with every mandatory and recommended property of Catalogue, Dataset, Distribution, Agent, Licence
 * Document, Location, Period of Time and Contact point that the store knows. `/catalog` and `/dcat`
 * negotiate on Accept; `.jsonld` and `.ttl` suffixes choose explicitly.
 */

const EU = 'http://publications.europa.eu/resource/authority';
const dt = (s: string) => lit(s, { datatype: 'xsd:dateTime' });

/** Labels of the EU controlled-vocabulary concepts the catalogue uses (skos:prefLabel is mandatory). */
const EU_LABELS: Record<string, Record<string, string>> = {
  language: { FRA: 'français', ENG: 'anglais' },
  'data-theme': {
    AGRI: 'Agriculture, pêche, sylviculture et alimentation',
    ECON: 'Économie et finances',
    EDUC: 'Éducation, culture et sport',
    ENER: 'Énergie',
    ENVI: 'Environnement',
    GOVE: 'Gouvernement et secteur public',
    HEAL: 'Santé',
    INTR: 'Questions internationales',
    JUST: 'Justice, système juridique et sécurité publique',
    REGI: 'Régions et villes',
    SOCI: 'Population et société',
    TECH: 'Science et technologie',
    TRAN: 'Transports',
  },
  frequency: {
    CONT: 'continue',
    UPDATE_CONT: 'mise à jour continue',
    HOURLY: 'toutes les heures',
    DAILY: 'quotidienne',
    WEEKLY: 'hebdomadaire',
    MONTHLY: 'mensuelle',
    IRREG: 'irrégulière',
  },
  'file-type': { CSV: 'CSV', GEOJSON: 'GeoJSON', JSON: 'JSON' },
  'access-right': { PUBLIC: 'public' },
  'dataset-type': { STATISTICAL: 'données statistiques' },
  'planned-availability': { STABLE: 'stable' },
  'distribution-status': { COMPLETED: 'achevé' },
};
const SCHEME_TITLES: Record<string, string> = {
  language: 'Languages',
  'data-theme': 'Data theme',
  frequency: 'Frequency',
  'file-type': 'File type',
  'access-right': 'Access right',
  'dataset-type': 'Dataset type',
  'planned-availability': 'Planned availability',
  'distribution-status': 'Distribution status',
};
/** Extra classes a concept of a vocabulary must carry (DCAT-AP range.ttl). */
const SCHEME_CLASSES: Record<string, CIri[]> = {
  language: ['dct:LinguisticSystem'],
  frequency: ['dct:Frequency'],
  'file-type': ['dct:MediaTypeOrExtent'],
  'access-right': ['dct:RightsStatement'],
};

/**
 * A concept of an EU Publications Office vocabulary, typed and placed in its scheme in the graph
 * itself, so validators need no network access to the vocabularies (DCAT-AP range and
 * controlled-vocabulary shapes check class and skos:inScheme).
 */
function euConcept(g: Graph, scheme: string, code: string): Term {
  const schemeIri = `${EU}/${scheme}`;
  g.once(
    schemeIri,
    ['skos:ConceptScheme'],
    [['dct:title', lit(SCHEME_TITLES[scheme] ?? scheme, { lang: 'en' })]],
  );
  return g.once(
    `${schemeIri}/${code}`,
    ['skos:Concept', ...(SCHEME_CLASSES[scheme] ?? [])],
    [
      ['skos:prefLabel', lit(EU_LABELS[scheme]?.[code] ?? code, { lang: 'fr' })],
      ['skos:inScheme', iri(schemeIri)],
    ],
  );
}

/** A concept of an ADMS vocabulary (publisher type, licence type). */
function admsConcept(g: Graph, vocab: 'publishertype' | 'licencetype', iriOf: string, label: string): Term {
  const scheme = `http://purl.org/adms/${vocab}/1.0`;
  g.once(scheme, ['skos:ConceptScheme'], [['dct:title', lit(`ADMS ${vocab}`, { lang: 'en' })]]);
  return g.once(
    iriOf,
    ['skos:Concept'],
    [
      ['skos:prefLabel', lit(label, { lang: 'en' })],
      ['skos:inScheme', iri(scheme)],
    ],
  );
}

const doc = (g: Graph, url: string) => g.once(url, ['foaf:Document'], []);
const standard = (g: Graph, url: string) => g.once(url, ['dct:Standard'], []);

function agent(g: Graph, a: Agent): Term {
  return g.once(
    a.uri,
    ['foaf:Agent', 'foaf:Organization'],
    [
      ['foaf:name', lit(a.name, { lang: 'fr' })],
      ['dct:type', admsConcept(g, 'publishertype', a.type, 'Local Authority')],
      ['dct:identifier', lit(a.siren)],
      ['foaf:homepage', doc(g, a.homepage)],
      ['foaf:mbox', iri(`mailto:${a.email}`)],
    ],
  );
}

/** WKT of the box around points [lon, lat] and of their mean (approximate town centres, not contours). */
export function boxAndCentroid(points: readonly (readonly [number, number])[]): {
  bbox: string;
  centroid: string;
} {
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const [w, e, s, n] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const r = (x: number) => Math.round(x * 1e5) / 1e5;
  const cx = r(lons.reduce((a, b) => a + b, 0) / lons.length);
  const cy = r(lats.reduce((a, b) => a + b, 0) / lats.length);
  return {
    bbox: `POLYGON((${w} ${s}, ${e} ${s}, ${e} ${n}, ${w} ${n}, ${w} ${s}))`,
    centroid: `POINT(${cx} ${cy})`,
  };
}

const wkt = (s: string) => lit(s, { datatype: 'geosparql:wktLiteral' });

/** A public register as the catalogue describes it. */
export interface RegisterDataset {
  name: string;
  datasetId: string;
  title: { fr: string; en: string };
  description: { fr: string; en: string };
  keywords: { fr: string[]; en: string[] };
  url: string;
  updatedAt: string;
  bytes: number;
  sha256: string;
}

/** Builds the catalogue graph from the store. */
export function buildDcatGraph(
  base: string,
  siteTitle: string,
  views: DatasetView[],
  registers: RegisterDataset[] = [],
): Graph {
  const g = new Graph();
  const publisher = agent(g, DIJON_METROPOLE);
  const licence = g.once(
    LICENCE.uri,
    ['dct:LicenseDocument'],
    [
      ['dct:title', lit(LICENCE.title, { lang: 'fr' })],
      ['dct:identifier', lit(LICENCE.id)],
      [
        'dct:type',
        admsConcept(g, 'licencetype', 'http://purl.org/adms/licencetype/Attribution', 'Attribution'),
      ],
    ],
  );
  const rights = g.once(
    `${base}/catalog#rights`,
    ['dct:RightsStatement'],
    [
      [
        'rdfs:label',
        lit('Licence Ouverte 2.0 — réutilisation libre avec mention de la source (Dijon Métropole).', {
          lang: 'fr',
        }),
      ],
      [
        'rdfs:label',
        lit('Open Licence 2.0 — free reuse with attribution of the source (Dijon Métropole).', {
          lang: 'en',
        }),
      ],
    ],
  );
  const all = boxAndCentroid(COMMUNE_COVERAGE.map((c) => c.centre));
  const metropole = g.once(
    'https://geo.api.gouv.fr/epcis/242100410',
    ['dct:Location'],
    [
      ['skos:prefLabel', lit('Dijon Métropole', { lang: 'fr' })],
      ['dcat:bbox', wkt(all.bbox)],
      ['dcat:centroid', wkt(all.centroid)],
      ['rdfs:comment', lit(SPATIAL_NOTE, { lang: 'fr' })],
    ],
  );
  const fr = euConcept(g, 'language', 'FRA');
  const en = euConcept(g, 'language', 'ENG');
  const available = euConcept(g, 'planned-availability', 'STABLE');
  const completed = euConcept(g, 'distribution-status', 'COMPLETED');
  const publicAccess = euConcept(g, 'access-right', 'PUBLIC');
  const statistical = euConcept(g, 'dataset-type', 'STATISTICAL');
  const mediaType = (t: string) =>
    g.once(`https://www.iana.org/assignments/media-types/${t}`, ['dct:MediaType'], []);
  const checksum = (sha: string) =>
    g.blank(
      ['spdx:Checksum'],
      [
        [
          'spdx:algorithm',
          g.once('http://spdx.org/rdf/terms#checksumAlgorithm_sha256', ['spdx:ChecksumAlgorithm'], []),
        ],
        ['spdx:checksumValue', lit(sha, { datatype: 'xsd:hexBinary' })],
      ],
    );
  const datasetTerms: Term[] = [];

  for (const v of views) {
    const m = v.meta;
    const dsIri = `${base}/datasets/${m.id}`;
    const contact = g.blank(
      ['vcard:Kind', 'vcard:Organization'],
      [
        ['vcard:fn', lit(m.contactPoint.name)],
        ['vcard:hasEmail', iri(`mailto:${m.contactPoint.email}`)],
        ['vcard:hasURL', m.contactPoint.url ? iri(m.contactPoint.url) : undefined],
      ],
    );
    const temporal = m.temporal
      ? g.blank(
          ['dct:PeriodOfTime'],
          [
            ['dcat:startDate', dt(m.temporal.start)],
            ['dcat:endDate', dt(m.temporal.end)],
          ],
        )
      : undefined;
    // One Location per dataset: the box and mean of the approximate centres of its communes, which
    // are listed as its parts (geo.api.gouv.fr IRIs, which resolve to the official contours).
    const box = m.spatial.length ? boxAndCentroid(m.spatial.map((s) => s.centre)) : undefined;
    const spatial = box
      ? g.named(
          `${dsIri}/spatial`,
          ['dct:Location'],
          [
            [
              'skos:prefLabel',
              lit(`Dijon Métropole — ${m.spatial.length} commune${m.spatial.length > 1 ? 's' : ''}`, {
                lang: 'fr',
              }),
            ],
            ['dcat:bbox', wkt(box.bbox)],
            ['dcat:centroid', wkt(box.centroid)],
            ...m.spatial.map((s) => ['dct:hasPart', iri(s.uri)] as ['dct:hasPart', Term]),
            ['rdfs:comment', lit(m.spatialNote, { lang: 'fr' })],
          ],
        )
      : metropole;
    for (const s of m.spatial)
      g.once(
        s.uri,
        [],
        [
          ['skos:prefLabel', lit(s.name, { lang: 'fr' })],
          ['dct:identifier', lit(s.insee)],
        ],
      );
    const schemaDoc = g.once(
      `${base}/files/datasets/${m.id}/releases/${v.release.releaseId}/schema.json`,
      ['dct:Standard'],
      [
        ['dct:title', lit(`Table Schema — ${m.id}`)],
        ['dct:conformsTo', standard(g, TABLE_SCHEMA_URI)],
      ],
    );
    const distributions = DISTRIBUTIONS.filter((d) => fileFacts(v, d.file)).map((d) => {
      const facts = fileFacts(v, d.file)!;
      const url = fileUrl(base, m.id, v.release.releaseId, d.file);
      const access =
        d.key === 'csv' ? iri(`${base}/api/3/action/datastore_search?resource_id=${m.id}`) : iri(url);
      return g.named(
        `${dsIri}/distributions/${d.key}`,
        ['dcat:Distribution'],
        [
          ['dcat:accessURL', access],
          ['dcat:downloadURL', iri(url)],
          ['dct:title', lit(`${m.title.fr} (${d.format})`, { lang: 'fr' })],
          [
            'dct:description',
            lit(
              d.key === 'release-notes'
                ? 'Notes de version : seuils, cellules masquées, budget, lignée, sommes de contrôle.'
                : `${m.description.fr} Version ${v.release.releaseId}.`,
              { lang: 'fr' },
            ),
          ],
          ['dct:format', euConcept(g, 'file-type', d.euFormat)],
          ['dcat:mediaType', mediaType(d.mediaType)],
          ['dct:license', licence],
          ['dct:rights', rights],
          ['dcatap:availability', available],
          ['adms:status', completed],
          [
            'dcat:byteSize',
            facts.bytes === undefined ? undefined : lit(facts.bytes, { datatype: 'xsd:nonNegativeInteger' }),
          ],
          ['spdx:checksum', checksum(facts.sha256)],
          ['dct:issued', dt(v.release.publishedAt)],
          ['dct:modified', dt(v.release.publishedAt)],
          ['dct:language', fr],
          [
            'dct:conformsTo',
            d.key === 'csv' ? schemaDoc : d.key === 'geojson' ? standard(g, GEOJSON_URI) : undefined,
          ],
        ],
      );
    });
    const props: [CIri, Term | undefined][] = [
      ['dct:title', lit(m.title.fr, { lang: 'fr' })],
      ['dct:title', lit(m.title.en, { lang: 'en' })],
      ['dct:description', lit(m.description.fr, { lang: 'fr' })],
      ['dct:description', lit(m.description.en, { lang: 'en' })],
      ['dct:identifier', lit(m.id)],
      ['dcat:contactPoint', contact],
      ...distributions.map((d) => ['dcat:distribution', d] as ['dcat:distribution', Term]),
      ...m.keywords.fr.map((k) => ['dcat:keyword', lit(k, { lang: 'fr' })] as ['dcat:keyword', Term]),
      ...m.keywords.en.map((k) => ['dcat:keyword', lit(k, { lang: 'en' })] as ['dcat:keyword', Term]),
      ['dct:publisher', publisher],
      ['dct:creator', publisher],
      ['dct:spatial', spatial],
      ['dct:temporal', temporal],
      ...m.themes.map((t) => ['dcat:theme', euConcept(g, 'data-theme', t)] as ['dcat:theme', Term]),
      ['dct:accessRights', publicAccess],
      ['dct:accrualPeriodicity', euConcept(g, 'frequency', m.accrualPeriodicity)],
      [
        'dcat:temporalResolution',
        m.temporalResolution ? lit(m.temporalResolution, { datatype: 'xsd:duration' }) : undefined,
      ],
      ['dct:issued', dt(m.issued)],
      ['dct:modified', dt(m.modified)],
      ['dct:language', fr],
      ['dct:language', en],
      ['dcat:landingPage', m.landingPage ? doc(g, m.landingPage) : undefined],
      ...m.conformsTo.map((c) => ['dct:conformsTo', standard(g, c)] as ['dct:conformsTo', Term]),
      [
        'dct:provenance',
        m.provenance
          ? g.blank(
              ['dct:ProvenanceStatement'],
              [['rdfs:label', lit(`${m.provenance} — politique ${v.notes.policyRevision}`, { lang: 'fr' })]],
            )
          : undefined,
      ],
      ['dcat:version', lit(m.version)],
      [
        'adms:versionNotes',
        lit(
          `Version ${v.release.releaseId} : ${v.notes.suppressedCells} cellules masquées, ε = ${v.notes.budget.epsilon}.`,
          { lang: 'fr' },
        ),
      ],
      ['dct:type', statistical],
      ['rdfs:comment', lit(m.spatialNote, { lang: 'fr' })],
    ];
    datasetTerms.push(g.named(dsIri, ['dcat:Dataset'], props));
  }

  const issuedAll = views.map((v) => v.meta.issued).sort((a, b) => Date.parse(a) - Date.parse(b));
  for (const r of registers) {
    const dsIri = `${base}/datasets/${r.datasetId}`;
    const dist = g.named(
      `${dsIri}/distributions/json`,
      ['dcat:Distribution'],
      [
        ['dcat:accessURL', iri(r.url)],
        ['dcat:downloadURL', iri(r.url)],
        ['dct:title', lit(`${r.title.fr} (JSON)`, { lang: 'fr' })],
        ['dct:description', lit(r.description.fr, { lang: 'fr' })],
        ['dct:format', euConcept(g, 'file-type', 'JSON')],
        ['dcat:mediaType', mediaType('application/json')],
        ['dct:license', licence],
        ['dct:rights', rights],
        ['dcatap:availability', available],
        ['adms:status', completed],
        ['dcat:byteSize', lit(r.bytes, { datatype: 'xsd:nonNegativeInteger' })],
        ['spdx:checksum', checksum(r.sha256)],
        ['dct:modified', dt(r.updatedAt)],
        ['dct:language', en],
      ],
    );
    datasetTerms.push(
      g.named(
        dsIri,
        ['dcat:Dataset'],
        [
          ['dct:title', lit(r.title.fr, { lang: 'fr' })],
          ['dct:title', lit(r.title.en, { lang: 'en' })],
          ['dct:description', lit(r.description.fr, { lang: 'fr' })],
          ['dct:description', lit(r.description.en, { lang: 'en' })],
          ['dct:identifier', lit(r.datasetId)],
          [
            'dcat:contactPoint',
            g.blank(
              ['vcard:Kind', 'vcard:Organization'],
              [
                ['vcard:fn', lit(DIJON_METROPOLE.name)],
                ['vcard:hasEmail', iri(`mailto:${DIJON_METROPOLE.email}`)],
              ],
            ),
          ],
          ['dcat:distribution', dist],
          ...r.keywords.fr.map((k) => ['dcat:keyword', lit(k, { lang: 'fr' })] as ['dcat:keyword', Term]),
          ...r.keywords.en.map((k) => ['dcat:keyword', lit(k, { lang: 'en' })] as ['dcat:keyword', Term]),
          ['dct:publisher', publisher],
          ['dct:spatial', metropole],
          // The register covers the releases from the first one to its last update.
          [
            'dct:temporal',
            g.blank(
              ['dct:PeriodOfTime'],
              [
                ['dcat:startDate', issuedAll[0] ? dt(issuedAll[0]) : dt(r.updatedAt)],
                ['dcat:endDate', dt(r.updatedAt)],
              ],
            ),
          ],
          ['dcat:theme', euConcept(g, 'data-theme', 'GOVE')],
          ['dct:accessRights', publicAccess],
          ['dct:accrualPeriodicity', euConcept(g, 'frequency', 'DAILY')],
          ['dct:modified', dt(r.updatedAt)],
          ['dct:language', fr],
          ['dct:language', en],
        ],
      ),
    );
  }

  const modified = [...views.map((v) => v.meta.modified), ...registers.map((r) => r.updatedAt)].sort(
    (a, b) => Date.parse(a) - Date.parse(b),
  );
  g.named(
    `${base}/catalog`,
    ['dcat:Catalog'],
    [
      ['dct:title', lit(siteTitle, { lang: 'fr' })],
      ['dct:title', lit('OnDijon — open data of Dijon Métropole', { lang: 'en' })],
      [
        'dct:description',
        lit(
          'Données ouvertes anonymisées et agrégées issues des équipements des 23 communes de Dijon Métropole.',
          { lang: 'fr' },
        ),
      ],
      [
        'dct:description',
        lit('Anonymised, aggregated open data from the equipment of the 23 communes of Dijon Métropole.', {
          lang: 'en',
        }),
      ],
      ['dct:publisher', publisher],
      ['foaf:homepage', doc(g, `${base}/`)],
      ['dct:language', fr],
      ['dct:language', en],
      ['dct:license', licence],
      ['dct:issued', issuedAll[0] ? dt(issuedAll[0]) : undefined],
      ['dct:modified', modified.length ? dt(modified[modified.length - 1]!) : undefined],
      ['dct:spatial', metropole],
      ['dcat:themeTaxonomy', iri(`${EU}/data-theme`)],
      ['dct:rights', rights],
      ...datasetTerms.map((d) => ['dcat:dataset', d] as ['dcat:dataset', Term]),
    ],
  );
  return g;
}

/** Chooses Turtle or JSON-LD from an Accept header (q-values honoured); null when neither is acceptable. */
export function negotiate(accept: string | undefined): 'ttl' | 'jsonld' | null {
  if (!accept) return 'jsonld';
  const prefs = accept
    .split(',')
    .map((part, i) => {
      const [type, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const qv = q ? Number(q.slice(2)) : 1;
      return { type: type!.trim(), q: Number.isFinite(qv) ? qv : 0, i };
    })
    .filter((p) => p.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const p of prefs) {
    if (p.type === 'text/turtle' || p.type === 'application/x-turtle') return 'ttl';
    if (
      ['application/ld+json', 'application/json', 'application/*', '*/*', 'text/*', 'text/html'].includes(
        p.type,
      )
    )
      return p.type === 'text/*' ? 'ttl' : 'jsonld';
  }
  return null;
}

/** Registers `/catalog`, `/dcat` and their `.jsonld` / `.ttl` forms. */
export async function dcatPlugin(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  const send = async (req: FastifyRequest, reply: FastifyReply, format: 'ttl' | 'jsonld') => {
    const base = baseUrl(ctx, req);
    const registers = (await ctx.reader.registerFiles()).map((r) => ({
      ...registerInfo(r.name),
      name: r.name,
      datasetId: registerDatasetId(r.name),
      url: registerUrl(base, r.name),
      updatedAt: r.updatedAt,
      bytes: r.bytes,
      sha256: r.sha256,
    }));
    const g = buildDcatGraph(base, ctx.config.SITE_TITLE, await allDatasetViews(ctx), registers);
    reply.header('vary', 'Accept');
    if (format === 'ttl') return reply.type('text/turtle; charset=utf-8').send(toTurtle(g));
    return reply.type('application/ld+json; charset=utf-8').send(JSON.stringify(toJsonLd(g)));
  };
  for (const path of ['/catalog', '/dcat']) {
    const hide = path !== '/catalog';
    app.get(path, { schema: hide ? { hide } : OTHER_ROUTES.catalog }, async (req, reply) => {
      const format = negotiate(req.headers.accept);
      if (!format)
        return reply
          .code(406)
          .send({ error: 'Not Acceptable', message: 'Available: application/ld+json, text/turtle' });
      return send(req, reply, format);
    });
    app.get(`${path}.jsonld`, { schema: hide ? { hide } : OTHER_ROUTES.catalogJsonLd }, async (req, reply) =>
      send(req, reply, 'jsonld'),
    );
    app.get(`${path}.ttl`, { schema: hide ? { hide } : OTHER_ROUTES.catalogTurtle }, async (req, reply) =>
      send(req, reply, 'ttl'),
    );
  }
}
