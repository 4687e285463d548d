import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DIJON_METROPOLE, type Row, type TableSchema } from '@ondijon/opendata';
import {
  DISTRIBUTIONS,
  allDatasetViews,
  baseUrl,
  fileFacts,
  fileUrl,
  findResource,
  packageUuid,
  resourceId,
  type ApiContext,
  type DatasetView,
  type Distribution,
} from '../context';
import { CKAN_PARAMS, ckanRouteSchema, type CkanAction, type CkanParams } from '../contract';
import { CkanError, ckanHelp, ckanValidation } from '../errors';
import { render, type RenderSpec } from '../render';
import {
  QueryError,
  Slicer,
  asText,
  dateColumn,
  parseFieldList,
  textDictionary,
  parseSort,
  project,
  queryFields,
  runQuery,
  type QueryField,
  OFFLOAD_ABOVE,
} from '../query';

/**
 * CKAN Action API subset (read-only), `/api/3/action/{action}` by GET (query string) or POST (JSON
 * body), as ckanapi and CKAN harvesters call it. Envelope `{help, success, result}`; errors as CKAN
 * sends them: 409 "Validation Error" with per-field messages, 404 "Not Found Error", 400 for an
 * unknown action or a malformed body (ckan/views/api.py, ckan/logic/__init__.py).
 */

const ORG_NAME = 'dijon-metropole';
/**
 * Licence id in CKAN answers: data.gouv.fr's CKAN harvester reads `license_id` and knows Licence
 * Ouverte 2.0 as `lov2` (its own `etalab-2.0` is not an id there); the URL stays Etalab's.
 */
export const CKAN_LICENCE_ID = 'lov2';
const CKAN_VERSION = '2.10.4';

/** Most terms in a datastore_search plain-text `q`, and its longest text. */
export const MAX_Q_TERMS = 16;
export const MAX_Q_LENGTH = 512;
/** Most values over all `filters` fields. */
export const MAX_FILTER_VALUES = 1000;

const notFound = (message: string) => new CkanError(404, 'Not Found Error', message);
/** A request over one of the bounded-cost limits: 400, naming the parameter and the limit. */
const limitError = (field: string, what: string) =>
  new CkanError(400, 'Bad Request', `${field}: ${what} (limit)`, { [field]: [`${what} (limit)`] });

function organization(base: string, packageCount?: number) {
  return {
    id: packageUuid(`org:${ORG_NAME}`),
    name: ORG_NAME,
    title: DIJON_METROPOLE.name,
    display_name: DIJON_METROPOLE.name,
    description: `${DIJON_METROPOLE.name}, établissement public de coopération intercommunale des 23 communes (SIREN ${DIJON_METROPOLE.siren}).`,
    type: 'organization',
    is_organization: true,
    state: 'active',
    approval_status: 'approved',
    image_url: '',
    image_display_url: '',
    created: '2026-01-01T00:00:00',
    ...(packageCount === undefined ? {} : { package_count: packageCount }),
    extras: [
      { key: 'siren', value: DIJON_METROPOLE.siren },
      { key: 'homepage', value: DIJON_METROPOLE.homepage },
    ],
    url: `${base}/api/3/action/organization_show?id=${ORG_NAME}`,
  };
}

/** CKAN timestamps have no offset (UTC, naive): `2026-11-28T10:00:00`. */
function ckanTime(iso: string): string {
  return new Date(iso).toISOString().slice(0, 19);
}

function resource(base: string, v: DatasetView, d: Distribution, position: number) {
  const facts = fileFacts(v, d.file);
  return {
    id: resourceId(v.meta.id, d.key),
    package_id: packageUuid(v.meta.id),
    name: `${v.meta.title.fr} (${d.format})`,
    description:
      d.key === 'release-notes'
        ? 'Notes de version / release notes'
        : `${v.meta.description.fr} — version ${v.release.releaseId}`,
    format: d.format,
    mimetype: d.mediaType,
    url: fileUrl(base, v.meta.id, v.release.releaseId, d.file),
    url_type: null,
    size: facts?.bytes ?? null,
    hash: facts ? `sha256:${facts.sha256}` : '',
    position,
    state: 'active',
    created: ckanTime(v.meta.issued),
    last_modified: ckanTime(v.release.publishedAt),
    metadata_modified: ckanTime(v.release.publishedAt),
    datastore_active: d.datastore,
    release_id: v.release.releaseId,
  };
}

