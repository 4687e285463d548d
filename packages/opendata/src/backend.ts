// Where the store's objects live (issue 17, item 2): a directory (the layout of ../README.md, temp folder
// + rename, fsync) or an S3-compatible bucket (one object per file; a release is invisible until the
// catalogue names it, and the catalogue is one PUT, written last). The writer, reader and recovery go
// through this interface only.
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { fsyncDir, replaceFileAtomic, tempName, writeFileSynced } from './durable-fs';
import { abs, layout } from './layout';

/** What identifies one version of an object: a reader re-reads it only when this changes. */
export interface ObjectInfo {
  /** fs: inode, mtime and size; S3: the ETag. */
  version: string;
  size: number;
}

/** A release being written: its files, then one commit that makes them whole in place. */
export interface ReleaseUpload {
  put(name: string, data: string): Promise<void>;
  /** fs: rename of the temp folder into place; S3: the notes object, last (the catalogue publishes). */
  commit(): Promise<void>;
}

/** The store's storage. Paths are store-relative with `/` (see `layout`). */
export interface StoreBackend {
  /** A directory path or `s3://bucket/prefix`. */
  readonly location: string;
  readonly kind: 'fs' | 's3';
  info(rel: string): Promise<ObjectInfo | undefined>;
  read(rel: string): Promise<Buffer | undefined>;
  /** A stream of an object (throws ONDIJON-free ENOENT-like errors when absent). */
  stream(rel: string): Promise<Readable>;
  /** Replaces an object atomically (readers see the old or the new content). */
  replace(rel: string, data: string): Promise<void>;
  exists(rel: string): Promise<boolean>;
  beginRelease(datasetId: string, releaseId: string): Promise<ReleaseUpload>;
  /** Names of the entries right under a folder (empty when none). */
  list(relDir: string): Promise<string[]>;
  /** Removes what unfinished writes left (fs: `.tmp/`); returns the names removed. */
  removeTemp(): Promise<string[]>;
  /** Absolute path of a file (fs only; undefined for S3). */
  localPath(rel: string): string | undefined;
}

