import type { FastifyInstance } from 'fastify';

/**
 * OpenAPI 3.0 description of the API, written by hand (the routes are few and their error shapes
 * differ per API, which generators render poorly). Served at `/openapi.json`; schemathesis fuzzes
 * it in test/clients.test.ts, which keeps it honest.
 */

const str = { type: 'string' } as const;
const q = (name: string, description: string, schema: object = str) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});
const json = (schema: object) => ({ 'application/json': { schema } });

const ckanError = {
  type: 'object',
  required: ['help', 'success', 'error'],
  properties: {
    help: str,
    success: { type: 'boolean', enum: [false] },
    error: { type: 'object', required: ['__type', 'message'], properties: { __type: str, message: str } },
  },
};
const ckanOk = (result: object) => ({
  type: 'object',
  required: ['help', 'success', 'result'],
  properties: { help: str, success: { type: 'boolean', enum: [true] }, result },
});
const exploreError = {
  type: 'object',
  required: ['error_code', 'message'],
  properties: { error_code: str, message: str },
};
const rateLimited = { description: 'Too many requests (rate limit).' };

const ckanResponses = (result: object, notFound = false) => ({
  '200': { description: 'CKAN success envelope.', content: json(ckanOk(result)) },
  '400': {
    description: 'Bad request (malformed body, unknown action, or a bounded-cost limit, named).',
    content: json(ckanError),
  },
  '413': { description: 'Request body over 64 KiB.', content: json(ckanError) },
  ...(notFound ? { '404': { description: 'Not Found Error.', content: json(ckanError) } } : {}),
  '409': {
    description: 'Validation Error (invalid parameter), as CKAN answers it.',
    content: json(ckanError),
  },
  '429': rateLimited,
});

const packageSchema = {
  type: 'object',
  required: ['id', 'name', 'title', 'resources', 'license_id'],
  properties: {
    id: str,
    name: str,
    title: str,
    resources: { type: 'array', items: { type: 'object' } },
    license_id: str,
  },
};
const datasetObject = {
  type: 'object',
  required: ['dataset_id', 'metas', 'fields'],
  properties: {
    dataset_id: str,
    metas: { type: 'object' },
    fields: { type: 'array', items: { type: 'object' } },
  },
};
const idParam = { name: 'id', in: 'path', required: true, schema: str, description: 'Dataset id.' };
const recordsParams = [
  q('select', 'Fields, *, count(*), sum/avg/min/max(field), each with an optional "as alias" (≤ 32 items).'),
  q('group_by', 'Fields to group by, each with an optional "as alias".'),
  q('refine', 'field:value facet to keep (repeatable; dates take 2026, 2026/11 or 2026/11/27).', {
    type: 'array',
    items: str,
  }),
  q('exclude', 'field:value facet to drop (repeatable).', { type: 'array', items: str }),
  q('timezone', 'UTC only (datetimes carry their offset).'),
  q(
    'where',
    'ODSQL subset: field op literal (=, !=, <, <=, >, >=), IS [NOT] NULL, AND, OR, NOT, parentheses (≤ 4000 characters, ≤ 64 comparisons).',
  ),
  q('order_by', 'field or selected key [asc|desc], …'),
];