function packageDict(base: string, v: DatasetView) {
  const m = v.meta;
  const resources = DISTRIBUTIONS.filter((d) => d.key !== 'geojson' || fileFacts(v, d.file)).map((d, i) =>
    resource(base, v, d, i),
  );
  return {
    id: packageUuid(m.id),
    name: m.id,
    title: m.title.fr,
    notes: `${m.description.fr}\n\n${m.description.en}`,
    type: 'dataset',
    state: 'active',
    private: false,
    version: m.version,
    url: m.landingPage ?? '',
    author: m.publisher.name,
    author_email: m.contactPoint.email,
    maintainer: m.contactPoint.name,
    maintainer_email: m.contactPoint.email,
    license_id: CKAN_LICENCE_ID,
    license_title: m.licence.title,
    license_url: m.licence.uri,
    isopen: true,
    metadata_created: ckanTime(m.issued),
    metadata_modified: ckanTime(m.modified),
    owner_org: organization(base).id,
    organization: organization(base),
    num_resources: resources.length,
    resources,
    num_tags: m.keywords.fr.length,
    tags: m.keywords.fr.map((k) => ({
      id: packageUuid(`tag:${k}`),
      name: k,
      display_name: k,
      state: 'active',
      vocabulary_id: null,
    })),
    groups: [],
    relationships_as_object: [],
    relationships_as_subject: [],
    extras: [
      { key: 'title_en', value: m.title.en },
      { key: 'frequency', value: m.accrualPeriodicity },
      { key: 'temporal_start', value: m.temporal?.start ?? '' },
      { key: 'temporal_end', value: m.temporal?.end ?? '' },
      { key: 'temporal_resolution', value: m.temporalResolution ?? '' },
      { key: 'spatial_text', value: 'Dijon Métropole (23 communes)' },
      { key: 'theme', value: m.themes.join(',') },
      { key: 'publisher_siren', value: m.publisher.siren },
      { key: 'latest_release', value: v.release.releaseId },
      { key: 'policy_revision', value: v.notes.policyRevision },
      { key: 'dcat_uri', value: `${base}/datasets/${m.id}` },
    ],
  };
}

function matchesQ(v: DatasetView, terms: string[]): boolean {
  const text = [
    v.meta.id,
    v.meta.title.fr,
    v.meta.title.en,
    v.meta.description.fr,
    v.meta.description.en,
    ...v.meta.keywords.fr,
    ...v.meta.keywords.en,
  ]
    .join(' ')
    .toLowerCase();
  return terms.every((t) => text.includes(t.replace(/^[a-z_]+:/, '')));
}

/** Longest `fq` / package_search `q` accepted, and most terms in one. */
export const MAX_FQ_LENGTH = 2000;
export const MAX_FQ_TERMS = 32;

interface FqTerm {
  neg: boolean;
  field: string;
  value: string;
  range?: { lo: number; hi: number; loIncl: boolean; hiIncl: boolean };
}

/** A Solr date of a range bound: `*`, an ISO date/datetime (UTC when no offset), `NOW[-nUNIT]`. */
function solrDate(text: string, now: number): number | undefined {
  const t = text.trim();
  if (t === '*') return undefined;
  const m = /^NOW(?:([+-])(\d{1,6})(YEARS?|MONTHS?|DAYS?|HOURS?|MINUTES?|SECONDS?))?(?:\/(DAY|HOUR))?$/.exec(
    t,
  );
  if (m) {
    const unit = (m[3] ?? 'DAY').replace(/S$/, '');
    const ms = {
      YEAR: 365 * 86_400_000,
      MONTH: 30 * 86_400_000,
      DAY: 86_400_000,
      HOUR: 3_600_000,
      MINUTE: 60_000,
      SECOND: 1000,
    }[unit]!;
    let v = now + (m[1] === '-' ? -1 : 1) * Number(m[2] ?? 0) * ms;
    if (m[4] === 'DAY') v -= v % 86_400_000;
    if (m[4] === 'HOUR') v -= v % 3_600_000;
    return v;
  }
  if (!/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(t))
    throw ckanValidation('fq', `cannot read the date "${t.slice(0, 40)}" (use ISO 8601, * or NOW-1DAY)`);
  const iso = /T/.test(t) && !/(Z|[+-]\d\d:?\d\d)$/.test(t) ? `${t}Z` : t;
  const v = Date.parse(iso);
  if (Number.isNaN(v)) throw ckanValidation('fq', `invalid date "${t.slice(0, 40)}"`);
  return v;
}