/** The directory backend: the layout and write protocol of ../README.md. */
export function fsBackend(rootDir: string): StoreBackend {
  const tmp = abs(rootDir, layout.tmp);
  return {
    location: rootDir,
    kind: 'fs',
    async info(rel) {
      try {
        const st = await stat(abs(rootDir, rel));
        return { version: `${st.ino}:${st.mtimeMs}:${st.size}`, size: st.size };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async read(rel) {
      try {
        return await readFile(abs(rootDir, rel));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async stream(rel) {
      return createReadStream(abs(rootDir, rel));
    },
    replace: (rel, data) => replaceFileAtomic(abs(rootDir, rel), data, tmp),
    async exists(rel) {
      try {
        await stat(abs(rootDir, rel));
        return true;
      } catch {
        return false;
      }
    },
    async beginRelease(datasetId, releaseId) {
      await mkdir(tmp, { recursive: true });
      const tmpDir = join(tmp, tempName(`release-${datasetId}-${releaseId}`));
      await mkdir(tmpDir);
      return {
        put: (name, data) => writeFileSynced(join(tmpDir, name), data),
        async commit() {
          await fsyncDir(tmpDir);
          // The one atomic step: a whole folder appears under releases/ or nothing does.
          const releasesDir = abs(rootDir, layout.releases(datasetId));
          await mkdir(releasesDir, { recursive: true });
          await rename(tmpDir, abs(rootDir, layout.release(datasetId, releaseId)));
          await fsyncDir(releasesDir);
        },
      };
    },
    async list(relDir) {
      try {
        return await readdir(abs(rootDir, relDir));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
    async removeTemp() {
      const names: string[] = [];
      for (const name of await this.list(layout.tmp)) {
        await rm(join(tmp, name), { recursive: true, force: true });
        names.push(name);
      }
      return names;
    },
    localPath: (rel) => abs(rootDir, rel),
  };
}

/** Connection of the S3 backend (any S3-compatible server). */
export interface S3StoreOptions {
  /** e.g. `http://127.0.0.1:24333`; unset: the SDK's default endpoint for the region. */
  endpoint?: string | undefined;
  region?: string | undefined;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** Path-style URLs (`endpoint/bucket/key`), what most self-hosted servers need. Default true. */
  forcePathStyle?: boolean | undefined;
}

const isMissing = (err: unknown) =>
  err instanceof NoSuchKey ||
  err instanceof NotFound ||
  (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

/** The S3 backend over `s3://bucket/prefix`. */
export function s3Backend(location: string, options: S3StoreOptions = {}): StoreBackend {
  const url = new URL(location);
  if (url.protocol !== 's3:' || !url.hostname)
    throw new Error(`not an s3://bucket/prefix location: ${location}`);
  const bucket = url.hostname;
  const prefix = url.pathname.replace(/^\/+|\/+$/g, '');
  const key = (rel: string) => (prefix ? `${prefix}/${rel}` : rel);
  const client = new S3Client({
    region: options.region ?? 'us-east-1',
    forcePathStyle: options.forcePathStyle ?? true,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
  });
  const contentType = (rel: string) =>
    rel.endsWith('.csv')
      ? 'text/csv; charset=utf-8'
      : rel.endsWith('.geojson')
        ? 'application/geo+json'
        : rel.endsWith('.md')
          ? 'text/markdown; charset=utf-8'
          : 'application/json';
  const put = async (rel: string, data: string) => {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key(rel), Body: data, ContentType: contentType(rel) }),
    );
  };
  async function listAll(relDir: string, delimiter: boolean): Promise<string[]> {
    const p = key(relDir.endsWith('/') || relDir === '' ? relDir : `${relDir}/`);
    const out: string[] = [];
    let token: string | undefined;
    do {
      const res = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: p,
          ...(delimiter ? { Delimiter: '/' } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const c of res.CommonPrefixes ?? []) out.push(c.Prefix!.slice(p.length).replace(/\/$/, ''));
      for (const o of res.Contents ?? []) out.push(o.Key!.slice(p.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
  return {
    location,
    kind: 's3',
    async info(rel) {
      try {
        const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(rel) }));
        return { version: h.ETag ?? String(h.LastModified?.getTime()), size: h.ContentLength ?? 0 };
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async read(rel) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(rel) }));
        return Buffer.from(await r.Body!.transformToByteArray());
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async stream(rel) {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(rel) }));
      return r.Body as Readable;
    },
    // One PUT is atomic on S3: readers get the old or the new object.
    replace: put,
    async exists(rel) {
      return (await this.info(rel)) !== undefined;
    },
    async beginRelease(datasetId, releaseId) {
      // Objects under the release prefix are invisible to readers until the catalogue names them. The
      // notes (which list every other file with its checksum) go last: a prefix without notes is debris
      // of an unfinished write, one with notes is whole (what recovery checks before adopting it).
      const base = layout.release(datasetId, releaseId);
      let notes: string | undefined;
      return {
        put: async (name, data) => {
          if (name === 'release-notes.json') notes = data;
          else await put(`${base}/${name}`, data);
        },
        commit: async () => {
          if (notes !== undefined) await put(`${base}/release-notes.json`, notes);
        },
      };
    },
    list: (relDir) => listAll(relDir, true),
    async removeTemp() {
      // Nothing is written to a temp area on S3; a leftover `.tmp/` prefix (none expected) is cleared.
      const names = await listAll(layout.tmp, false);
      for (const n of names)
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(`${layout.tmp}/${n}`) }));
      return names;
    },
    localPath: () => undefined,
  };
}

/** The backend of a store location: `s3://bucket/prefix` or a directory. */
export function openBackend(location: string, s3?: S3StoreOptions): StoreBackend {
  return location.startsWith('s3://') ? s3Backend(location, s3) : fsBackend(location);
}

/** A backend as given, or the one of a location. */
export function toBackend(store: string | StoreBackend): StoreBackend {
  return typeof store === 'string' ? openBackend(store) : store;
}
