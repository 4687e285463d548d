/**
 * Reading released open data back and checking it against the reference: through the open-data API
 * (CKAN `datastore_search` for the current release, `/files/…/data.csv` for every release of a period).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { cellKey, type RefCell, sameValue } from '../reference/reference';

/** A released row, values as numbers (or null). */
export type Row = Record<string, string | number | boolean | null>;

/** One release named by the store's catalogue. */
export interface CatalogRelease {
  releaseId: string;
  sequence: number;
  period: { start: string; end: string };
}

/** Releases of a dataset from the store's catalogue, latest sequence last. */
export async function catalogReleases(opendataDir: string, datasetId: string): Promise<CatalogRelease[]> {
  const catalog = JSON.parse(await readFile(path.join(opendataDir, 'catalog.json'), 'utf8')) as {
    datasets: Record<string, { releases: CatalogRelease[] }>;
  };
  return [...(catalog.datasets[datasetId]?.releases ?? [])].sort((a, b) => a.sequence - b.sequence);
}

/** The latest release of each period. */
export function latestPerPeriod(releases: CatalogRelease[]): CatalogRelease[] {
  const byPeriod = new Map<string, CatalogRelease>();
  for (const r of releases) byPeriod.set(r.period.start, r);
  return [...byPeriod.values()];
}

/** Parses RFC 4180 CSV (quotes, doubled quotes, CRLF or LF) into objects keyed by the header. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...body] = rows;
  if (!header) return [];
  return body
    .filter((r) => r.length > 1)
    .map((r) => Object.fromEntries(header.map((h, i) => [h.replace(/^\uFEFF/, ''), r[i] ?? ''])));
}

/** Fetches a release's CSV through the API's file route and types its cells (numbers, booleans, null). */
export async function fetchReleaseRows(
  apiBase: string,
  datasetId: string,
  releaseId: string,
): Promise<Row[]> {
  const res = await fetch(`${apiBase}/files/datasets/${datasetId}/releases/${releaseId}/data.csv`);
  if (!res.ok) throw new Error(`GET data.csv of ${datasetId}/${releaseId}: ${res.status}`);
  return parseCsv(await res.text()).map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        v === ''
          ? null
          : v === 'true'
            ? true
            : v === 'false'
              ? false
              : /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(v) && !['area_id', 'commune'].includes(k)
                ? Number(v)
                : v,
      ]),
    ),
  );
}

/** Rows of the current release of a dataset through CKAN `datastore_search` (every page). */
export async function datastoreRows(apiBase: string, datasetId: string): Promise<Row[]> {
  const pkg = (await (await fetch(`${apiBase}/api/3/action/package_show?id=${datasetId}`)).json()) as {
    result: { resources: { id: string; datastore_active: boolean }[] };
  };
  const resource = pkg.result.resources.find((r) => r.datastore_active);
  if (!resource) throw new Error(`${datasetId} has no datastore resource`);
  const rows: Row[] = [];
  for (let offset = 0; ; offset += 32_000) {
    const page = (await (
      await fetch(
        `${apiBase}/api/3/action/datastore_search?resource_id=${resource.id}&limit=32000&offset=${offset}`,
      )
    ).json()) as {
      success: boolean;
      result: { records: Row[]; total: number };
    };
    if (!page.success) throw new Error(`datastore_search of ${datasetId} failed`);
    rows.push(...page.result.records.map(({ _id, ...r }) => r));
    if (rows.length >= page.result.total || page.result.records.length === 0) return rows;
  }
}

/** Value columns of each dataset: CSV column → aggregate value field. */
export const COLUMNS: Record<string, Record<string, string>> = {
  'lighting-commune-hour': {
    energy_kwh: 'energyKwh',
    burning_hours: 'burningHours',
    luminaires_reporting: 'luminairesReporting',
    cabinets_reporting: 'cabinetsReporting',
    faults_lamp: 'faultsLamp',
    faults_driver: 'faultsDriver',
    faults_communication: 'faultsCommunication',
    dimmed_share: 'dimmedShare',
  },
  'traffic-flow': {
    intensity: 'intensity',
    detectors_reporting: 'detectorsReporting',
    occupancy_pct: 'occupancyPct',
    average_speed_kmh: 'averageVehicleSpeedKmh',
  },
  'signal-status': {
    controllers_reporting: 'controllersReporting',
    fault_reports: 'faultReports',
    lamp_failure_reports: 'lampFailureReports',
    degraded_seconds: 'degradedSeconds',
  },
  'winter-commune-day': {
    salt_kg: 'saltKg',
    km_salting: 'kmSalting',
    km_ploughing: 'kmPloughing',
    km_sweeping: 'kmSweeping',
    km_patrol: 'kmPatrol',
    vehicles_active: 'vehiclesActive',
    surface_temp_min_c: 'surfaceTempMinC',
    surface_temp_mean_c: 'surfaceTempMeanC',
    stations_reporting: 'stationsReporting',
  },
};

/** The reference key of a released (non-total) row. */
export function rowKey(datasetId: string, row: Row): string {
  const start = String(row.period_start);
  const commune = String(row.commune);
  switch (datasetId) {
    case 'traffic-flow':
      return cellKey(
        datasetId,
        { scope: String(row.level), id: String(row.area_id), commune, resolution: String(row.resolution) },
        start,
      );
    case 'signal-status':
      return cellKey(datasetId, { scope: String(row.level), id: String(row.area_id), commune }, start);
    default:
      return cellKey(datasetId, { commune }, start);
  }
}

/** Differences between a released value row and its reference cell (fields in `skip` are not compared). */
export function rowDiffs(
  datasetId: string,
  row: Row,
  cell: RefCell,
  skip: ReadonlySet<string> = new Set(),
): string[] {
  const diffs: string[] = [];
  for (const [column, field] of Object.entries(COLUMNS[datasetId]!)) {
    if (skip.has(field)) continue;
    if (!sameValue(cell.values[field], row[column]))
      diffs.push(`${column}: released ${String(row[column])}, reference ${String(cell.values[field])}`);
  }
  return diffs;
}
