import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DIJON_METROPOLE, LICENCE, TABLE_SCHEMA_URI, type Agent } from '@ondijon/opendata';
import {
  DISTRIBUTIONS,
  allDatasetViews,
  baseUrl,
  fileFacts,
  fileUrl,
  type ApiContext,
  type DatasetView,
} from '../context';
import { Graph, iri, lit, toJsonLd, toTurtle, type Term } from '../rdf';

/**
 * DCAT-AP 3.0 catalogue (https://semiceu.github.io/DCAT-AP/releases/3.0.0/) in JSON-LD and Turtle,
 * with every mandatory and recommended property of Catalogue, Dataset, Distribution, Agent, Licence
 * Document, Location, Period of Time and Contact point that the store knows. `/catalog` and `/dcat`
 * negotiate on Accept; `.jsonld` and `.ttl` suffixes choose explicitly.
 */

const EU = 'http://publications.europa.eu/resource/authority';
const dt = (s: string) => lit(s, { datatype: 'xsd:dateTime' });

function agent(g: Graph, a: Agent): Term {
  return g.named(
    a.uri,
    ['foaf:Agent', 'foaf:Organization'],
    [
      ['foaf:name', lit(a.name, { lang: 'fr' })],
      ['dct:type', iri(a.type)],
      ['dct:identifier', lit(a.siren)],
      ['foaf:homepage', iri(a.homepage)],
      ['foaf:mbox', iri(`mailto:${a.email}`)],
    ],
  );
}

