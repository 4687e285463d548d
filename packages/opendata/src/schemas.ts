import { z } from 'zod';

/**
 * Shapes of everything the open-data store holds (see ../README.md for the layout). One zod module
 * is the source of truth: the writer parses its inputs with these, the reader parses files with them,
 * the API derives its responses from them.
 */

const isoDateTime = z.iso.datetime({ offset: true });

/** A dataset id: a lowercase slug, also the Data Package `name` and the CKAN package name. */
export const DatasetId = z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase slug: a-z, 0-9 and -');
/** A dataset id. */
export type DatasetId = z.infer<typeof DatasetId>;

/** A release id: `YYYY-MM-DDTHH-MM-SSZ-r<N>` (dated, sortable, safe in paths and object keys). */
export const ReleaseId = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-r\d+$/, 'YYYY-MM-DDTHH-MM-SSZ-r<N>');
/** A release id. */
export type ReleaseId = z.infer<typeof ReleaseId>;

/**
 * The status of a row's value cells: a value, a suppressed cell, a noised value, a missing
 * measurement, a structural zero. What each means is `CELL_STATUS_MEANINGS`.
 */
export const CellStatus = z.enum(['value', 'suppressed', 'noised', 'missing', 'zero']);
/** A cell status. */
export type CellStatus = z.infer<typeof CellStatus>;
/** All cell statuses, in the order used by release notes. */
export const CELL_STATUSES = CellStatus.options;

/** Text in French and English. */
export const Bilingual = z.strictObject({ fr: z.string().min(1), en: z.string().min(1) });
/** Text in French and English. */
export type Bilingual = z.infer<typeof Bilingual>;

/**
 * What each status means, for Table Schema descriptions and documentation. A value computed from
 * contributors is never `zero`, even when it is 0: it passed the same rules as any other value
 * (threshold, dominance, secondary suppression, noise) and is `value` or `noised`.
 */
export const CELL_STATUS_MEANINGS: Record<CellStatus, Bilingual> = {
  value: {
    fr: 'valeur calculée à partir des équipements qui ont émis, publiée après les règles d’anonymisation (elle peut valoir 0).',
    en: 'value computed from the equipment that reported, published after the anonymisation rules (it may be 0).',
  },
  suppressed: {
    fr: 'masquée par les règles d’anonymisation (seuil, dominance ou masquage secondaire) ; cellules de valeur vides.',
    en: 'hidden by the anonymisation rules (threshold, dominance or secondary suppression); value cells empty.',
  },
  noised: {
    fr: 'valeur publiée avec un bruit calibré (Laplace discret) sur les comptes dérivés de personnes ; elle peut valoir 0.',
    en: 'value published with calibrated noise (discrete Laplace) on person-derived counts; it may be 0.',
  },
  missing: {
    fr: 'aucune mesure reçue pour cette période (panne, absence de transmission) ; cellules de valeur vides.',
    en: 'no measurement received for this period (failure, no transmission); value cells empty.',
  },
  zero: {
    fr: 'zéro structurel exact : le registre des équipements (public) ne compte aucun équipement de ce type dans la commune.',
    en: 'exact structural zero: the (public) equipment registry lists no equipment of this kind in the commune.',
  },
};

/** Frictionless Table Schema field types the store writes and reads back. */
export const FieldType = z.enum(['string', 'integer', 'number', 'boolean', 'datetime', 'date']);
/** A Table Schema field type. */
export type FieldType = z.infer<typeof FieldType>;

/** A Frictionless Table Schema field (https://specs.frictionlessdata.io/table-schema/). */
export const TableField = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'snake_case field name'),
  type: FieldType,
  title: z.string().optional(),
  description: z.string().optional(),
  /** `default` for every type here; datetimes are ISO 8601 with an offset. */
  format: z.literal('default').optional(),
  /** Unit of measure (UCUM or plain text), shown in docs and DCAT. */
  unit: z.string().optional(),
  constraints: z
    .object({
      required: z.boolean().optional(),
      unique: z.boolean().optional(),
      enum: z.array(z.string()).optional(),
      minimum: z.number().optional(),
      maximum: z.number().optional(),
    })
    .optional(),
});
/** A Table Schema field. */
export type TableField = z.infer<typeof TableField>;