/**
 * Parses a Solr `fq` of ANDed terms `[+|-]field:value`, `field:"quoted value"` and date ranges
 * `field:[X TO Y]` (`{}` for exclusive bounds), in one pass over the text (linear time; the old
 * regular expression backtracked quadratically on long runs of word characters).
 */
export function parseFq(fq: string, now = Date.now()): FqTerm[] {
  if (fq.length > MAX_FQ_LENGTH) throw limitError('fq', `longer than ${MAX_FQ_LENGTH} characters`);
  const terms: FqTerm[] = [];
  let i = 0;
  const n = fq.length;
  const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  while (i < n) {
    while (i < n && isSpace(fq[i]!)) i++;
    if (i >= n) break;
    let neg = false;
    if (fq[i] === '+' || fq[i] === '-') neg = fq[i++] === '-';
    const fieldStart = i;
    while (i < n && /[A-Za-z0-9_]/.test(fq[i]!)) i++;
    const field = fq.slice(fieldStart, i);
    if (fq[i] !== ':') {
      if (field === 'AND' && !neg) continue;
      throw ckanValidation(
        'fq',
        `expected field:value at position ${fieldStart}${field === 'OR' ? ' (OR is not supported: terms are ANDed)' : ''}`,
      );
    }
    i++;
    let value: string;
    let range: FqTerm['range'];
    const open = fq[i];
    if (open === '[' || open === '{') {
      const close = Math.min(...[fq.indexOf(']', i), fq.indexOf('}', i)].filter((x) => x >= 0), Infinity);
      if (close === Infinity) throw ckanValidation('fq', `unterminated range at position ${i}`);
      value = fq.slice(i + 1, close);
      const parts = value.split(/\s+TO\s+/);
      if (parts.length !== 2) throw ckanValidation('fq', `expected [from TO to] at position ${i}`);
      const lo = solrDate(parts[0]!, now);
      const hi = solrDate(parts[1]!, now);
      range = { lo: lo ?? -Infinity, hi: hi ?? Infinity, loIncl: open === '[', hiIncl: fq[close] === ']' };
      i = close + 1;
    } else if (open === '"') {
      const close = fq.indexOf('"', i + 1);
      if (close < 0) throw ckanValidation('fq', `unterminated quote at position ${i}`);
      value = fq.slice(i + 1, close);
      i = close + 1;
    } else {
      const start = i;
      while (i < n && !isSpace(fq[i]!)) i++;
      value = fq.slice(start, i);
    }
    terms.push({ neg, field, value: value.toLowerCase(), ...(range ? { range } : {}) });
    if (terms.length > MAX_FQ_TERMS) throw limitError('fq', `more than ${MAX_FQ_TERMS} terms`);
  }
  return terms;
}

const inRange = (t: number, r: NonNullable<FqTerm['range']>) =>
  (r.loIncl ? t >= r.lo : t > r.lo) && (r.hiIncl ? t <= r.hi : t < r.hi);

/** Does a dataset match every fq term (name, tags, organization, res_format, license_id, metadata_modified, metadata_created)? */
function matchesFq(v: DatasetView, terms: FqTerm[]): boolean {
  for (const term of terms) {
    const { field, value } = term;
    let hit: boolean;
    switch (field) {
      case 'name':
        hit = v.meta.id === value;
        break;
      case 'tags':
        hit = v.meta.keywords.fr.some((k) => k.toLowerCase() === value);
        break;
      case 'organization':
        hit = value === ORG_NAME;
        break;
      case 'res_format':
        hit = ['csv', 'geojson', 'json'].includes(value);
        break;
      case 'license_id':
        hit = value === CKAN_LICENCE_ID || v.meta.licence.id === value;
        break;
      case 'metadata_modified':
      case 'metadata_created': {
        const at = Date.parse(field === 'metadata_modified' ? v.meta.modified : v.meta.issued);
        if (term.range) hit = inRange(at, term.range);
        else {
          const exact = solrDate(value.toUpperCase().replace(/^"|"$/g, ''), Date.now());
          hit = exact === undefined || exact === at;
        }
        break;
      }
      default:
        throw ckanValidation(
          'fq',
          `Unsupported filter field "${field.slice(0, 40)}" (supported: name, tags, organization, res_format, license_id, metadata_modified, metadata_created)`,
        );
    }
    if (hit === term.neg) return false;
  }
  return true;
}

