import { MEDIA_TYPES } from '@ondijon/opendata';
import { z } from 'zod';
import { asText } from './query';
import {
  CkanDatastoreSearch,
  CkanFailure,
  CkanPackage,
  CkanPackageSearch,
  CkanResource,
  CkanSuccess,
  ExploreDataset,
  ExploreDatasets,
  ExploreError as ExploreErrorBody,
  ExploreRecords,
} from './responses';

/**
 * The API's one contract: every route's parameters and answers as zod schemas. Fastify validates
 * each request with them (fastify-type-provider-zod) and hands the parsed values to the handler, and
 * @fastify/swagger renders the same schemas as `/openapi.json` (plugins/openapi.ts). Error bodies
 * differ per API family (CKAN envelope, Explore `error_code`, plain) and are all written by the one
 * error handler in errors.ts.
 *
 * Query values arrive as text, or as a list of texts when a parameter is repeated; CKAN's POST bodies
 * carry JSON values. The parameter schemas below accept those inputs and turn them into what the
 * handler uses, with the messages each API's clients expect.
 */

// ---------------------------------------------------------------- answers (shapes in responses.ts)

const anyObject = z.looseObject({});
const ckanErrorBody = CkanFailure;
const exploreErrorBody = ExploreErrorBody;

/** The plain error body of the other routes. */
export const plainErrorBody = z.object({ error: z.string(), message: z.string() }).describe('Error.');

/** A response documented without a body (304). */
export interface BareResponse {
  description: string;
}

const ckanResponses = (result: z.ZodType, notFound = false) => ({
  200: CkanSuccess(result).describe('CKAN success envelope.'),
  400: ckanErrorBody.describe(
    'Bad request (malformed body, unknown action, or a bounded-cost limit, named).',
  ),
  ...(notFound ? { 404: ckanErrorBody.describe('Not Found Error.') } : {}),
  409: ckanErrorBody.describe('Validation Error (invalid parameter), as CKAN answers it.'),
  413: ckanErrorBody.describe('Request body over 64 KiB.'),
  429: ckanErrorBody.describe('Too many requests (rate limit).'),
});

const exploreResponses = (ok: z.ZodType, notFound = true) => ({
  200: ok,
  400: exploreErrorBody.describe('Bad parameter, named.'),
  ...(notFound ? { 404: exploreErrorBody.describe('Unknown dataset.') } : {}),
  429: exploreErrorBody.describe('Too many requests (rate limit).'),
});

// ---------------------------------------------------------------- CKAN parameters

/** A CKAN parameter error: answered 409 "Validation Error" naming the field. */
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const ckanValue = z.union([scalar, z.array(scalar)], { error: 'Must be a string' }).nullish();

function lastOf(v: z.infer<typeof ckanValue>): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length ? asText(v[v.length - 1]) : undefined;
  return asText(v);
}

/** Text; a repeated parameter keeps its last value. */
const ckanText = (description: string) => ckanValue.transform(lastOf).describe(description);

/** Required, non-empty text. */
const ckanRequired = (description: string) =>
  ckanValue
    .transform((v, ctx) => {
      const s = lastOf(v);
      if (s === undefined || s === '') {
        ctx.addIssue({ code: 'custom', message: 'Missing value' });
        return z.NEVER;
      }
      return s;
    })
    .describe(description);

/** An integer in [min, max], `dflt` when absent or empty. */
const ckanInt = (description: string, dflt: number, min: number, max: number) =>
  ckanValue
    .transform((raw, ctx) => {
      const s = typeof raw === 'number' ? raw : lastOf(raw);
      if (s === undefined || s === '') return dflt;
      const v = typeof s === 'number' ? s : /^\s*-?\d+\s*$/.test(s) ? Number(s) : NaN;
      if (!Number.isInteger(v)) {
        ctx.addIssue({ code: 'custom', message: 'Invalid integer' });
        return z.NEVER;
      }
      if (v < min) {
        ctx.addIssue({
          code: 'custom',
          message: `Must be a natural number${min > 0 ? ` of at least ${min}` : ''}`,
        });
        return z.NEVER;
      }
      if (v > max) {
        ctx.addIssue({ code: 'custom', message: `Must be at most ${max}` });
        return z.NEVER;
      }
      return v;
    })
    .describe(description);

