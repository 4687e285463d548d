import { OnDijonError } from '@ondijon/contracts';
import { toBackend, type StoreBackend } from './backend';
import { castCell, isIsoDateTimeWithOffset, toCsv } from './csv';
import {
  COMMUNE_COVERAGE,
  CSV_URI,
  DIJON_METROPOLE,
  GENERATOR,
  GEOJSON_URI,
  LICENCE,
  SPATIAL_NOTE,
  TABLE_SCHEMA_URI,
} from './constants';
import { sha256 } from './durable-fs';
import { rowsToFeatureCollection, stringifyFeatureCollection } from './geojson';
import { MEDIA_TYPES, formatReleaseId, layout, type ReleaseFileName } from './layout';
import { readCatalogFile, emptyCatalog } from './catalog-file';
import {
  CELL_STATUSES,
  Catalog,
  CellStatus,
  DatasetId,
  DatasetMetadata,
  DatasetMetadataInput,
  RegisterName,
  ReleaseNotes,
  ReleaseNotesInput,
  TableSchema,
  type CatalogRelease,
  type ReleaseFile,
  type Row,
  type RowInput,
  type TableField,
} from './schemas';
import { renderReleaseNotesMarkdown } from './release-notes-md';

/** Minimal logger the store accepts (a pino logger fits); packages never create one. */
export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Named points of `writeRelease`, in order; tests use them to crash the writer at each one. */
export const WRITE_STEPS = [
  'tmp:data.csv',
  'tmp:data.geojson',
  'tmp:schema.json',
  'tmp:datapackage.json',
  'tmp:dataset.json',
  'tmp:release-notes.json',
  'tmp:release-notes.md',
  'release:renamed',
  'dataset:schema.json',
  'dataset:datapackage.json',
  'dataset:dataset.json',
  'catalog:written',
] as const;
/** A named point of `writeRelease`. */
export type WriteStep = (typeof WRITE_STEPS)[number];

/** Options of the store writer. */
export interface StoreWriterOptions {
  /** Clock, for tests. */
  now?: () => Date;
  logger?: StoreLogger;
  /** Awaited after each step of a release; tests pause or crash the process here. */
  onStep?: (step: WriteStep, info: { datasetId: string; releaseId: string }) => Promise<void> | void;
}

/** What `writeRelease` needs. */
export interface WriteReleaseInput {
  datasetId: string;
  metadata: DatasetMetadataInput;
  /** Table Schema of the rows; a `status` field is appended when absent. */
  tableSchema: TableSchema;
  rows: readonly RowInput[];
  /** Write `data.geojson` (default: when `metadata.communeField` is set). */
  geo?: boolean;
  notes: ReleaseNotesInput;
  /** Publication time (default: now); it dates the release id. */
  publishedAt?: Date;
}

/** What `writeRelease` returns. */
export interface ReleaseInfo {
  datasetId: string;
  releaseId: string;
  sequence: number;
  /** Store-relative path of the release folder. */
  path: string;
  files: ReleaseFile[];
  rowCount: number;
  suppressedCells: number;
  /** True when an identical release (same data and period) was already the latest: nothing was written. */
  reused: boolean;
  notes: ReleaseNotes;
}

/** The store's write side: used only by the publisher. */
export interface StoreWriter {
  /** Writes one immutable release atomically, then the dataset metadata, then the catalogue. */
  writeRelease(input: WriteReleaseInput): Promise<ReleaseInfo>;
  /** Replaces a public register (`data-uses`, `privacy-budget`…) atomically and lists it in the catalogue. */
  updateRegister(name: string, value: unknown): Promise<void>;
  /** Root directory of the store (or its `s3://bucket/prefix`). */
  readonly rootDir: string;
  readonly backend: StoreBackend;
}

const STATUS_FIELD: TableField = {
  name: 'status',
  type: 'string',
  title: 'Statut de la valeur / value status',
  description:
    'value: measured value; suppressed: hidden by the anonymisation rules (value cells empty); noised: value with ' +
    'calibrated noise; missing: no measurement (value cells empty); zero: a true zero.',
  constraints: { required: true, enum: [...CELL_STATUSES] },
};

function blocked(message: string, details?: Record<string, unknown>): OnDijonError {
  return new OnDijonError('ONDIJON_RELEASE_BLOCKED', message, details ? { details } : {});
}