/** package_search `sort`: one key among the package fields CKAN harvesters sort on, asc or desc. */
function sortPackages(views: DatasetView[], sort: string): void {
  const m =
    /^\s*(metadata_modified|metadata_created|name|title(?:_string)?|score)(?:\s+(asc|desc))?\s*(?:,\s*(?:metadata_modified|score)(?:\s+(?:asc|desc))?\s*)?$/i.exec(
      sort,
    );
  if (!m)
    throw ckanValidation(
      'sort',
      'Unsupported sort: use metadata_modified, metadata_created, name or title, asc or desc',
    );
  // There is no relevance score here (every match scores the same): "score desc, metadata_modified
  // desc", CKAN's default, is then the newest first.
  const key = m[1]!.toLowerCase() === 'score' ? 'metadata_modified' : m[1]!.toLowerCase();
  const desc = m[1]!.toLowerCase() === 'score' || (m[2] ?? 'asc').toLowerCase() === 'desc';
  const val = (v: DatasetView): string | number =>
    key === 'metadata_modified'
      ? Date.parse(v.meta.modified)
      : key === 'metadata_created'
        ? Date.parse(v.meta.issued)
        : key === 'name'
          ? v.meta.id
          : v.meta.title.fr;
  views.sort((a, b) => {
    const x = val(a);
    const y = val(b);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  });
}

const CKAN_TYPES: Record<string, string> = {
  string: 'text',
  integer: 'int',
  number: 'numeric',
  boolean: 'bool',
  datetime: 'timestamp',
  date: 'date',
};

/** What a datastore_search scan needs besides the rows (serialisable: it may run in the scan worker). */
export interface CkanScanArgs {
  filters: unknown;
  qRaw: unknown;
  q: unknown;
  sortText: string | undefined;
  offset: number;
  limit: number;
  includeTotal: boolean;
}

/** The filter, search and sort of a datastore_search over a release's rows: matching indexes, total. */
export async function ckanScan(
  rows: Row[],
  schema: TableSchema,
  a: CkanScanArgs,
): Promise<{ indexes: number[]; total: number | undefined }> {
  const fields = queryFields(schema);
  const predicates: ((row: Row, i: number) => boolean)[] = [];
  const filters = a.filters;
  if (filters !== undefined) {
    if (typeof filters !== 'object' || filters === null || Array.isArray(filters))
      throw ckanValidation('filters', 'Must be a JSON object');
    const count = Object.values(filters).reduce<number>((n, w) => n + (Array.isArray(w) ? w.length : 1), 0);
    if (count > MAX_FILTER_VALUES) throw limitError('filters', `more than ${MAX_FILTER_VALUES} values`);
    for (const [field, want] of Object.entries(filters))
      predicates.push(filterPredicate(fields, field, want, rows));
  }
  if (a.q !== undefined) predicates.push(await qPredicate(fields, a.qRaw, a.q, rows));
  let sort;
  try {
    sort = a.sortText ? parseSort('sort', a.sortText.replaceAll('"', ''), fields) : undefined;
  } catch (err) {
    throw err instanceof QueryError ? ckanValidation('sort', err.message) : err;
  }
  return runQuery(rows, fields, {
    predicate: predicates.length ? (r, i) => predicates.every((f) => f(r, i)) : undefined,
    sort,
    offset: a.offset,
    limit: a.limit,
    total: a.includeTotal,
  });
}

