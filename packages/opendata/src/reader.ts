import type { Readable } from 'node:stream';
import { OnDijonError } from '@ondijon/contracts';
import { toBackend, type StoreBackend } from './backend';
import { parseTypedCsv } from './csv';
import { sha256 } from './durable-fs';
import { layout, type ReleaseFileName } from './layout';
import {
  Catalog,
  DatasetMetadata,
  ReleaseNotes,
  TableSchema,
  type CatalogRelease,
  type Row,
} from './schemas';

/** Options of the store reader. */
export interface StoreReaderOptions {
  /** Parsed releases kept in memory (releases are immutable; each may be large). Default 4. */
  maxCachedReleases?: number;
  /**
   * How long a file checked unchanged is trusted without another stat, in ms. Default 0 (stat on
   * every call). A server sets it so a request costs no file-system round trip on the hot path:
   * a new release is then seen at most this long after it is written.
   */
  revalidateMs?: number;
}

/** Rows of a release with what describes them. */
export interface ReleaseRows {
  datasetId: string;
  release: CatalogRelease;
  schema: TableSchema;
  rows: Row[];
  /** Strong validator of the release's CSV (its SHA-256), for HTTP ETags. */
  etag: string;
}

/** The store's read side: what the API serves. Every method re-reads a file only when its mtime or size changed. */
export interface StoreReader {
  /** The store's directory, or its `s3://bucket/prefix`. */
  readonly rootDir: string;
  readonly backend: StoreBackend;
  /** The catalogue and a strong validator of its content. An empty store gives an empty catalogue. */
  catalog(): Promise<{ catalog: Catalog; etag: string }>;
  /** Metadata of one dataset, or undefined when it is not in the catalogue. */
  dataset(id: string): Promise<DatasetMetadata | undefined>;
  /** Metadata of every dataset in the catalogue, in id order. */
  datasets(): Promise<DatasetMetadata[]>;
  /** Releases of a dataset, oldest first (empty when unknown). */
  releases(id: string): Promise<CatalogRelease[]>;
  /** Latest release of a dataset. */
  latestRelease(id: string): Promise<CatalogRelease | undefined>;
  /** Release notes of a release. */
  releaseNotes(id: string, releaseId: string): Promise<ReleaseNotes>;
  /** Size in bytes of a release's notes file (which cannot state its own size). */
  releaseNotesBytes(id: string, releaseId: string): Promise<number>;
  /** Typed rows of a release (latest by default), parsed with its Table Schema. */
  rows(id: string, releaseId?: string): Promise<ReleaseRows>;
  /** Contents of a public register, or undefined when not written yet. */
  register(name: string): Promise<unknown>;
  /** Every register listed in the catalogue, in name order, with its file's size (for serving and DCAT). */
  registerFiles(): Promise<RegisterFile[]>;
  /** Absolute path of a release file (for static serving and exports). */
  releaseFilePath(id: string, releaseId: string, file: ReleaseFileName): string;
  /** A release file's bytes as a stream (any backend). */
  releaseFileStream(id: string, releaseId: string, file: ReleaseFileName): Promise<Readable>;
  /** A register's file as stored (undefined when absent). */
  registerBody(name: string): Promise<Buffer | undefined>;
}

/** A public register as listed in the catalogue, with its file. */
export interface RegisterFile {
  name: string;
  /** Absolute path of the JSON file (its store-relative path on S3). */
  path: string;
  updatedAt: string;
  /** SHA-256 of the file's bytes (strong validator). */
  sha256: string;
  bytes: number;
}

interface Cached<T> {
  /** When the file was last seen unchanged (performance.now()). */
  checkedAt: number;
  version: string;
  size: number;
  value: T;
  etag: string;
}

function notFound(message: string): OnDijonError {
  return new OnDijonError('ONDIJON_NOT_FOUND', message);
}