/** Appends the status field when absent and checks it when present. */
export function withStatusField(schema: TableSchema): TableSchema {
  const existing = schema.fields.find((f) => f.name === 'status');
  if (!existing)
    return {
      ...schema,
      fields: [...schema.fields, STATUS_FIELD],
      missingValues: schema.missingValues ?? [''],
    };
  if (existing.type !== 'string') throw blocked('the status field must be a string');
  return {
    ...schema,
    fields: schema.fields.map((f) =>
      f.name === 'status'
        ? { ...f, constraints: { ...f.constraints, required: true, enum: [...CELL_STATUSES] } }
        : f,
    ),
    missingValues: schema.missingValues ?? [''],
  };
}

function formatDateTime(d: Date): string {
  const iso = d.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, 19)}Z` : iso;
}

/** Serialises one row's cells per the schema, checking types, constraints and the status rules. */
function serialiseRow(
  row: RowInput,
  index: number,
  fields: TableField[],
  valueFields: Set<string>,
  known: Set<string>,
): { cells: string[]; typed: Row; status: CellStatus } {
  for (const key of Object.keys(row)) {
    // Refusing unknown keys keeps fields the schema does not declare (pseudonyms, raw ids) out of the store.
    if (!known.has(key))
      throw blocked(`row ${index}: field "${key}" is not in the Table Schema`, { row: index, field: key });
  }
  const cells: string[] = [];
  const typed: Row = {};
  for (const f of fields) {
    const v = row[f.name];
    let s: string;
    if (v === null || v === undefined || v === '') s = '';
    else if (v instanceof Date) {
      if (f.type !== 'datetime' || Number.isNaN(v.getTime()))
        throw blocked(`row ${index}: field "${f.name}" got a Date`, { row: index, field: f.name });
      s = formatDateTime(v);
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v))
        throw blocked(`row ${index}: field "${f.name}" is not finite`, { row: index, field: f.name });
      if (f.type === 'integer' && !Number.isInteger(v))
        throw blocked(`row ${index}: field "${f.name}" is not an integer`, { row: index, field: f.name });
      if (f.type !== 'integer' && f.type !== 'number')
        throw blocked(`row ${index}: field "${f.name}" got a number`, { row: index, field: f.name });
      s = String(v);
    } else if (typeof v === 'boolean') {
      if (f.type !== 'boolean')
        throw blocked(`row ${index}: field "${f.name}" got a boolean`, { row: index, field: f.name });
      s = String(v);
    } else {
      s = v;
      if (f.type === 'datetime' && !isIsoDateTimeWithOffset(s)) {
        throw blocked(`row ${index}: field "${f.name}" is not an ISO 8601 datetime with offset`, {
          row: index,
          field: f.name,
        });
      }
    }
    let cast: string | number | boolean | null;
    try {
      cast = castCell(f.type, s);
    } catch (err) {
      throw blocked(`row ${index}: field "${f.name}": ${(err as Error).message}`, {
        row: index,
        field: f.name,
      });
    }
    const c = f.constraints;
    if (c?.required && cast === null)
      throw blocked(`row ${index}: field "${f.name}" is required`, { row: index, field: f.name });
    if (cast !== null && c?.enum && !c.enum.includes(String(cast)))
      throw blocked(`row ${index}: field "${f.name}" is not in its enum`, { row: index, field: f.name });
    if (
      typeof cast === 'number' &&
      ((c?.minimum !== undefined && cast < c.minimum) || (c?.maximum !== undefined && cast > c.maximum))
    ) {
      throw blocked(`row ${index}: field "${f.name}" is out of range`, { row: index, field: f.name });
    }
    cells.push(s);
    typed[f.name] = cast;
  }
  const status = typed.status as CellStatus;
  for (const name of valueFields) {
    const v = typed[name];
    // The status column is only trustworthy if the cells agree with it: a suppressed cell with a value would leak.
    if ((status === 'suppressed' || status === 'missing') && v !== null)
      throw blocked(`row ${index}: ${status} row has a value in "${name}"`, { row: index, field: name });
    if (status === 'zero' && v !== 0)
      throw blocked(`row ${index}: zero row has a non-zero "${name}"`, { row: index, field: name });
    if ((status === 'value' || status === 'noised') && v === null)
      throw blocked(`row ${index}: ${status} row has an empty "${name}"`, { row: index, field: name });
  }
  return { cells, typed, status };
}

/** The release-level Data Package: self-contained (schema inline), paths relative to the release folder. */
function releaseDataPackage(
  meta: DatasetMetadata,
  releaseId: string,
  schema: TableSchema,
  csv: { bytes: number; sha256: string },
) {
  return {
    profile: 'tabular-data-package',
    name: meta.id,
    title: meta.title.fr,
    description: meta.description.fr,
    version: releaseId,
    created: meta.modified,
    homepage: meta.landingPage,
    keywords: meta.keywords.fr,
    licenses: [{ name: LICENCE.id, path: LICENCE.uri, title: LICENCE.title }],
    contributors: [
      {
        title: meta.publisher.name,
        role: 'publisher',
        path: meta.publisher.homepage,
        email: meta.contactPoint.email,
      },
    ],
    resources: [
      {
        name: 'data',
        path: 'data.csv',
        profile: 'tabular-data-resource',
        format: 'csv',
        mediatype: 'text/csv',
        encoding: 'utf-8',
        bytes: csv.bytes,
        hash: `sha256:${csv.sha256}`,
        dialect: { delimiter: ',', doubleQuote: true, header: true, lineTerminator: '\r\n', quoteChar: '"' },
        schema,
      },
    ],
  };
}

/** The dataset-level Data Package: same as the latest release's, with paths into that release. */
export function datasetDataPackage(
  releasePackage: ReturnType<typeof releaseDataPackage>,
  releaseId: string,
  datasetId: string,
) {
  return {
    ...releasePackage,
    resources: releasePackage.resources.map((r) => ({
      ...r,
      path: `releases/${releaseId}/${r.path}`,
      schema: 'schema.json',
    })),
    // Keep paths relative to the dataset folder, as Data Package requires; the id says where it lives.
    id: `datasets/${datasetId}`,
  };
}

function buildMetadata(
  datasetId: string,
  input: ReturnType<typeof DatasetMetadataInput.parse>,
  schema: TableSchema,
  releaseId: string,
  sequence: number,
  publishedAt: string,
  issued: string,
  periods: { start: string; end: string }[],
): DatasetMetadata {
  const numeric = schema.fields.filter((f) => f.type === 'number' || f.type === 'integer').map((f) => f.name);
  const valueFields = input.valueFields ?? numeric;
  const starts = periods.map((p) => p.start).sort((a, b) => Date.parse(a) - Date.parse(b));
  const ends = periods.map((p) => p.end).sort((a, b) => Date.parse(a) - Date.parse(b));
  return DatasetMetadata.parse({
    id: datasetId,
    ...input,
    conformsTo: [...new Set([...input.conformsTo, TABLE_SCHEMA_URI, CSV_URI, GEOJSON_URI])],
    valueFields,
    licence: LICENCE,
    publisher: DIJON_METROPOLE,
    creator: DIJON_METROPOLE,
    language: ['fr', 'en'],
    accessRights: 'PUBLIC',
    spatial: COMMUNE_COVERAGE,
    spatialNote: SPATIAL_NOTE,
    temporal: starts.length ? { start: starts[0], end: ends[ends.length - 1] } : null,
    issued,
    modified: publishedAt,
    latestRelease: releaseId,
    releaseCount: sequence,
    version: String(sequence),
  });
}

/** Everything of a release folder that the dataset-level files and the catalogue are derived from. */
export interface ReleaseSnapshot {
  notes: ReleaseNotes;
  metadata: DatasetMetadata;
  schema: TableSchema;
  dataPackage: ReturnType<typeof releaseDataPackage>;
  notesSha256: string;
}

/**
 * Points the dataset-level files and the catalogue at a whole release folder: dataset files first
 * (each replaced atomically), the catalogue last, so the catalogue never names a missing file.
 */
export async function linkRelease(
  store: string | StoreBackend,
  snap: ReleaseSnapshot,
  onStep: (step: WriteStep) => Promise<void> = async () => {},
): Promise<Catalog> {
  const backend = toBackend(store);
  const id = snap.notes.datasetId;
  const catalog = (await readCatalogFile(backend)) ?? emptyCatalog();
  const entry = catalog.datasets[id];
  const releases = entry ? entry.releases.filter((r) => r.releaseId !== snap.notes.releaseId) : [];
  const rel: CatalogRelease = {
    releaseId: snap.notes.releaseId,
    sequence: snap.notes.sequence,
    publishedAt: snap.notes.publishedAt,
    period: snap.notes.period,
    rowCount: snap.notes.rowCount,
    path: layout.release(id, snap.notes.releaseId),
    notesSha256: snap.notesSha256,
  };
  releases.push(rel);
  releases.sort((a, b) => a.sequence - b.sequence);
  const latest = releases[releases.length - 1]!;
  const isLatest = latest.releaseId === snap.notes.releaseId;
  if (isLatest) {
    await backend.replace(layout.schema(id), JSON.stringify(snap.schema, null, 2) + '\n');
    await onStep('dataset:schema.json');
    await backend.replace(
      layout.datapackage(id),
      JSON.stringify(datasetDataPackage(snap.dataPackage, snap.notes.releaseId, id), null, 2) + '\n',
    );
    await onStep('dataset:datapackage.json');
    await backend.replace(layout.dataset(id), JSON.stringify(snap.metadata, null, 2) + '\n');
    await onStep('dataset:dataset.json');
  }
  const next: Catalog = Catalog.parse({
    ...catalog,
    updatedAt: new Date().toISOString(),
    generation: catalog.generation + 1,
    datasets: {
      ...catalog.datasets,
      [id]: {
        title: isLatest ? snap.metadata.title.fr : (entry?.title ?? snap.metadata.title.fr),
        metadataPath: layout.dataset(id),
        schemaPath: layout.schema(id),
        datapackagePath: layout.datapackage(id),
        latestRelease: latest.releaseId,
        releases,
      },
    },
  });
  await backend.replace(layout.catalog, JSON.stringify(next, null, 2) + '\n');
  await onStep('catalog:written');
  return next;
}

/** Creates the store's writer over a directory (created if needed) or another backend (S3). */
export function createStoreWriter(
  store: string | StoreBackend,
  options: StoreWriterOptions = {},
): StoreWriter {
  const backend = toBackend(store);
  const rootDir = backend.location;
  const readText = async (rel: string) => (await backend.read(rel))?.toString('utf8');
  const now = options.now ?? (() => new Date());
  // One write at a time per writer: each release reads the catalogue it extends.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };

  async function writeRelease(input: WriteReleaseInput): Promise<ReleaseInfo> {
    const datasetId = DatasetId.parse(input.datasetId);
    const metaIn = DatasetMetadataInput.safeParse(input.metadata);
    if (!metaIn.success)
      throw blocked(
        `invalid dataset metadata: ${metaIn.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const schemaIn = TableSchema.safeParse(input.tableSchema);
    if (!schemaIn.success)
      throw blocked(
        `invalid Table Schema: ${schemaIn.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const notesIn = ReleaseNotesInput.safeParse(input.notes);
    if (!notesIn.success)
      throw blocked(
        `invalid release notes: ${notesIn.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const schema = withStatusField(schemaIn.data);
    const known = new Set(schema.fields.map((f) => f.name));
    const numeric = schema.fields
      .filter((f) => f.type === 'number' || f.type === 'integer')
      .map((f) => f.name);
    const valueFields = metaIn.data.valueFields ?? numeric;
    for (const v of valueFields)
      if (!known.has(v)) throw blocked(`value field "${v}" is not in the Table Schema`);
    const communeField = metaIn.data.communeField;
    if (communeField !== undefined && !known.has(communeField))
      throw blocked(`commune field "${communeField}" is not in the Table Schema`);
    const valueSet = new Set(valueFields);

    const statusCounts = Object.fromEntries(CELL_STATUSES.map((s) => [s, 0])) as Record<CellStatus, number>;
    const cells: string[][] = [];
    const typed: Row[] = [];
    input.rows.forEach((row, i) => {
      const r = serialiseRow(row, i, schema.fields, valueSet, known);
      cells.push(r.cells);
      typed.push(r.typed);
      statusCounts[r.status]++;
    });
    const csv = toCsv(
      schema.fields.map((f) => f.name),
      cells,
    );
    const csvSha = sha256(csv);
    const wantGeo = input.geo ?? communeField !== undefined;
    if (wantGeo && communeField === undefined) throw blocked('GeoJSON needs metadata.communeField');

    return serial(async () => {
      const catalog = (await readCatalogFile(backend)) ?? emptyCatalog();
      const entry = catalog.datasets[datasetId];
      if (entry) {
        // Idempotent retry: a publisher that crashed after linking a release and replays its input gets the same release back.
        const latest = entry.releases[entry.releases.length - 1]!;
        const prevNotes = ReleaseNotes.parse(
          JSON.parse((await readText(`${latest.path}/release-notes.json`)) ?? 'null'),
        );
        const prevCsv = prevNotes.files.find((f) => f.name === 'data.csv');
        if (
          prevCsv?.sha256 === csvSha &&
          prevNotes.period.start === notesIn.data.period.start &&
          prevNotes.period.end === notesIn.data.period.end &&
          prevNotes.policyRevision === notesIn.data.policyRevision
        ) {
          return {
            datasetId,
            releaseId: latest.releaseId,
            sequence: latest.sequence,
            path: latest.path,
            files: prevNotes.files,
            rowCount: prevNotes.rowCount,
            suppressedCells: prevNotes.suppressedCells,
            reused: true,
            notes: prevNotes,
          };
        }
      }
      const sequence = (entry?.releases.reduce((m, r) => Math.max(m, r.sequence), 0) ?? 0) + 1;
      const publishedAtDate = input.publishedAt ?? now();
      const releaseId = formatReleaseId(publishedAtDate, sequence);
      const publishedAt = formatDateTime(publishedAtDate);
      const relPath = layout.release(datasetId, releaseId);
      if (await backend.exists(`${relPath}/release-notes.json`))
        throw blocked(`release ${releaseId} already exists; releases are immutable`);
      const step = async (s: WriteStep) => {
        await options.onStep?.(s, { datasetId, releaseId });
      };

      let issued = publishedAt;
      if (entry) {
        const prevMeta = DatasetMetadata.safeParse(
          JSON.parse((await readText(entry.metadataPath).catch(() => undefined)) ?? 'null'),
        );
        issued = prevMeta.success ? prevMeta.data.issued : (entry.releases[0]?.publishedAt ?? publishedAt);
      }
      const periods = [...(entry?.releases.map((r) => r.period) ?? []), notesIn.data.period];
      const metadata = buildMetadata(
        datasetId,
        metaIn.data,
        schema,
        releaseId,
        sequence,
        publishedAt,
        issued,
        periods,
      );

      const upload = await backend.beginRelease(datasetId, releaseId);
      const files: ReleaseFile[] = [];
      const put = async (name: ReleaseFileName | 'dataset.json', data: string, record = true) => {
        await upload.put(name, data);
        if (record && name !== 'dataset.json')
          files.push({
            name,
            mediaType: MEDIA_TYPES[name],
            bytes: Buffer.byteLength(data),
            sha256: sha256(data),
          });
        await step(`tmp:${name}` as WriteStep);
      };

      await put('data.csv', csv);
      if (wantGeo)
        await put('data.geojson', stringifyFeatureCollection(rowsToFeatureCollection(typed, communeField!)));
      await put('schema.json', JSON.stringify(schema, null, 2) + '\n');
      const dataPackage = releaseDataPackage(metadata, releaseId, schema, {
        bytes: Buffer.byteLength(csv),
        sha256: csvSha,
      });
      await put('datapackage.json', JSON.stringify(dataPackage, null, 2) + '\n');
      const metadataJson = JSON.stringify(metadata, null, 2) + '\n';
      await put('dataset.json', metadataJson, false);
      files.push({
        name: 'dataset.json',
        mediaType: 'application/json',
        bytes: Buffer.byteLength(metadataJson),
        sha256: sha256(metadataJson),
      });

      const notes = ReleaseNotes.parse({
        datasetId,
        releaseId,
        sequence,
        publishedAt,
        ...notesIn.data,
        rowCount: typed.length,
        statusCounts,
        suppressedCells: statusCounts.suppressed * valueFields.length,
        noisedCells: statusCounts.noised * valueFields.length,
        files,
        generator: GENERATOR,
      });
      const notesJson = JSON.stringify(notes, null, 2) + '\n';
      await put('release-notes.json', notesJson, false);
      await put('release-notes.md', renderReleaseNotesMarkdown(notes, metadata), false);
      // The one atomic step (fs: one rename of the temp folder; S3: nothing, no reader looks under a
      // release prefix the catalogue does not name).
      await upload.commit();
      await step('release:renamed');

      await linkRelease(
        backend,
        { notes, metadata, schema, dataPackage, notesSha256: sha256(notesJson) },
        step,
      );
      options.logger?.info(
        { datasetId, releaseId, rows: typed.length, suppressed: statusCounts.suppressed },
        'release written',
      );
      return {
        datasetId,
        releaseId,
        sequence,
        path: relPath,
        files,
        rowCount: typed.length,
        suppressedCells: notes.suppressedCells,
        reused: false,
        notes,
      };
    });
  }

  async function updateRegister(name: string, value: unknown): Promise<void> {
    const parsed = RegisterName.safeParse(name);
    if (!parsed.success) throw blocked(`invalid register name "${name}"`);
    const json = JSON.stringify(value, null, 2) + '\n';
    if (json === undefined) throw blocked('register value is not JSON');
    await serial(async () => {
      const rel = layout.register(name);
      await backend.replace(rel, json);
      const catalog = (await readCatalogFile(backend)) ?? emptyCatalog();
      const updatedAt = formatDateTime(now());
      const next = Catalog.parse({
        ...catalog,
        updatedAt,
        generation: catalog.generation + 1,
        registers: { ...catalog.registers, [name]: { path: rel, updatedAt, sha256: sha256(json) } },
      });
      await backend.replace(layout.catalog, JSON.stringify(next, null, 2) + '\n');
      options.logger?.info({ register: name }, 'register updated');
    });
  }

  return { writeRelease, updateRegister, rootDir, backend };
}