async function datastoreSearch(ctx: ApiContext, base: string, p: CkanParams<'datastore_search'>) {
  const id = p.resource_id;
  const found = await findResource(ctx, id);
  if (!found) throw notFound(`Not found: Resource "${id}" was not found.`);
  if (!found.dist.datastore) throw notFound(`Not found: Resource "${id}" has no DataStore table.`);
  const { rows, schema } = await ctx.reader.rows(found.view.meta.id, found.view.release.releaseId);
  const fields = queryFields(schema);
  const { limit, offset } = p;
  const includeTotal = p.include_total;
  const recordsFormat = p.records_format ?? 'objects';
  if (recordsFormat !== 'objects' && recordsFormat !== 'lists')
    throw ckanValidation('records_format', 'Must be "objects" or "lists"');
  let selected: string[];
  try {
    const f = p.fields;
    selected =
      f === undefined || f === ''
        ? fields.map((x) => x.name)
        : parseFieldList('fields', Array.isArray(f) ? f.map(asText).join(',') : asText(f), fields);
  } catch (err) {
    throw err instanceof QueryError ? ckanValidation('fields', err.message) : err;
  }
  const filters = p.filters;
  // `q` is plain text, or a JSON object {field: text} when it looks like one.
  const qRaw = p.q;
  const q =
    typeof qRaw === 'string' && !qRaw.trim().startsWith('{')
      ? qRaw === ''
        ? undefined
        : qRaw
      : parseJsonParam('q', qRaw);
  const sortText = p.sort;
  const args: CkanScanArgs = { filters, qRaw, q, sortText, offset, limit, includeTotal };
  // A filtered or sorted scan of a large release runs in the scan worker (low priority thread), so
  // this thread keeps answering cheap requests; small releases and plain pages run here.
  const heavy = rows.length >= OFFLOAD_ABOVE && (filters !== undefined || q !== undefined || !!sortText);
  const spec: RenderSpec = { kind: 'ckan-records', selected, lists: recordsFormat === 'lists' };
  const job = {
    kind: 'ckan' as const,
    datasetId: found.view.meta.id,
    releaseId: found.view.release.releaseId,
    args,
  };
  let records: unknown[] | RenderedRecords;
  let total: number | undefined;
  if (ctx.scans && limit > STREAM_ABOVE && rows.length >= OFFLOAD_ABOVE) {
    // A large page of a large release: scanned and rendered in the scan worker, streamed from here.
    const r = (await ctx.scans.render(job, spec)) as {
      total: number | undefined;
      chunks: AsyncIterable<string>;
    };
    total = r.total;
    records = new RenderedRecords(r.chunks);
  } else {
    const scan = heavy && ctx.scans ? await ctx.scans.run(job) : await ckanScan(rows, schema, args);
    total = scan.total;
    const record = (i: number) =>
      recordsFormat === 'lists'
        ? selected.map((n) => (n === '_id' ? i + 1 : rows[i]![n]))
        : project(rows[i]!, i, selected);
    // Large pages are streamed in chunks (records rendered as they are sent), small ones sent whole.
    records =
      scan.indexes.length > STREAM_ABOVE
        ? new RenderedRecords(render(rows, scan.indexes, spec))
        : scan.indexes.map(record);
  }
  const qs = (o: number) =>
    `/api/3/action/datastore_search?resource_id=${encodeURIComponent(id)}&offset=${o}${p.limit !== undefined ? `&limit=${limit}` : ''}`;
  return {
    include_total: includeTotal,
    resource_id: id,
    // The DataStore data dictionary: label and notes from the release's Table Schema.
    fields: selected.map((n) => {
      const f = schema.fields.find((x) => x.name === n);
      return {
        id: n,
        type: CKAN_TYPES[fields.find((x) => x.name === n)!.type],
        ...(f
          ? {
              info: {
                label: f.title ?? f.name,
                notes: [f.description, f.unit ? `Unit: ${f.unit}` : undefined].filter(Boolean).join(' '),
                type_override: '',
              },
            }
          : {}),
      };
    }),
    records_format: recordsFormat,
    records,
    ...(includeTotal ? { total, total_was_estimated: false } : {}),
    limit,
    offset,
    _links: { start: qs(0), next: qs(offset + limit) },
    ...(sortText ? { sort: sortText } : {}),
    ...(filters !== undefined ? { filters } : {}),
    ...(q !== undefined ? { q: p.q } : {}),
    base_url: base,
  };
}

function filterPredicate(
  fields: QueryField[],
  field: string,
  want: unknown,
  rows: Row[],
): (row: Row, i: number) => boolean {
  const f = fields.find((x) => x.name === field);
  if (!f) throw ckanValidation('filters', `field "${field.slice(0, 60)}" not in database`);
  const wanted = (Array.isArray(want) ? want : [want]).map((w) => {
    if (w === null || (typeof w === 'object' && w !== null))
      throw ckanValidation('filters', `invalid value for field "${field}"`);
    if (f.type === 'integer' || f.type === 'number') {
      const n = Number(w);
      if (!Number.isFinite(n)) throw ckanValidation('filters', `invalid number for field "${field}"`);
      return n;
    }
    if (f.type === 'boolean') return String(w).toLowerCase() === 'true';
    if (f.type === 'datetime') {
      const t = Date.parse(String(w));
      if (Number.isNaN(t)) throw ckanValidation('filters', `invalid timestamp for field "${field}"`);
      return t;
    }
    return String(w);
  });
  const set = new Set<unknown>(wanted);
  if (field === '_id') return (_r, i) => set.has(i + 1);
  if (f.type === 'datetime') {
    const instants = dateColumn(rows, field);
    return (_r, i) => set.has(instants[i]!);
  }
  return (r) => set.has(r[field]);
}