/** A boolean (true/false, 1/0, yes/no, on/off), `dflt` when absent. */
const ckanBool = (description: string, dflt: boolean) =>
  ckanValue
    .transform((raw, ctx) => {
      if (typeof raw === 'boolean') return raw;
      const s = lastOf(raw)?.toLowerCase();
      if (s === undefined || s === '') return dflt;
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: 'Invalid boolean' });
      return z.NEVER;
    })
    .describe(description);

/** JSON given as text (query) or as a value (POST body); undefined when absent. */
const ckanJson = (description: string) =>
  z
    .unknown()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === null || raw === '') return undefined;
      if (typeof raw !== 'string') return raw;
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'Cannot parse JSON' });
        return z.NEVER;
      }
    })
    .describe(description);

/** Kept as given (the handler reads it in more than one way). */
const ckanRaw = (description: string) => z.unknown().optional().describe(description);

const MAX_INT = Number.MAX_SAFE_INTEGER;

/** Parameters of each CKAN action (query string, or JSON body on POST). Unknown ones are ignored, as CKAN does. */
export const CKAN_PARAMS = {
  status_show: z.looseObject({}),
  package_list: z.looseObject({
    limit: ckanInt('Max names (≤ 1000).', 1000, 0, 1000),
    offset: ckanInt('Offset.', 0, 0, MAX_INT),
  }),
  package_show: z.looseObject({ id: ckanRequired('Package name or id.') }),
  package_search: z.looseObject({
    q: ckanText('Free text (≤ 2000 characters, ≤ 32 terms).'),
    fq: ckanText(
      'ANDed field:value terms (name, tags, organization, res_format, license_id) and ranges metadata_modified:[X TO *], metadata_created:[X TO Y] (≤ 2000 characters, ≤ 32 terms).',
    ),
    rows: ckanInt('Page size (≤ 1000).', 10, 0, 1000),
    start: ckanInt('Offset.', 0, 0, MAX_INT),
    sort: ckanText(
      'metadata_modified, metadata_created, name or title, asc or desc (default: metadata_modified desc).',
    ),
  }),
  organization_list: z.looseObject({ all_fields: ckanBool('Return dicts.', false) }),
  organization_show: z.looseObject({
    id: ckanRequired('Organization name or id.'),
    include_datasets: ckanBool('Include packages.', false),
  }),
  resource_show: z.looseObject({ id: ckanRequired('Resource id.') }),
  datastore_search: z.looseObject({
    resource_id: ckanRequired('Resource id (or dataset id for its CSV).'),
    filters: ckanJson('JSON object {field: value or [values]} (≤ 1000 values).'),
    q: ckanRaw('Full text (≤ 16 terms, ≤ 512 characters), or JSON object {field: text}.'),
    fields: ckanRaw('Comma-separated fields.'),
    sort: ckanText('field [asc|desc], …'),
    limit: ckanInt('Max records (≤ 32000, default 100).', 100, 0, 32_000),
    offset: ckanInt('Offset.', 0, 0, MAX_INT),
    include_total: ckanBool('Count all matches (default true).', true),
    records_format: ckanText('objects or lists.'),
  }),
} as const;

export type CkanAction = keyof typeof CKAN_PARAMS;
export type CkanParams<A extends CkanAction> = z.output<(typeof CKAN_PARAMS)[A]>;

