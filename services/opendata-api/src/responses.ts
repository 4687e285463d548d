import { z } from 'zod';

/**
 * zod schemas of the API's responses, as clients rely on them (CONTRIBUTING.md rule 3: parse at every
 * boundary). Tests parse every response with these; clients of this API may import them.
 */

/** CKAN success envelope around a result. */
export const CkanSuccess = <R extends z.ZodType>(result: R) =>
  z.object({ help: z.url(), success: z.literal(true), result });

/** CKAN error envelope: `__type` and `message`, plus per-field messages for validation errors. */
export const CkanFailure = z.object({
  help: z.url(),
  success: z.literal(false),
  error: z.looseObject({
    __type: z.enum([
      'Validation Error',
      'Not Found Error',
      'Bad Request',
      'Rate Limit',
      'Internal Server Error',
    ]),
    message: z.string().min(1),
  }),
});

/** A CKAN resource. */
export const CkanResource = z.looseObject({
  id: z.uuid(),
  package_id: z.uuid(),
  name: z.string(),
  url: z.url(),
  format: z.enum(['CSV', 'GeoJSON', 'JSON']),
  mimetype: z.string(),
  size: z.int().min(0),
  hash: z.string(),
  datastore_active: z.boolean(),
  last_modified: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/),
});

/** A CKAN package (dataset). */
export const CkanPackage = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  title: z.string(),
  notes: z.string(),
  type: z.literal('dataset'),
  state: z.literal('active'),
  private: z.literal(false),
  license_id: z.literal('lov2'),
  license_url: z.literal('https://www.etalab.gouv.fr/licence-ouverte-open-licence/'),
  organization: z.looseObject({ name: z.literal('dijon-metropole'), title: z.string() }),
  owner_org: z.uuid(),
  metadata_created: z.string(),
  metadata_modified: z.string(),
  num_resources: z.int(),
  resources: z.array(CkanResource).min(1),
  tags: z.array(z.looseObject({ name: z.string(), display_name: z.string() })),
  extras: z.array(z.object({ key: z.string(), value: z.string() })),
});

/** CKAN package_search result. */
export const CkanPackageSearch = z.object({
  count: z.int().min(0),
  results: z.array(CkanPackage),
  sort: z.string(),
  facets: z.object({}),
  search_facets: z.object({}),
});

/** CKAN datastore_search result. */
export const CkanDatastoreSearch = z.looseObject({
  resource_id: z.string(),
  fields: z.array(
    z.object({
      id: z.string(),
      type: z.enum(['text', 'int', 'numeric', 'bool', 'timestamp', 'date']),
      /** DataStore data dictionary (absent for `_id`). */
      info: z.object({ label: z.string(), notes: z.string(), type_override: z.string() }).optional(),
    }),
  ),
  records: z.array(z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())])),
  total: z.int().min(0).optional(),
  total_was_estimated: z.boolean().optional(),
  limit: z.int(),
  offset: z.int(),
  include_total: z.boolean(),
  _links: z.object({ start: z.string(), next: z.string() }),
});

/** Explore error body. */
export const ExploreError = z.object({ error_code: z.string().min(1), message: z.string().min(1) });

/** Explore dataset object. */
export const ExploreDataset = z.looseObject({
  dataset_id: z.string(),
  dataset_uid: z.string(),
  has_records: z.boolean(),
  features: z.array(z.string()),
  metas: z.object({
    default: z.looseObject({
      title: z.string(),
      license: z.string(),
      license_url: z.url(),
      records_count: z.int(),
      modified: z.string(),
      publisher: z.string(),
    }),
    dcat: z.looseObject({}),
  }),
  fields: z.array(
    z.object({
      name: z.string(),
      label: z.string(),
      type: z.enum(['text', 'int', 'double', 'boolean', 'datetime', 'date']),
      description: z.string().nullable(),
      annotations: z.looseObject({}),
    }),
  ),
});

/** Explore catalog/datasets result. */
export const ExploreDatasets = z.object({ total_count: z.int().min(0), results: z.array(ExploreDataset) });

/** Explore records result. */
export const ExploreRecords = z.object({
  total_count: z.int().min(0),
  results: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))),
});