async function qPredicate(
  fields: QueryField[],
  raw: unknown,
  q: unknown,
  rows: Row[],
): Promise<(row: Row, i: number) => boolean> {
  // `q` is either plain text over all fields, or a JSON object {field: text}.
  if (typeof q === 'object' && q !== null && !Array.isArray(q)) {
    const json = JSON.stringify(q);
    if (json.length > MAX_Q_LENGTH) throw limitError('q', `longer than ${MAX_Q_LENGTH} characters`);
    const entries = Object.entries(q).map(([field, text]) => {
      if (!fields.some((f) => f.name === field))
        throw ckanValidation('q', `field "${field.slice(0, 60)}" not in database`);
      return [field, String(text).toLowerCase()] as const;
    });
    return (r) =>
      entries.every(([field, text]) =>
        String(r[field] ?? '')
          .toLowerCase()
          .includes(text),
      );
  }
  const textQ = String(typeof raw === 'string' ? raw : q);
  if (textQ.length > MAX_Q_LENGTH) throw limitError('q', `longer than ${MAX_Q_LENGTH} characters`);
  const terms = textQ.toLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length > MAX_Q_TERMS) throw limitError('q', `more than ${MAX_Q_TERMS} terms`);
  // Each term is searched once in each column's distinct texts (built once per release); a row
  // then matches a term when one of its cells' text ids is marked: array lookups, no string search.
  const dicts = fields.filter((f) => f.name !== '_id').map((f) => textDictionary(rows, f.name));
  // Marking is sliced too: a high-cardinality column has up to one text per row.
  const slicer = new Slicer();
  const marks: Uint8Array[][] = [];
  for (const t of terms) {
    const perColumn: Uint8Array[] = [];
    for (const d of dicts) {
      const m = new Uint8Array(d.values.length);
      for (let v = 0; v < d.values.length; v++) {
        if (d.values[v]!.includes(t)) m[v] = 1;
        if (slicer.due()) await slicer.yield();
      }
      perColumn.push(m);
    }
    marks.push(perColumn);
  }
  return (_r, i) => {
    for (const perColumn of marks) {
      let hit = false;
      for (let c = 0; c < dicts.length && !hit; c++) hit = perColumn[c]![dicts[c]!.ids[i]!] === 1;
      if (!hit) return false;
    }
    return true;
  };
}

/** Pages of more records than this are streamed. */
const STREAM_ABOVE = 1000;

/** The records of a large page as text chunks of their JSON array, rendered while they are sent. */
class RenderedRecords {
  constructor(readonly chunks: AsyncIterable<string>) {}
}

const PLACEHOLDER = '\u0000records\u0000';

/** A CKAN envelope whose result holds StreamedRecords, as a stream of JSON text. */
function streamEnvelope(envelope: { result: Record<string, unknown> } & Record<string, unknown>): Readable {
  const rendered = envelope.result.records as RenderedRecords;
  const text = JSON.stringify({ ...envelope, result: { ...envelope.result, records: PLACEHOLDER } });
  const [head, tail] = text.split(JSON.stringify(PLACEHOLDER)) as [string, string];
  return Readable.from(
    (async function* () {
      yield head;
      yield* rendered.chunks;
      yield tail;
    })(),
  );
}

type Actions = {
  [A in CkanAction]: (ctx: ApiContext, base: string, p: CkanParams<A>) => Promise<unknown>;
};