/** The OpenAPI document. */
export const OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'OnDijon open-data API',
    version: '0.1.0',
    description:
      'Read-only API over the OnDijon open-data store: DCAT-AP 3 catalogue, CKAN Action API subset, Explore v2.1 subset. Licence Ouverte 2.0, Dijon Métropole.',
    license: { name: 'Licence Ouverte 2.0', url: 'https://www.etalab.gouv.fr/licence-ouverte-open-licence/' },
  },
  paths: {
    '/healthz': {
      get: {
        operationId: 'healthz',
        responses: { '200': { description: 'Alive.', content: json({ type: 'object' }) } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        responses: {
          '200': { description: 'Ready.', content: json({ type: 'object' }) },
          '503': { description: 'Store unreadable.', content: json({ type: 'object' }) },
        },
      },
    },
    '/catalog': {
      get: {
        operationId: 'dcatCatalog',
        summary: 'DCAT-AP 3 catalogue (Accept: application/ld+json or text/turtle).',
        responses: {
          '200': {
            description: 'Catalogue.',
            content: {
              'application/ld+json': { schema: { type: 'object' } },
              'text/turtle': { schema: str },
            },
          },
          '406': { description: 'No acceptable representation.', content: json({ type: 'object' }) },
          '429': rateLimited,
        },
      },
    },
    '/catalog.jsonld': {
      get: {
        operationId: 'dcatJsonLd',
        responses: {
          '200': {
            description: 'Catalogue in JSON-LD.',
            content: {
              'application/ld+json': { schema: { type: 'object', required: ['@context', '@graph'] } },
            },
          },
          '429': rateLimited,
        },
      },
    },
    '/catalog.ttl': {
      get: {
        operationId: 'dcatTurtle',
        responses: {
          '200': { description: 'Catalogue in Turtle.', content: { 'text/turtle': { schema: str } } },
          '429': rateLimited,
        },
      },
    },
    '/registers': {
      get: {
        operationId: 'registers',
        responses: {
          '200': {
            description: 'The public registers (data uses, privacy budget).',
            content: json({
              type: 'object',
              required: ['registers'],
              properties: { registers: { type: 'array' } },
            }),
          },
          '429': rateLimited,
        },
      },
    },
    '/registers/{file}': {
      get: {
        operationId: 'register',
        parameters: [{ name: 'file', in: 'path', required: true, schema: str, description: '{name}.json' }],
        responses: {
          '200': { description: 'The register (JSON).', content: json({ type: 'object' }) },
          '304': { description: 'Not modified.' },
          '404': { description: 'No such register.', content: json({ type: 'object' }) },
          '429': rateLimited,
        },
      },
    },
    '/api/3/action/status_show': {
      get: {
        operationId: 'ckanStatusShow',
        responses: ckanResponses({ type: 'object', required: ['ckan_version', 'site_url'] }),
      },
    },
    '/api/3/action/package_list': {
      get: {
        operationId: 'ckanPackageList',
        parameters: [q('limit', 'Max names.', str), q('offset', 'Offset.', str)],
        responses: ckanResponses({ type: 'array', items: str }),
      },
    },
    '/api/3/action/package_show': {
      get: {
        operationId: 'ckanPackageShow',
        parameters: [{ ...q('id', 'Package name or id.'), required: true }],
        responses: ckanResponses(packageSchema, true),
      },
    },
    '/api/3/action/package_search': {
      get: {
        operationId: 'ckanPackageSearch',
        parameters: [
          q('q', 'Free text.'),
          q(
            'fq',
            'ANDed field:value terms (name, tags, organization, res_format, license_id) and ranges metadata_modified:[X TO *], metadata_created:[X TO Y] (≤ 2000 characters, ≤ 32 terms).',
          ),
          q('rows', 'Page size (≤ 1000).'),
          q('start', 'Offset.'),
          q(
            'sort',
            'metadata_modified, metadata_created, name or title, asc or desc (default: metadata_modified desc).',
          ),
        ],
        responses: ckanResponses({
          type: 'object',
          required: ['count', 'results'],
          properties: { count: { type: 'integer' }, results: { type: 'array', items: packageSchema } },
        }),
      },
    },
    '/api/3/action/organization_list': {
      get: {
        operationId: 'ckanOrganizationList',
        parameters: [q('all_fields', 'Return dicts.')],
        responses: ckanResponses({ type: 'array' }),
      },
    },
    '/api/3/action/organization_show': {
      get: {
        operationId: 'ckanOrganizationShow',
        parameters: [
          { ...q('id', 'Organization name or id.'), required: true },
          q('include_datasets', 'Include packages.'),
        ],
        responses: ckanResponses({ type: 'object', required: ['name'] }, true),
      },
    },
    '/api/3/action/resource_show': {
      get: {
        operationId: 'ckanResourceShow',
        parameters: [{ ...q('id', 'Resource id.'), required: true }],
        responses: ckanResponses({ type: 'object', required: ['id', 'url', 'format'] }, true),
      },
    },
    '/api/3/action/datastore_search': {
      get: {
        operationId: 'ckanDatastoreSearch',
        parameters: [
          { ...q('resource_id', 'Resource id (or dataset id for its CSV).'), required: true },
          q('filters', 'JSON object {field: value or [values]} (≤ 1000 values).'),
          q('q', 'Full text (≤ 16 terms, ≤ 512 characters), or JSON object {field: text}.'),
          q('fields', 'Comma-separated fields.'),
          q('sort', 'field [asc|desc], …'),
          q('limit', 'Max records (≤ 32000, default 100).'),
          q('offset', 'Offset.'),
          q('include_total', 'Count all matches (default true).'),
          q('records_format', 'objects or lists.'),
        ],
        responses: ckanResponses(
          {
            type: 'object',
            required: ['resource_id', 'fields', 'records', 'limit', 'offset'],
            properties: { records: { type: 'array' }, fields: { type: 'array' }, total: { type: 'integer' } },
          },
          true,
        ),
      },
    },
    '/api/explore/v2.1/catalog/datasets': {
      get: {
        operationId: 'exploreDatasets',
        parameters: [
          q(
            'where',
            'ODSQL subset over dataset_id, title, theme, keyword, publisher, records_count, modified.',
          ),
          q('order_by', 'field [asc|desc]'),
          q('limit', '-1..100'),
          q('offset', 'Offset.'),
        ],
        responses: {
          '200': {
            description: 'Datasets.',
            content: json({
              type: 'object',
              required: ['total_count', 'results'],
              properties: {
                total_count: { type: 'integer' },
                results: { type: 'array', items: datasetObject },
              },
            }),
          },
          '400': { description: 'Bad parameter.', content: json(exploreError) },
          '429': rateLimited,
        },
      },
    },
    '/api/explore/v2.1/catalog/datasets/{id}': {
      get: {
        operationId: 'exploreDataset',
        parameters: [idParam],
        responses: {
          '200': { description: 'Dataset.', content: json(datasetObject) },
          '404': { description: 'Unknown dataset.', content: json(exploreError) },
          '429': rateLimited,
        },
      },
    },
    '/api/explore/v2.1/catalog/datasets/{id}/records': {
      get: {
        operationId: 'exploreRecords',
        parameters: [
          idParam,
          ...recordsParams,
          q('limit', '0..100 (default 10)'),
          q('offset', 'offset + limit ≤ 10000'),
        ],
        responses: {
          '200': {
            description: 'Records.',
            content: json({
              type: 'object',
              required: ['total_count', 'results'],
              properties: {
                total_count: { type: 'integer' },
                results: { type: 'array', items: { type: 'object' } },
              },
            }),
          },
          '400': { description: 'Bad parameter.', content: json(exploreError) },
          '404': { description: 'Unknown dataset.', content: json(exploreError) },
          '429': rateLimited,
        },
      },
    },
    '/api/explore/v2.1/catalog/datasets/{id}/exports/{format}': {
      get: {
        operationId: 'exploreExport',
        parameters: [
          idParam,
          {
            name: 'format',
            in: 'path',
            required: true,
            schema: { type: 'string', enum: ['csv', 'json', 'geojson'] },
          },
          ...recordsParams,
          q('limit', '-1 (all) or a count'),
          q('offset', 'Offset.'),
          q('delimiter', 'CSV delimiter: ; (default) , | or tab.'),
        ],
        responses: {
          '200': {
            description: 'Export.',
            content: {
              'text/csv': { schema: str },
              'application/json': { schema: { type: 'array' } },
              'application/geo+json': { schema: { type: 'object', required: ['type', 'features'] } },
            },
          },
          '400': { description: 'Bad parameter.', content: json(exploreError) },
          '404': { description: 'Unknown dataset.', content: json(exploreError) },
          '429': rateLimited,
        },
      },
    },
  },
} as const;

/** Serves `/openapi.json`. */
export async function openapiPlugin(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', async () => OPENAPI);
}
