import { readFile, stat } from 'node:fs/promises';
import { OnDijonError } from '@ondijon/contracts';
import { parseTypedCsv } from './csv';
import { sha256 } from './durable-fs';
import { abs, layout, type ReleaseFileName } from './layout';
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
  readonly rootDir: string;
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
}

/** A public register as listed in the catalogue, with its file. */
export interface RegisterFile {
  name: string;
  /** Absolute path of the JSON file. */
  path: string;
  updatedAt: string;
  /** SHA-256 of the file's bytes (strong validator). */
  sha256: string;
  bytes: number;
}

interface Cached<T> {
  /** When the file was last seen unchanged (performance.now()). */
  checkedAt: number;
  ino: number;
  mtimeMs: number;
  size: number;
  value: T;
  etag: string;
}

function notFound(message: string): OnDijonError {
  return new OnDijonError('ONDIJON_NOT_FOUND', message);
}

/** Opens a reader over a store directory. Nothing is read until asked. */
export function openStoreReader(rootDir: string, options: StoreReaderOptions = {}): StoreReader {
  const jsonCache = new Map<string, Cached<unknown>>();
  const rowsCache = new Map<string, Cached<Row[]>>();
  const maxReleases = options.maxCachedReleases ?? 4;
  const revalidateMs = options.revalidateMs ?? 0;

  async function cached<T>(
    rel: string,
    cache: Map<string, Cached<unknown>>,
    parse: (text: string) => T,
  ): Promise<Cached<T> | undefined> {
    const path = abs(rootDir, rel);
    const fresh = cache.get(rel);
    if (fresh && revalidateMs > 0 && performance.now() - fresh.checkedAt < revalidateMs)
      return fresh as Cached<T>;
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const hit = cache.get(rel);
    // Atomic replaces give a new inode: compare it too, in case mtime and size happen to match.
    if (hit && hit.ino === st.ino && hit.mtimeMs === st.mtimeMs && hit.size === st.size) {
      hit.checkedAt = performance.now();
      return hit as Cached<T>;
    }
    const text = await readFile(path, 'utf8');
    const entry: Cached<T> = {
      checkedAt: performance.now(),
      ino: st.ino,
      mtimeMs: st.mtimeMs,
      size: st.size,
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
        const path = abs(rootDir, entry.path);
        try {
          const st = await stat(path);
          out.push({ name, path, updatedAt: entry.updatedAt, sha256: entry.sha256, bytes: st.size });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      return out;
    },
    releaseFilePath(id, releaseId, file) {
      return abs(rootDir, layout.releaseFile(id, releaseId, file));
    },
  };
}
