import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { csvCell, rowsToFeatureCollection, type Row } from '@ondijon/opendata';
import {
  allDatasetViews,
  baseUrl,
  datasetView,
  fileUrl,
  packageUuid,
  type ApiContext,
  type DatasetView,
} from '../context';
import {
  MAX_FACETS,
  aggregate,
  facetPredicate,
  hasAggregates,
  parseGroupBy,
  parseSelect,
  sortAggregated,
} from '../aggregate';
import {
  QueryError,
  asText,
  fieldValue,
  heavyGate,
  parseSort,
  project,
  runQuery,
  type QueryField,
  OFFLOAD_ABOVE,
} from '../query';
import {
  EXPLORE_ROUTES,
  MAX_WINDOW,
  type ExportsQuery,
  type RecordsQuery as RecordsParams,
} from '../contract';
import { ExploreError } from '../errors';
import { compileWhere } from '../where';

/**
 * Explore API v2.1 subset (Opendatasoft), under `/api/explore/v2.1`: the catalogue, one dataset,
 * its records (select with aggregates, where, group_by, order_by, refine, exclude, limit ≤ 100,
 * offset) and exports (csv, json, geojson; streamed). An unknown or unimplemented parameter is a
 * 400 naming it: no parameter is ever ignored.
 * Errors are Explore's: HTTP 400 `{error_code, message}` (ODSQLError for `where`/`select`/`order_by`,
 * InvalidRESTParameterError for limit/offset…), HTTP 404 `{error_code: 'NotFound', message}`.
 * A QueryError of where/select/group_by/order_by is thrown as it is, here or in the scan worker
 * (which sends it back as a QueryError: services/opendata-api/src/scan-pool.ts); the error handler
 * alone turns it into Explore's ODSQLError (services/opendata-api/src/errors.ts).
 */

const ODS_TYPES: Record<string, string> = {
  string: 'text',
  integer: 'int',
  number: 'double',
  boolean: 'boolean',
  datetime: 'datetime',
  date: 'date',
};

function exploreFields(v: {
  schema: {
    fields: {
      name: string;
      type: string;
      title?: string | undefined;
      description?: string | undefined;
      unit?: string | undefined;
    }[];
  };
}) {
  return v.schema.fields.map((f) => ({
    name: f.name,
    label: f.title ?? f.name,
    type: ODS_TYPES[f.type] ?? 'text',
    description: f.description ?? null,
    annotations: f.unit ? { unit: f.unit } : {},
  }));
}

async function datasetObject(ctx: ApiContext, base: string, v: DatasetView) {
  const { schema } = await ctx.reader.rows(v.meta.id, v.release.releaseId);
  const m = v.meta;
  return {
    dataset_id: m.id,
    dataset_uid: `da_${packageUuid(m.id).replaceAll('-', '').slice(0, 6)}`,
    attachments: [
      {
        id: 'release-notes',
        mimetype: 'application/json',
        title: 'Release notes',
        url: fileUrl(base, m.id, v.release.releaseId, 'release-notes.json'),
      },
    ],
    has_records: v.release.rowCount > 0,
    data_visible: true,
    features: ['analyze', 'timeserie', ...(m.communeField ? ['geo'] : [])],
    metas: {
      default: {
        title: m.title.fr,
        description: m.description.fr,
        theme: m.themes,
        keyword: m.keywords.fr,
        license: m.licence.title,
        license_url: m.licence.uri,
        language: 'fr',
        metadata_languages: ['fr', 'en'],
        timezone: 'UTC',
        modified: m.modified,
        data_processed: v.release.publishedAt,
        metadata_processed: m.modified,
        publisher: m.publisher.name,
        references: m.landingPage ?? null,
        records_count: v.release.rowCount,
        territory: ['Dijon Métropole'],
        geographic_reference: m.spatial.map((s) => s.insee),
        federated: false,
        attributions: null,
      },
      dcat: {
        created: m.issued,
        issued: m.issued,
        creator: m.creator.name,
        contact_name: m.contactPoint.name,
        contact_email: m.contactPoint.email,
        accrualperiodicity: m.accrualPeriodicity,
        temporal: m.temporal ? `${m.temporal.start}/${m.temporal.end}` : null,
        spatial: 'Dijon Métropole (23 communes)',
        conforms_to: m.conformsTo,
        version: m.version,
        release: v.release.releaseId,
        policy_revision: v.notes.policyRevision,
      },
    },
    fields: exploreFields({ schema }),
  };
}