/** Builds the catalogue graph from the store. */
export function buildDcatGraph(base: string, siteTitle: string, views: DatasetView[]): Graph {
  const g = new Graph();
  const publisher = agent(g, DIJON_METROPOLE);
  const licence = g.named(
    LICENCE.uri,
    ['dct:LicenseDocument'],
    [
      ['dct:title', lit(LICENCE.title, { lang: 'fr' })],
      ['dct:type', iri('http://purl.org/adms/licencetype/Attribution')],
    ],
  );
  const metropole = g.named(
    'https://geo.api.gouv.fr/epcis/242100410',
    ['dct:Location'],
    [['skos:prefLabel', lit('Dijon Métropole', { lang: 'fr' })]],
  );
  const fr = iri(`${EU}/language/FRA`);
  const en = iri(`${EU}/language/ENG`);
  const datasetTerms: Term[] = [];
  const locations = new Map<string, Term>();

  for (const v of views) {
    const m = v.meta;
    const dsIri = `${base}/datasets/${m.id}`;
    const contact = g.blank(
      ['vcard:Organization'],
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
    const spatial = m.spatial.map((s) => {
      let t = locations.get(s.insee);
      if (!t) {
        t = g.named(
          s.uri,
          ['dct:Location'],
          [
            ['skos:prefLabel', lit(s.name, { lang: 'fr' })],
            ['dct:identifier', lit(s.insee)],
            // Approximate town centre, not an official centroid (see the dataset's spatialNote).
            [
              'dcat:centroid',
              lit(`POINT(${s.centre[0]} ${s.centre[1]})`, { datatype: 'geosparql:wktLiteral' }),
            ],
          ],
        );
        locations.set(s.insee, t);
      }
      return t;
    });
    const schemaDoc = g.named(
      `${base}/files/datasets/${m.id}/releases/${v.release.releaseId}/schema.json`,
      ['dct:Standard'],
      [
        ['dct:title', lit(`Table Schema — ${m.id}`)],
        ['dct:conformsTo', iri(TABLE_SCHEMA_URI)],
      ],
    );
    const distributions = DISTRIBUTIONS.filter((d) => fileFacts(v, d.file)).map((d) => {
      const facts = fileFacts(v, d.file)!;
      const url = fileUrl(base, m.id, v.release.releaseId, d.file);
      const checksum = g.blank(
        ['spdx:Checksum'],
        [
          ['spdx:algorithm', iri('http://spdx.org/rdf/terms#checksumAlgorithm_sha256')],
          ['spdx:checksumValue', lit(facts.sha256, { datatype: 'xsd:hexBinary' })],
        ],
      );
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
          ['dct:format', iri(`${EU}/file-type/${d.euFormat}`)],
          ['dcat:mediaType', iri(`https://www.iana.org/assignments/media-types/${d.mediaType}`)],
          ['dct:license', licence],
          ['dcatap:availability', iri('http://data.europa.eu/r5r/availability/stable')],
          ['adms:status', iri('http://purl.org/adms/status/Completed')],
          [
            'dcat:byteSize',
            facts.bytes === undefined ? undefined : lit(facts.bytes, { datatype: 'xsd:nonNegativeInteger' }),
          ],
          ['spdx:checksum', checksum],
          ['dct:issued', dt(v.release.publishedAt)],
          ['dct:modified', dt(v.release.publishedAt)],
          ['dct:language', fr],
          [
            'dct:conformsTo',
            d.key === 'csv'
              ? schemaDoc
              : d.key === 'geojson'
                ? iri('https://www.rfc-editor.org/rfc/rfc7946')
                : undefined,
          ],
          [
            'dct:rights',
            lit('Licence Ouverte 2.0 — réutilisation libre avec mention de la source (Dijon Métropole).', {
              lang: 'fr',
            }),
          ],
        ],
      );
    });
    const props: [Parameters<Graph['named']>[2][number][0], Term | undefined][] = [
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
      ['dct:spatial', metropole],
      ...spatial.map((s) => ['dct:spatial', s] as ['dct:spatial', Term]),
      ['dct:temporal', temporal],
      ...m.themes.map((t) => ['dcat:theme', iri(`${EU}/data-theme/${t}`)] as ['dcat:theme', Term]),
      ['dct:accessRights', iri(`${EU}/access-right/PUBLIC`)],
      ['dct:accrualPeriodicity', iri(`${EU}/frequency/${m.accrualPeriodicity}`)],
      [
        'dcat:temporalResolution',
        m.temporalResolution ? lit(m.temporalResolution, { datatype: 'xsd:duration' }) : undefined,
      ],
      ['dct:issued', dt(m.issued)],
      ['dct:modified', dt(m.modified)],
      ['dct:language', fr],
      ['dct:language', en],
      ['dcat:landingPage', m.landingPage ? iri(m.landingPage) : undefined],
      ...m.conformsTo.map((c) => ['dct:conformsTo', iri(c)] as ['dct:conformsTo', Term]),
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
      ['dct:type', iri(`${EU}/dataset-type/STATISTICAL`)],
      ['rdfs:comment', lit(m.spatialNote, { lang: 'fr' })],
    ];
    datasetTerms.push(g.named(dsIri, ['dcat:Dataset'], props));
  }

  const modified = views.map((v) => v.meta.modified).sort((a, b) => Date.parse(a) - Date.parse(b));
  const issued = views.map((v) => v.meta.issued).sort((a, b) => Date.parse(a) - Date.parse(b));
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
      ['foaf:homepage', iri(`${base}/`)],
      ['dct:language', fr],
      ['dct:language', en],
      ['dct:license', licence],
      ['dct:issued', issued[0] ? dt(issued[0]) : undefined],
      ['dct:modified', modified.length ? dt(modified[modified.length - 1]!) : undefined],
      ['dct:spatial', metropole],
      ['dcat:themeTaxonomy', iri(`${EU}/data-theme`)],
      ['dct:rights', lit('Licence Ouverte 2.0 (Etalab)', { lang: 'fr' })],
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
    const g = buildDcatGraph(baseUrl(ctx, req), ctx.config.SITE_TITLE, await allDatasetViews(ctx));
    reply.header('vary', 'Accept');
    if (format === 'ttl') return reply.type('text/turtle; charset=utf-8').send(toTurtle(g));
    return reply.type('application/ld+json; charset=utf-8').send(JSON.stringify(toJsonLd(g)));
  };
  for (const path of ['/catalog', '/dcat']) {
    app.get(path, async (req, reply) => {
      const format = negotiate(req.headers.accept);
      if (!format)
        return reply
          .code(406)
          .send({ error: 'Not Acceptable', message: 'Available: application/ld+json, text/turtle' });
      return send(req, reply, format);
    });
    app.get(`${path}.jsonld`, async (req, reply) => send(req, reply, 'jsonld'));
    app.get(`${path}.ttl`, async (req, reply) => send(req, reply, 'ttl'));
  }
}