const ACTIONS: Actions = {
  async status_show(ctx, base) {
    return {
      site_title: ctx.config.SITE_TITLE,
      site_description: 'Données ouvertes anonymisées du pipeline de télémétrie OnDijon (lecture seule).',
      site_url: base,
      ckan_version: CKAN_VERSION,
      error_emails_to: null,
      locale_default: 'fr',
      extensions: ['datastore', 'dcat'],
    };
  },
  async package_list(ctx, _base, p) {
    const { limit, offset } = p;
    const { catalog } = await ctx.reader.catalog();
    return Object.keys(catalog.datasets)
      .sort()
      .slice(offset, offset + limit);
  },
  async package_show(ctx, base, p) {
    const { id } = p;
    const views = await allDatasetViews(ctx);
    const v = views.find((x) => x.meta.id === id || packageUuid(x.meta.id) === id);
    if (!v) throw notFound('Not found');
    return packageDict(base, v);
  },
  async package_search(ctx, base, p) {
    const { rows, start } = p;
    const q = p.q ?? '';
    if (q.length > MAX_FQ_LENGTH) throw limitError('q', `longer than ${MAX_FQ_LENGTH} characters`);
    const qTerms = q
      .toLowerCase()
      .split(/\s+/)
      .filter((t) => t && t !== '*:*');
    if (qTerms.length > MAX_FQ_TERMS) throw limitError('q', `more than ${MAX_FQ_TERMS} terms`);
    const fq = parseFq(p.fq ?? '');
    const views = (await allDatasetViews(ctx)).filter((v) => matchesQ(v, qTerms) && matchesFq(v, fq));
    const sort = p.sort ?? 'metadata_modified desc';
    sortPackages(views, sort);
    return {
      count: views.length,
      results: views.slice(start, start + rows).map((v) => packageDict(base, v)),
      sort,
      facets: {},
      search_facets: {},
    };
  },
  async organization_list(ctx, base, p) {
    const all = p.all_fields;
    if (!all) return [ORG_NAME];
    const { catalog } = await ctx.reader.catalog();
    return [organization(base, Object.keys(catalog.datasets).length)];
  },
  async organization_show(ctx, base, p) {
    const { id } = p;
    if (id !== ORG_NAME && id !== organization(base).id) throw notFound('Not found');
    const views = await allDatasetViews(ctx);
    const include = p.include_datasets;
    return {
      ...organization(base, views.length),
      ...(include ? { packages: views.map((v) => packageDict(base, v)) } : {}),
    };
  },
  async resource_show(ctx, base, p) {
    const { id } = p;
    const found = await findResource(ctx, id);
    if (!found || found.view.meta.id === id) throw notFound('Not found');
    const position = DISTRIBUTIONS.findIndex((d) => d.key === found.dist.key);
    return resource(base, found.view, found.dist, position);
  },
  datastore_search: datastoreSearch,
};

/** JSON given as text, or already a value (POST body). */
function parseJsonParam(name: string, raw: unknown): unknown {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw ckanValidation(name, 'Cannot parse JSON');
  }
}

/**
 * Registers the CKAN routes, one per action (GET with a query string, POST with a JSON body whose
 * members join the query's); mount with prefix `/api/3/action` (and `/api/action`, CKAN's alias).
 * Parameters are validated and parsed by each action's schema (contract.ts); errors and unknown
 * actions are answered by the one error handler (errors.ts).
 */
export async function ckanPlugin(
  app: FastifyInstance,
  opts: { ctx: ApiContext; /** CKAN's `/api/action` alias: served, not documented twice. */ alias?: boolean },
): Promise<void> {
  const { ctx } = opts;
  for (const action of Object.keys(CKAN_PARAMS) as CkanAction[]) {
    const run = ACTIONS[action] as (ctx: ApiContext, base: string, p: unknown) => Promise<unknown>;
    const schema = { ...ckanRouteSchema(action), ...(opts.alias ? { hide: true } : {}) };
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const base = baseUrl(ctx, req);
      const result = await run(ctx, base, req.query);
      const body = { help: ckanHelp(base, action), success: true, result };
      if (
        typeof result === 'object' &&
        result !== null &&
        (result as { records?: unknown }).records instanceof RenderedRecords
      )
        return reply
          .type('application/json; charset=utf-8')
          .send(streamEnvelope(body as { result: Record<string, unknown> } & Record<string, unknown>));
      return body;
    };
    app.get(`/${action}`, { schema }, handler);
    app.post(
      `/${action}`,
      {
        // The body's members join the query string's, then the same schema validates them all.
        schema: { ...schema, hide: true },
        preValidation: async (req) => {
          const body = req.body;
          if (body === undefined || body === null) return;
          if (typeof body !== 'object' || Array.isArray(body))
            throw new CkanError(
              400,
              'Bad Request',
              'Bad request - JSON Error: Request data JSON decoded to a non-object',
            );
          req.query = { ...(req.query as object), ...body };
        },
      },
      handler,
    );
  }
}