const CATALOG_FIELDS: QueryField[] = [
  { name: 'dataset_id', type: 'string' },
  { name: 'title', type: 'string' },
  { name: 'theme', type: 'string' },
  { name: 'keyword', type: 'string' },
  { name: 'publisher', type: 'string' },
  { name: 'records_count', type: 'integer' },
  { name: 'modified', type: 'datetime' },
];

interface RecordsQuery {
  /** For exports rendered in the scan worker: the body's text chunks (records is then empty). */
  chunks?: AsyncIterable<string>;
  view: DatasetView;
  /** Output keys, in order. */
  keys: string[];
  total: number;
  /** The records, produced lazily so exports can stream them. */
  records: Iterable<Row>;
}

async function queryRecords(
  ctx: ApiContext,
  id: string,
  q: RecordsParams | ExportsQuery,
  exportAs?: { format: 'csv' | 'json' | 'geojson'; delimiter: string },
): Promise<RecordsQuery> {
  const view = await datasetView(ctx, id);
  if (!view) throw new ExploreError(404, 'NotFound', `Unknown dataset: ${id.slice(0, 80)}`);
  const { limit, offset } = q;
  if (!exportAs && offset + limit > MAX_WINDOW) {
    throw new ExploreError(
      400,
      'InvalidRESTParameterError',
      `Invalid value for offset API parameter: offset + limit must be at most ${MAX_WINDOW}; use the exports endpoint for more.`,
    );
  }
  const { rows, schema } = await ctx.reader.rows(id, view.release.releaseId);
  const fields: QueryField[] = schema.fields.map((f) => ({ name: f.name, type: f.type }));
  const args: ExploreScanArgs = {
    where: q.where,
    refine: q.refine,
    exclude: q.exclude,
    select: q.select,
    groupBy: q.group_by,
    orderBy: q.order_by,
    offset,
    limit,
  };
  // Filtered, sorted or grouped scans of a large release run in the scan worker (low priority).
  const heavy =
    rows.length >= OFFLOAD_ABOVE &&
    !!(
      args.where ||
      args.refine.length ||
      args.exclude.length ||
      args.groupBy ||
      args.orderBy ||
      args.select?.includes('(')
    );
  const job = { kind: 'explore' as const, datasetId: id, releaseId: view.release.releaseId, args };
  if (exportAs && ctx.scans && rows.length >= OFFLOAD_ABOVE) {
    // A large export: scanned and rendered in the scan worker, streamed from here.
    const sel = args.select ? parseSelect(args.select, fields) : undefined;
    const columns = sel
      ? sel.filter((x) => x.kind === 'field').map((x) => ({ key: x.key, field: x.field }))
      : fields.map((f) => ({ key: f.name, field: f.name }));
    const r = await ctx.scans.render(job, {
      kind: 'export',
      format: exportAs.format,
      delimiter: exportAs.delimiter,
      columns,
      communeField: view.meta.communeField ?? '',
    });
    if ('groups' in r) return { view, keys: r.keys, total: r.total, records: r.groups };
    return { view, keys: columns.map((c) => c.key), total: r.total ?? 0, records: [], chunks: r.chunks };
  }
  const scan = heavy && ctx.scans ? await ctx.scans.run(job) : await exploreScan(rows, fields, args);
  if ('groups' in scan) return { view, keys: scan.keys, total: scan.total, records: scan.groups };
  const { indexes, total } = scan;
  const select = args.select ? parseSelect(args.select, fields) : undefined;
  const names = select
    ? [...new Set(select.map((s) => (s as { field: string }).field))]
    : fields.map((f) => f.name);
  const keys = select ? select.map((s) => s.key) : names;
  const records = (function* () {
    for (const i of indexes) {
      if (!select) yield project(rows[i]!, i, names);
      else {
        const r: Row = {};
        for (const s of select) r[s.key] = fieldValue(rows[i]!, i, (s as { field: string }).field);
        yield r;
      }
    }
  })();
  return { view, keys, total, records };
}