/** What each CKAN action answers inside its envelope. */
export const CKAN_RESULTS: Record<CkanAction, { result: z.ZodType; notFound: boolean; summary: string }> = {
  status_show: {
    result: z.looseObject({ ckan_version: z.string(), site_url: z.string() }),
    notFound: false,
    summary: 'Site status.',
  },
  package_list: { result: z.array(z.string()), notFound: false, summary: 'Dataset names.' },
  package_show: { result: CkanPackage, notFound: true, summary: 'One dataset.' },
  package_search: {
    result: CkanPackageSearch,
    notFound: false,
    summary: 'Dataset search (q, fq, sort, paging).',
  },
  organization_list: { result: z.array(z.unknown()), notFound: false, summary: 'Organizations.' },
  organization_show: {
    result: z.looseObject({ name: z.string() }),
    notFound: true,
    summary: 'The organization.',
  },
  resource_show: {
    result: CkanResource,
    notFound: true,
    summary: 'One resource.',
  },
  datastore_search: {
    result: CkanDatastoreSearch,
    notFound: true,
    summary: 'DataStore rows of a resource.',
  },
};

/** The route schema of a CKAN action. */
export function ckanRouteSchema(action: CkanAction) {
  const { result, notFound, summary } = CKAN_RESULTS[action];
  return {
    operationId: `ckan_${action}`,
    summary,
    tags: ['CKAN'],
    querystring: CKAN_PARAMS[action],
    response: ckanResponses(result, notFound),
  };
}

// ---------------------------------------------------------------- Explore parameters

const queryValue = z.union([z.string(), z.array(z.string())]);

/** Text; a repeated parameter keeps its last value. */
const exploreText = (description: string) =>
  queryValue
    .optional()
    .transform((v) => (Array.isArray(v) ? (v.length ? v[v.length - 1] : undefined) : v))
    .describe(description);

/** Every value of a repeatable parameter. */
const exploreList = (description: string) =>
  queryValue
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .describe(description);

/** An integer in [min, max], `dflt` when absent or empty; Explore's own messages. */
const exploreInt = (name: string, description: string, dflt: number, min: number, max: number) =>
  queryValue
    .optional()
    .transform((v, ctx) => {
      const raw = Array.isArray(v) ? v[v.length - 1] : v;
      if (raw === undefined || raw === '') return dflt;
      if (!/^-?\d+$/.test(raw.trim())) {
        ctx.addIssue({
          code: 'custom',
          message: `Invalid value for ${name} API parameter: "${raw.slice(0, 40)}" is not an integer.`,
        });
        return z.NEVER;
      }
      const n = Number(raw);
      if (n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `Invalid value for ${name} API parameter: ${n} was found but ${min} <= ${name} <= ${max} is expected.`,
        });
        return z.NEVER;
      }
      return n;
    })
    .describe(description);

const timezone = queryValue
  .optional()
  .transform((v, ctx) => {
    const tz = Array.isArray(v) ? v[v.length - 1] : v;
    if (tz !== undefined && !['UTC', 'Etc/UTC', 'GMT'].includes(tz)) {
      ctx.addIssue({
        code: 'custom',
        message: `Unsupported value "${tz.slice(0, 40)}" of parameter "timezone": datetimes are served with their UTC offset; use timezone=UTC or omit it.`,
      });
      return z.NEVER;
    }
    return tz;
  })
  .describe('UTC only (datetimes carry their offset).');

/** Offsets and limits of Explore: at most this many records per page, and offset + limit at most the window. */
export const MAX_LIMIT = 100;
export const MAX_WINDOW = 10_000;

const recordsFields = {
  select: exploreText(
    'Fields, *, count(*), sum/avg/min/max(field), each with an optional "as alias" (≤ 32 items).',
  ),
  where: exploreText(
    'ODSQL subset: field op literal (=, !=, <, <=, >, >=), IS [NOT] NULL, AND, OR, NOT, parentheses (≤ 4000 characters, ≤ 64 comparisons).',
  ),
  group_by: exploreText('Fields to group by, each with an optional "as alias".'),
  order_by: exploreText('field or selected key [asc|desc], …'),
  refine: exploreList('field:value facet to keep (repeatable; dates take 2026, 2026/11 or 2026/11/27).'),
  exclude: exploreList('field:value facet to drop (repeatable).'),
  timezone,
};