/** A Frictionless Table Schema. A `status` field is added by the writer when absent. */
export const TableSchema = z.object({
  fields: z.array(TableField).min(1),
  primaryKey: z.array(z.string()).optional(),
  missingValues: z.array(z.string()).optional(),
});
/** A Table Schema. */
export type TableSchema = z.infer<typeof TableSchema>;

/** A contact point (DCAT `dcat:contactPoint`, vCard). */
export const ContactPoint = z.strictObject({
  name: z.string().min(1),
  email: z.email(),
  url: z.url().optional(),
});

/**
 * What a publisher supplies about a dataset. The store adds licence, publisher, spatial coverage,
 * dates and temporal coverage (see `DatasetMetadata`).
 */
export const DatasetMetadataInput = z.strictObject({
  title: Bilingual,
  description: Bilingual,
  keywords: z.strictObject({ fr: z.array(z.string().min(1)).min(1), en: z.array(z.string().min(1)).min(1) }),
  /** EU data themes: codes of http://publications.europa.eu/resource/authority/data-theme (e.g. TRAN, ENER, ENVI). */
  themes: z.array(z.string().regex(/^[A-Z]{4}$/)).min(1),
  /** EU frequency code (http://publications.europa.eu/resource/authority/frequency), e.g. DAILY, HOURLY. */
  accrualPeriodicity: z.string().regex(/^[A-Z_0-9]+$/),
  /** ISO 8601 duration of one row's period, e.g. PT1H (dcat:temporalResolution). */
  temporalResolution: z.string().regex(/^P/).optional(),
  contactPoint: ContactPoint,
  /** Human page about the dataset (dcat:landingPage). */
  landingPage: z.url().optional(),
  /** Standards the data conforms to (URIs), besides Table Schema which the store adds. */
  conformsTo: z.array(z.url()).default([]),
  /** Free-text provenance: which pipeline stages and policy produce the data (dct:provenance). */
  provenance: z.string().optional(),
  /** Which field carries the commune INSEE code, if any (used for GeoJSON and spatial coverage). */
  communeField: z.string().optional(),
  /** Data-derived-from-persons flag: true when anonymisation rules for persons apply. */
  personDerived: z.boolean().default(false),
  /** Fields whose cells the status column describes; default: every number/integer field. */
  valueFields: z.array(z.string()).optional(),
});
/** What a publisher supplies about a dataset. */
export type DatasetMetadataInput = z.input<typeof DatasetMetadataInput>;

/** A place covered by a dataset (dct:spatial). */
export const SpatialCoverage = z.strictObject({
  insee: z.string(),
  name: z.string(),
  /** A resolvable URI of the place. */
  uri: z.url(),
  /** Approximate centre [lon, lat] (WGS84), not an official centroid. */
  centre: z.tuple([z.number(), z.number()]),
});

/** An organisation (foaf:Agent) as the store records it. */
export const Agent = z.strictObject({
  name: z.string(),
  /** SIREN of a French public body. */
  siren: z.string().regex(/^\d{9}$/),
  uri: z.url(),
  homepage: z.url(),
  /** ADMS publisher type URI. */
  type: z.url(),
  email: z.email(),
});
/** An organisation. */
export type Agent = z.infer<typeof Agent>;

/** Full dataset metadata as written to `datasets/{id}/dataset.json`. */
export const DatasetMetadata = z.strictObject({
  id: DatasetId,
  ...DatasetMetadataInput.shape,
  conformsTo: z.array(z.url()),
  personDerived: z.boolean(),
  valueFields: z.array(z.string()),
  licence: z.strictObject({ id: z.string(), title: z.string(), uri: z.url() }),
  publisher: Agent,
  creator: Agent,
  language: z.array(z.string()),
  accessRights: z.literal('PUBLIC'),
  spatial: z.array(SpatialCoverage),
  /** Centres of communes are approximate; said in the metadata so nobody takes them as official. */
  spatialNote: z.string(),
  temporal: z.strictObject({ start: isoDateTime, end: isoDateTime }).nullable(),
  /** First release time (dct:issued). */
  issued: isoDateTime,
  /** Latest release time (dct:modified). */
  modified: isoDateTime,
  latestRelease: ReleaseId,
  releaseCount: z.int().min(1),
  /** Version of the latest release (`r<N>` → N). */
  version: z.string(),
});
/** Full dataset metadata. */
export type DatasetMetadata = z.infer<typeof DatasetMetadata>;

