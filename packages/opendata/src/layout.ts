import { join } from 'node:path';

/**
 * Store-relative paths (POSIX separators, usable as object-storage keys). See ../README.md.
 * Everything under `datasets/{id}/releases/` is immutable; `catalog.json` is the mutable pointer.
 */
export const layout = {
  catalog: 'catalog.json',
  /** Temp area for in-progress writes; never read, removed by recoverStore. */
  tmp: '.tmp',
  dataset: (id: string) => `datasets/${id}/dataset.json`,
  schema: (id: string) => `datasets/${id}/schema.json`,
  datapackage: (id: string) => `datasets/${id}/datapackage.json`,
  releases: (id: string) => `datasets/${id}/releases`,
  release: (id: string, releaseId: string) => `datasets/${id}/releases/${releaseId}`,
  releaseFile: (id: string, releaseId: string, file: ReleaseFileName) =>
    `datasets/${id}/releases/${releaseId}/${file}`,
  register: (name: string) => `registers/${name}.json`,
} as const;

/** Files of a release folder. */
export const RELEASE_FILES = [
  'data.csv',
  'data.geojson',
  'schema.json',
  'datapackage.json',
  'release-notes.json',
  'release-notes.md',
  'dataset.json',
] as const;
/** A file of a release folder. */
export type ReleaseFileName = (typeof RELEASE_FILES)[number];

/** Media types of release files. */
export const MEDIA_TYPES: Record<ReleaseFileName, string> = {
  'data.csv': 'text/csv',
  'data.geojson': 'application/geo+json',
  'schema.json': 'application/json',
  'datapackage.json': 'application/json',
  'release-notes.json': 'application/json',
  'release-notes.md': 'text/markdown',
  'dataset.json': 'application/json',
};

/** Absolute path of a store-relative path. */
export function abs(root: string, rel: string): string {
  return join(root, ...rel.split('/'));
}

/** Formats a release id from a publication time and sequence: `2026-11-28T10-00-00Z-r1`. */
export function formatReleaseId(publishedAt: Date, sequence: number): string {
  const iso = publishedAt.toISOString().slice(0, 19).replaceAll(':', '-');
  return `${iso}Z-r${sequence}`;
}