/** Query parameters of each Explore endpoint; any other answers 400 naming it (never ignored). */
export const EXPLORE_QUERY = {
  datasets: z.strictObject({
    where: exploreText(
      'ODSQL subset over dataset_id, title, theme, keyword, publisher, records_count, modified.',
    ),
    order_by: exploreText('field [asc|desc]'),
    limit: exploreInt('limit', '-1..100 (default 10)', 10, -1, MAX_LIMIT),
    offset: exploreInt('offset', 'Offset.', 0, 0, MAX_WINDOW),
    timezone,
  }),
  dataset: z.strictObject({ timezone }),
  records: z.strictObject({
    ...recordsFields,
    limit: exploreInt('limit', '0..100 (default 10)', 10, 0, MAX_LIMIT),
    offset: exploreInt('offset', 'offset + limit ≤ 10000', 0, 0, MAX_WINDOW),
  }),
  exports: z.strictObject({
    ...recordsFields,
    limit: exploreInt('limit', '-1 (all) or a count', -1, -1, MAX_INT),
    offset: exploreInt('offset', 'Offset.', 0, 0, MAX_INT),
    delimiter: z
      .union([z.literal(';'), z.literal(','), z.literal('\t'), z.literal('|')], {
        error: 'Invalid value for delimiter API parameter: use ";", ",", "|" or a tab.',
      })
      .optional()
      .transform((v) => v ?? ';')
      .describe('CSV delimiter: ; (default) , | or tab.'),
  }),
} as const;

export type RecordsQuery = z.output<typeof EXPLORE_QUERY.records>;
export type ExportsQuery = z.output<typeof EXPLORE_QUERY.exports>;

/** Explore v2.1 parameters this API knows but does not implement (named as such in the 400). */
const KNOWN_UNSUPPORTED = new Set([
  'lang',
  'include_links',
  'include_app_metas',
  'list_separator',
  'quote_all',
  'with_bom',
  'epsg',
  'compressed',
  'use_labels',
  'apikey',
]);

/** The 400 message for a query parameter an Explore endpoint does not take. */
export function exploreUnknownParameter(name: string, allowed: readonly string[]): string {
  const shown = name.slice(0, 40);
  return KNOWN_UNSUPPORTED.has(name) || name in EXPLORE_QUERY.records.shape
    ? `Unsupported parameter "${shown}": this endpoint does not implement it (supported: ${allowed.join(', ')}).`
    : `Unknown parameter "${shown}" (supported: ${allowed.join(', ')}).`;
}

const idParams = z.object({ id: z.string().describe('Dataset id.') });

export const EXPLORE_ROUTES = {
  datasets: {
    operationId: 'exploreDatasets',
    summary: 'Datasets of the catalogue.',
    tags: ['Explore'],
    querystring: EXPLORE_QUERY.datasets,
    response: exploreResponses(ExploreDatasets, false),
  },
  dataset: {
    operationId: 'exploreDataset',
    summary: 'One dataset.',
    tags: ['Explore'],
    params: idParams,
    querystring: EXPLORE_QUERY.dataset,
    response: exploreResponses(ExploreDataset),
  },
  records: {
    operationId: 'exploreRecords',
    summary: 'Records of a dataset (select, where, group_by, order_by, refine, exclude, paging).',
    tags: ['Explore'],
    params: idParams,
    querystring: EXPLORE_QUERY.records,
    response: exploreResponses(ExploreRecords),
  },
  exports: {
    operationId: 'exploreExport',
    summary: 'Whole result as CSV, JSON or GeoJSON, streamed.',
    tags: ['Explore'],
    params: idParams.extend({
      format: z
        .enum(['csv', 'json', 'geojson'], {
          error: (iss) =>
            `Unsupported export format "${asText(iss.input).slice(0, 20)}": use csv, json or geojson.`,
        })
        .describe('csv, json or geojson.'),
    }),
    querystring: EXPLORE_QUERY.exports,
    response: {
      ...exploreResponses(z.unknown()),
      200: {
        description: 'Export.',
        content: {
          'text/csv': { schema: z.string() },
          'application/json': { schema: z.array(anyObject) },
          'application/geo+json': {
            schema: z.looseObject({ type: z.string(), features: z.array(anyObject) }),
          },
        },
      },
    },
  },
} as const;