/** One file of a release, with its checksum. */
export const ReleaseFile = z.strictObject({
  name: z.string(),
  mediaType: z.string(),
  bytes: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
/** One file of a release. */
export type ReleaseFile = z.infer<typeof ReleaseFile>;

/** Privacy budget spent by a release (discrete-Laplace noise on person-derived counts). */
export const BudgetSpent = z.strictObject({
  epsilon: z.number().min(0),
  /** Budget accounting period, e.g. the release's day. */
  period: z.string().optional(),
  /** Cumulative ε spent in that period after this release. */
  cumulativeEpsilon: z.number().min(0).optional(),
  mechanism: z.string().optional(),
});

/** What the publisher supplies as release notes; counts and checksums are computed by the writer. */
export const ReleaseNotesInput = z.strictObject({
  period: z.strictObject({ start: isoDateTime, end: isoDateTime }),
  policyRevision: z.string().min(1),
  /** Thresholds actually applied, e.g. { kPersons: 11, kOrganisations: 3, dominancePct: 85 }. */
  thresholds: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
  budget: BudgetSpent.default({ epsilon: 0 }),
  /** Where the data comes from: topics, processors and versions, windows, counts. JSON only. */
  lineage: z.record(z.string(), z.unknown()),
  /** The release this one revises (late data), if any. */
  supersedes: ReleaseId.optional(),
  /** Human note, e.g. why a revision was issued. */
  comment: Bilingual.optional(),
  /** Cells suppressed by secondary suppression (of the `suppressed` total). */
  secondarySuppressedCells: z.int().min(0).optional(),
});
/** Release notes input. */
export type ReleaseNotesInput = z.input<typeof ReleaseNotesInput>;

/** Release notes as written to `release-notes.json`. */
export const ReleaseNotes = z.strictObject({
  datasetId: DatasetId,
  releaseId: ReleaseId,
  /** Sequence of the release in its dataset, from 1. */
  sequence: z.int().min(1),
  publishedAt: isoDateTime,
  ...ReleaseNotesInput.shape,
  budget: BudgetSpent,
  rowCount: z.int().min(0),
  statusCounts: z.record(CellStatus, z.int().min(0)),
  /** Value cells suppressed (rows with status `suppressed` × value fields). */
  suppressedCells: z.int().min(0),
  noisedCells: z.int().min(0),
  files: z.array(ReleaseFile),
  generator: z.string(),
});
/** Release notes. */
export type ReleaseNotes = z.infer<typeof ReleaseNotes>;

/** A release as listed in the catalogue. */
export const CatalogRelease = z.strictObject({
  releaseId: ReleaseId,
  sequence: z.int().min(1),
  publishedAt: isoDateTime,
  period: z.strictObject({ start: isoDateTime, end: isoDateTime }),
  rowCount: z.int().min(0),
  /** Store-relative path of the release folder. */
  path: z.string(),
  /** SHA-256 of `release-notes.json`, which holds the checksum of every other file. */
  notesSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
/** A catalogue release entry. */
export type CatalogRelease = z.infer<typeof CatalogRelease>;

/** The catalogue pointer (`catalog.json`): the only file readers start from, written last. */
export const Catalog = z.strictObject({
  format: z.literal('ondijon-opendata-store/1'),
  updatedAt: isoDateTime,
  /** Incremented on each write, for ETags and change detection. */
  generation: z.int().min(0),
  datasets: z.record(
    DatasetId,
    z.strictObject({
      title: z.string(),
      metadataPath: z.string(),
      schemaPath: z.string(),
      datapackagePath: z.string(),
      latestRelease: ReleaseId,
      releases: z.array(CatalogRelease).min(1),
    }),
  ),
  registers: z.record(
    z.string(),
    z.strictObject({ path: z.string(), updatedAt: isoDateTime, sha256: z.string() }),
  ),
});
/** The catalogue. */
export type Catalog = z.infer<typeof Catalog>;

/** Name of a public register, e.g. `data-uses`, `privacy-budget`. */
export const RegisterName = z.string().regex(/^[a-z][a-z0-9-]{1,40}$/);

/** A typed row of a release: values after Table Schema casting (null for an empty cell). */
export type Row = Record<string, string | number | boolean | null>;

/** A row as the writer accepts it: datetimes may be Date objects. */
export type RowInput = Record<string, string | number | boolean | Date | null | undefined>;