/** The parameters of a records scan (serialisable: it may run in the scan worker). */
export interface ExploreScanArgs {
  where: string | undefined;
  refine: string[];
  exclude: string[];
  select: string | undefined;
  groupBy: string | undefined;
  orderBy: string | undefined;
  offset: number;
  limit: number;
}

/** Result of a records scan: matching row indexes, or the page of aggregated groups. */
export type ExploreScanResult =
  { indexes: number[]; total: number } | { groups: Row[]; keys: string[]; total: number };

/** Filters, orders or groups a release's rows for `records` and `exports`. */
export async function exploreScan(
  rows: Row[],
  fields: QueryField[],
  a: ExploreScanArgs,
): Promise<ExploreScanResult> {
  const predicates: ((r: Row, i: number) => boolean)[] = [];
  const where = a.where;
  if (where) predicates.push(compileWhere(where, fields, rows));
  const facets = [
    ...a.refine.map((t) => ['refine', t] as const),
    ...a.exclude.map((t) => ['exclude', t] as const),
  ];
  if (facets.length > MAX_FACETS)
    throw new ExploreError(
      400,
      'InvalidRESTParameterError',
      `At most ${MAX_FACETS} refine and exclude parameters (limit).`,
    );
  for (const [name, text] of facets) {
    try {
      predicates.push(facetPredicate(name, text, fields, rows));
    } catch (err) {
      if (err instanceof QueryError)
        throw new ExploreError(
          400,
          'InvalidRESTParameterError',
          `Invalid value for ${name} API parameter: ${err.message}`,
        );
      throw err;
    }
  }
  const predicate =
    predicates.length === 0
      ? undefined
      : predicates.length === 1
        ? predicates[0]
        : (r: Row, i: number) => predicates.every((f) => f(r, i));
  const select = a.select ? parseSelect(a.select, fields) : undefined;
  const groupBy = a.groupBy ? parseGroupBy(a.groupBy, fields) : undefined;
  const { offset, limit, orderBy } = a;
  if (groupBy || hasAggregates(select)) {
    const { indexes } = await runQuery(rows, fields, { predicate, offset: 0, limit: -1, total: false });
    let out = await heavyGate.run(() => aggregate(rows, fields, indexes, select, groupBy ?? []));
    const keys = [...new Set([...(groupBy ?? []).map((g) => g.key), ...(select ?? []).map((s) => s.key)])];
    if (orderBy) out = sortAggregated(out, orderBy, keys);
    // Keys of the answer: the select's, or the groups' when there is no select.
    const shown = select ? select.map((s) => s.key) : (groupBy ?? []).map((g) => g.key);
    const page = out.slice(offset, limit < 0 ? undefined : offset + limit);
    return {
      keys: shown,
      total: out.length,
      groups: page.map((r) => Object.fromEntries(shown.map((k) => [k, r[k] ?? null]))),
    };
  }
  const sort = orderBy ? parseSort('order_by', orderBy, fields) : undefined;
  const { indexes, total } = await runQuery(rows, fields, { predicate, sort, offset, limit, total: true });
  return { indexes, total: total ?? indexes.length };
}

/** Records per chunk of a streamed export: the event loop is yielded between chunks. */
const EXPORT_CHUNK = 2000;

async function* chunks(
  records: Iterable<Row>,
  head: string,
  line: (r: Row, first: boolean) => string,
  tail: string,
): AsyncGenerator<string> {
  let buf = head;
  let n = 0;
  for (const r of records) {
    buf += line(r, n === 0);
    if (++n % EXPORT_CHUNK === 0) {
      yield buf;
      buf = '';
      // Let other requests run between chunks.
      await new Promise((res) => setImmediate(res));
    }
  }
  yield buf + tail;
}