// ---------------------------------------------------------------- other routes

const rateLimited = plainErrorBody.describe('Too many requests (rate limit).');

export const OTHER_ROUTES = {
  healthz: {
    operationId: 'healthz',
    summary: 'The process answers.',
    tags: ['Probes'],
    response: { 200: z.object({ status: z.literal('ok') }).describe('Alive.') },
  },
  readyz: {
    operationId: 'readyz',
    summary: 'The store’s catalogue is readable and valid.',
    tags: ['Probes'],
    response: {
      200: z.object({ status: z.literal('ready'), datasets: z.number().int() }).describe('Ready.'),
      503: z.object({ status: z.literal('not-ready'), failing: anyObject }).describe('Store unreadable.'),
    },
  },
  metrics: {
    operationId: 'metrics',
    summary: 'Prometheus metrics.',
    tags: ['Probes'],
    response: {
      200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: z.string() } } },
    },
  },
  catalog: {
    operationId: 'dcatCatalog',
    summary: 'DCAT-AP 3 catalogue (Accept: application/ld+json or text/turtle).',
    tags: ['DCAT'],
    response: {
      200: {
        description: 'Catalogue.',
        content: {
          'application/ld+json': { schema: anyObject },
          'text/turtle': { schema: z.string() },
        },
      },
      406: plainErrorBody.describe('No acceptable representation.'),
      429: rateLimited,
    },
  },
  catalogJsonLd: {
    operationId: 'dcatJsonLd',
    summary: 'DCAT-AP 3 catalogue in JSON-LD.',
    tags: ['DCAT'],
    response: {
      200: {
        description: 'Catalogue in JSON-LD.',
        content: {
          'application/ld+json': {
            schema: z.looseObject({ '@context': z.unknown(), '@graph': z.unknown() }),
          },
        },
      },
      429: rateLimited,
    },
  },
  catalogTurtle: {
    operationId: 'dcatTurtle',
    summary: 'DCAT-AP 3 catalogue in Turtle.',
    tags: ['DCAT'],
    response: {
      200: { description: 'Catalogue in Turtle.', content: { 'text/turtle': { schema: z.string() } } },
      429: rateLimited,
    },
  },
  registers: {
    operationId: 'registers',
    summary: 'The public registers (data uses, privacy budget).',
    tags: ['Registers'],
    response: {
      200: z.object({ registers: z.array(anyObject) }).describe('The registers.'),
      429: rateLimited,
    },
  },
  register: {
    operationId: 'register',
    summary: 'One register.',
    tags: ['Registers'],
    params: z.object({ file: z.string().describe('{name}.json') }),
    response: {
      200: anyObject.describe('The register (JSON).'),
      304: { description: 'Not modified.' } satisfies BareResponse,
      404: plainErrorBody.describe('No such register.'),
      429: rateLimited,
    },
  },
  file: {
    operationId: 'releaseFile',
    summary: 'A file of a published release (immutable; strong ETag).',
    tags: ['Files'],
    params: z.object({
      id: z.string().describe('Dataset id.'),
      releaseId: z.string().describe('Release id.'),
      file: z.string().describe('A release file name (data.csv, release-notes.json, …).'),
    }),
    response: {
      200: {
        description: 'The file.',
        content: Object.fromEntries(
          [...new Set(Object.values(MEDIA_TYPES))].map((t) => [t, { schema: z.unknown() }]),
        ),
      },
      304: { description: 'Not modified.' } satisfies BareResponse,
      404: plainErrorBody.describe('No such release file.'),
      429: rateLimited,
    },
  },
} as const;