/** Opens a reader over a store directory or another backend (S3). Nothing is read until asked. */
export function openStoreReader(store: string | StoreBackend, options: StoreReaderOptions = {}): StoreReader {
  const backend = toBackend(store);
  const rootDir = backend.location;
  const jsonCache = new Map<string, Cached<unknown>>();
  const rowsCache = new Map<string, Cached<Row[]>>();
  const maxReleases = options.maxCachedReleases ?? 4;
  const revalidateMs = options.revalidateMs ?? 0;

  async function cached<T>(
    rel: string,
    cache: Map<string, Cached<unknown>>,
    parse: (text: string) => T,
  ): Promise<Cached<T> | undefined> {
    const fresh = cache.get(rel);
    if (fresh && revalidateMs > 0 && performance.now() - fresh.checkedAt < revalidateMs)
      return fresh as Cached<T>;
    const st = await backend.info(rel);
    if (!st) return undefined;
    const hit = cache.get(rel);
    // fs: atomic replaces give a new inode, part of the version with mtime and size; S3: the ETag.
    if (hit && hit.version === st.version && hit.size === st.size) {
      hit.checkedAt = performance.now();
      return hit as Cached<T>;
    }
    const data = await backend.read(rel);
    if (data === undefined) return undefined;
    const text = data.toString('utf8');
    const entry: Cached<T> = {
      checkedAt: performance.now(),
      version: st.version,
      size: data.length,
      value: parse(text),
      etag: sha256(text).slice(0, 32),
    };
    cache.set(rel, entry);
    return entry;
  }

  async function catalog() {
    const c = await cached(layout.catalog, jsonCache, (t) => Catalog.parse(JSON.parse(t)));
    if (!c)
      return {
        catalog: {
          format: 'ondijon-opendata-store/1' as const,
          updatedAt: new Date(0).toISOString(),
          generation: 0,
          datasets: {},
          registers: {},
        },
        etag: 'empty',
      };
    return { catalog: c.value, etag: c.etag };
  }

  async function dataset(id: string) {
    const { catalog: cat } = await catalog();
    const entry = Object.hasOwn(cat.datasets, id) ? cat.datasets[id] : undefined;
    if (!entry) return undefined;
    const c = await cached(entry.metadataPath, jsonCache, (t) => DatasetMetadata.parse(JSON.parse(t)));
    return c?.value;
  }

  async function releases(id: string) {
    const { catalog: cat } = await catalog();
    return Object.hasOwn(cat.datasets, id) ? (cat.datasets[id]?.releases ?? []) : [];
  }

  async function findRelease(id: string, releaseId?: string): Promise<CatalogRelease> {
    const { catalog: cat } = await catalog();
    const entry = Object.hasOwn(cat.datasets, id) ? cat.datasets[id] : undefined;
    if (!entry) throw notFound(`dataset ${id} not found`);
    const wanted = releaseId ?? entry.latestRelease;
    const rel = entry.releases.find((r) => r.releaseId === wanted);
    if (!rel) throw notFound(`release ${wanted} of dataset ${id} not found`);
    return rel;
  }

  async function releaseNotesEntry(id: string, releaseId: string) {
    const rel = await findRelease(id, releaseId);
    const c = await cached(`${rel.path}/release-notes.json`, jsonCache, (t) =>
      ReleaseNotes.parse(JSON.parse(t)),
    );
    if (!c) throw notFound(`release notes of ${id}/${releaseId} not found`);
    return c;
  }
  const releaseNotes = async (id: string, releaseId: string) =>
    (await releaseNotesEntry(id, releaseId)).value;

  async function rows(id: string, releaseId?: string): Promise<ReleaseRows> {
    const rel = await findRelease(id, releaseId);
    const schemaEntry = await cached(`${rel.path}/schema.json`, jsonCache, (t) =>
      TableSchema.parse(JSON.parse(t)),
    );
    if (!schemaEntry) throw notFound(`schema of ${id}/${rel.releaseId} not found`);
    const csvRel = `${rel.path}/data.csv`;
    const c = await cached(csvRel, rowsCache as Map<string, Cached<unknown>>, (t) =>
      parseTypedCsv(t, schemaEntry.value),
    );
    if (!c) throw notFound(`data of ${id}/${rel.releaseId} not found`);
    // Keep the most recently used releases only: a year of hourly rows is tens of MB in memory.
    rowsCache.delete(csvRel);
    rowsCache.set(csvRel, c);
    while (rowsCache.size > maxReleases) rowsCache.delete(rowsCache.keys().next().value!);
    return { datasetId: id, release: rel, schema: schemaEntry.value, rows: c.value, etag: c.etag };
  }

  return {
    rootDir,
    backend,
    catalog,
    dataset,
    async datasets() {
      const { catalog: cat } = await catalog();
      const out: DatasetMetadata[] = [];
      for (const id of Object.keys(cat.datasets).sort()) {
        const m = await dataset(id);
        if (m) out.push(m);
      }
      return out;
    },
    releases,
    async latestRelease(id) {
      const rs = await releases(id);
      return rs[rs.length - 1];
    },
    releaseNotes,
    async releaseNotesBytes(id, releaseId) {
      return (await releaseNotesEntry(id, releaseId)).size;
    },
    rows,
    async register(name) {
      const { catalog: cat } = await catalog();
      const entry = Object.hasOwn(cat.registers, name) ? cat.registers[name] : undefined;
      if (!entry) return undefined;
      return (await cached(entry.path, jsonCache, (t) => JSON.parse(t) as unknown))?.value;
    },
    async registerFiles() {
      const { catalog: cat } = await catalog();
      const out: RegisterFile[] = [];
      for (const name of Object.keys(cat.registers).sort()) {
        const entry = cat.registers[name]!;
        const st = await backend.info(entry.path);
        if (st)
          out.push({
            name,
            path: backend.localPath(entry.path) ?? entry.path,
            updatedAt: entry.updatedAt,
            sha256: entry.sha256,
            bytes: st.size,
          });
      }
      return out;
    },
    releaseFilePath(id, releaseId, file) {
      return (
        backend.localPath(layout.releaseFile(id, releaseId, file)) ?? layout.releaseFile(id, releaseId, file)
      );
    },
    releaseFileStream: (id, releaseId, file) => backend.stream(layout.releaseFile(id, releaseId, file)),
    async registerBody(name) {
      const { catalog: cat } = await catalog();
      const entry = Object.hasOwn(cat.registers, name) ? cat.registers[name] : undefined;
      return entry ? backend.read(entry.path) : undefined;
    },
  };
}