/** Registers the Explore routes; mount with prefix `/api/explore/v2.1`. */
export async function explorePlugin(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  app.get('/catalog/datasets', { schema: EXPLORE_ROUTES.datasets }, async (req) => {
    const q = req.query as { where?: string; order_by?: string; limit: number; offset: number };
    const base = baseUrl(ctx, req);
    const { limit, offset } = q;
    const views = await allDatasetViews(ctx);
    const rows: Row[] = views.map((v) => ({
      dataset_id: v.meta.id,
      title: v.meta.title.fr,
      theme: v.meta.themes.join(','),
      keyword: v.meta.keywords.fr.join(','),
      publisher: v.meta.publisher.name,
      records_count: v.release.rowCount,
      modified: v.meta.modified,
    }));
    const where = q.where;
    const predicate = where ? compileWhere(where, CATALOG_FIELDS) : undefined;
    const orderBy = q.order_by;
    const sort = orderBy ? parseSort('order_by', orderBy, CATALOG_FIELDS) : undefined;
    const { indexes, total } = await runQuery(rows, CATALOG_FIELDS, {
      predicate,
      sort,
      offset,
      limit,
      total: true,
    });
    return {
      total_count: total,
      results: await Promise.all(indexes.map((i) => datasetObject(ctx, base, views[i]!))),
    };
  });

  app.get<{ Params: { id: string } }>(
    '/catalog/datasets/:id',
    { schema: EXPLORE_ROUTES.dataset },
    async (req) => {
      const view = await datasetView(ctx, req.params.id);
      if (!view) throw new ExploreError(404, 'NotFound', `Unknown dataset: ${req.params.id.slice(0, 80)}`);
      return datasetObject(ctx, baseUrl(ctx, req), view);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/catalog/datasets/:id/records',
    { schema: EXPLORE_ROUTES.records },
    async (req) => {
      const r = await queryRecords(ctx, req.params.id, req.query as RecordsParams);
      return { total_count: r.total, results: [...r.records] };
    },
  );

  app.get<{ Params: { id: string; format: 'csv' | 'json' | 'geojson' } }>(
    '/catalog/datasets/:id/exports/:format',
    { schema: EXPLORE_ROUTES.exports },
    async (req, reply: FastifyReply) => {
      const { format } = req.params;
      const q = req.query as ExportsQuery;
      // Explore's CSV export uses ";" by default; `delimiter` chooses another.
      const { delimiter } = q;
      const r = await queryRecords(ctx, req.params.id, q, { format, delimiter });
      const name = `${r.view.meta.id}.${format}`;
      reply.header('content-disposition', `attachment; filename="${name}"`);
      if (r.chunks)
        return reply
          .type(
            format === 'csv'
              ? 'text/csv; charset=utf-8'
              : format === 'json'
                ? 'application/json; charset=utf-8'
                : 'application/geo+json',
          )
          .send(Readable.from(r.chunks));
      // Streamed in chunks: memory and event-loop time per chunk are bounded whatever the size.
      if (format === 'json')
        return reply
          .type('application/json; charset=utf-8')
          .send(
            Readable.from(
              chunks(r.records, '[', (rec, first) => (first ? '' : ',') + JSON.stringify(rec), ']'),
            ),
          );
      if (format === 'geojson') {
        const communeField = r.view.meta.communeField ?? '';
        return reply
          .type('application/geo+json')
          .send(
            Readable.from(
              chunks(
                r.records,
                '{"type":"FeatureCollection","features":[\n',
                (rec, first) =>
                  (first ? '' : ',\n') +
                  JSON.stringify(rowsToFeatureCollection([rec], communeField).features[0]),
                '\n]}\n',
              ),
            ),
          );
      }
      const cell = (v: unknown) => {
        const s = asText(v);
        return delimiter === ','
          ? csvCell(s)
          : /["\r\n]/.test(s) || s.includes(delimiter)
            ? `"${s.replaceAll('"', '""')}"`
            : s;
      };
      return reply
        .type('text/csv; charset=utf-8')
        .send(
          Readable.from(
            chunks(
              r.records,
              r.keys.map(cell).join(delimiter) + '\r\n',
              (rec) => r.keys.map((n) => cell(rec[n])).join(delimiter) + '\r\n',
              '',
            ),
          ),
        );
    },
  );

  app.get('/', { schema: { hide: true } }, async (req: FastifyRequest) => ({
    links: [{ rel: 'catalog', href: `${baseUrl(ctx, req)}/api/explore/v2.1/catalog/datasets` }],
  }));
}
