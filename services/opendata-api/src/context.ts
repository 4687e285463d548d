import type { FastifyRequest } from 'fastify';
import { uuidFromName } from '@ondijon/contracts';
import type { CatalogRelease, DatasetMetadata, ReleaseNotes, StoreReader } from '@ondijon/opendata';
import type { Config } from './config';
import type { ScanPool } from './scan-pool';

/** What every API plugin receives: the store reader and the config. */
export interface ApiContext {
  reader: StoreReader;
  config: Readonly<Config>;
  /** The scan worker, when enabled (SCAN_WORKER): long scans of large releases run there. */
  scans?: ScanPool | undefined;
}

/** Base URL for links: PUBLIC_BASE_URL, or the scheme and Host of the request. */
export function baseUrl(ctx: ApiContext, req: FastifyRequest): string {
  if (ctx.config.PUBLIC_BASE_URL) return ctx.config.PUBLIC_BASE_URL.replace(/\/$/, '');
  return `${req.protocol}://${req.host}`;
}

/** The distributions the API offers for a dataset's latest release. */
export const DISTRIBUTIONS = [
  { key: 'csv', file: 'data.csv', format: 'CSV', mediaType: 'text/csv', euFormat: 'CSV', datastore: true },
  {
    key: 'geojson',
    file: 'data.geojson',
    format: 'GeoJSON',
    mediaType: 'application/geo+json',
    euFormat: 'GEOJSON',
    datastore: false,
  },
  {
    key: 'release-notes',
    file: 'release-notes.json',
    format: 'JSON',
    mediaType: 'application/json',
    euFormat: 'JSON',
    datastore: false,
  },
] as const;
/** A distribution kind. */
export type Distribution = (typeof DISTRIBUTIONS)[number];

/** Stable id of a distribution of a dataset: the CKAN resource id. It follows the latest release. */
export function resourceId(datasetId: string, key: string): string {
  return uuidFromName(`ondijon:opendata:resource:${datasetId}:${key}`);
}

/** Stable id of a dataset: the CKAN package id and the Explore dataset_uid. */
export function packageUuid(datasetId: string): string {
  return uuidFromName(`ondijon:opendata:dataset:${datasetId}`);
}

/** Everything known about one dataset, gathered once per request. */
export interface DatasetView {
  meta: DatasetMetadata;
  release: CatalogRelease;
  notes: ReleaseNotes;
  /** Size of the release notes file, which cannot list its own size. */
  notesBytes: number;
}

/** Gathers a dataset's metadata, latest release and its notes; undefined when unknown. */
export async function datasetView(ctx: ApiContext, id: string): Promise<DatasetView | undefined> {
  const meta = await ctx.reader.dataset(id);
  const release = await ctx.reader.latestRelease(id);
  if (!meta || !release) return undefined;
  const notes = await ctx.reader.releaseNotes(id, release.releaseId);
  const notesBytes = await ctx.reader.releaseNotesBytes(id, release.releaseId);
  return { meta, release, notes, notesBytes };
}

/** Every dataset view, in id order. */
export async function allDatasetViews(ctx: ApiContext): Promise<DatasetView[]> {
  const { catalog } = await ctx.reader.catalog();
  const out: DatasetView[] = [];
  for (const id of Object.keys(catalog.datasets).sort()) {
    const v = await datasetView(ctx, id);
    if (v) out.push(v);
  }
  return out;
}

/** Finds the dataset and distribution of a resource id (or `{datasetId}` alone for its CSV). */
export async function findResource(
  ctx: ApiContext,
  id: string,
): Promise<{ view: DatasetView; dist: Distribution } | undefined> {
  const { catalog } = await ctx.reader.catalog();
  for (const datasetId of Object.keys(catalog.datasets)) {
    for (const dist of DISTRIBUTIONS) {
      if (resourceId(datasetId, dist.key) === id || (dist.key === 'csv' && id === datasetId)) {
        const view = await datasetView(ctx, datasetId);
        return view ? { view, dist } : undefined;
      }
    }
  }
  return undefined;
}

/** Public URL of a release file. */
export function fileUrl(base: string, datasetId: string, releaseId: string, file: string): string {
  return `${base}/files/datasets/${datasetId}/releases/${releaseId}/${file}`;
}

/**
 * Bytes and checksum of a release file: from the release notes, or for the notes themselves from
 * the catalogue (checksum) and the file (size): a file cannot hold its own checksum.
 */
export function fileFacts(
  view: { notes: ReleaseNotes; release: CatalogRelease; notesBytes: number },
  file: string,
): { bytes: number; sha256: string } | undefined {
  if (file === 'release-notes.json') return { bytes: view.notesBytes, sha256: view.release.notesSha256 };
  return view.notes.files.find((f) => f.name === file);
}
