import { Worker } from 'node:worker_threads';
import type { Row, S3StoreOptions, StoreReader } from '@ondijon/opendata';
import type { Logger } from '@ondijon/service-kit';
import { CkanError, ExploreError } from './errors';
import { ckanScan, type CkanScanArgs } from './plugins/ckan';
import { exploreScan, type ExploreScanArgs, type ExploreScanResult } from './plugins/explore';
import { QueryError, queryFields } from './query';
import { render, type RenderSpec } from './render';

/**
 * The scan worker: long scans (filtered, sorted or grouped queries over a large release) run in
 * one worker thread with its own store reader, at a lower OS priority than the thread that answers
 * HTTP, so a cheap request is never queued behind them (issue 13, item 8). The worker parses the
 * same immutable release files, so the row indexes it returns are this thread's indexes too.
 * When no worker can be started, scans run in this thread (time-sliced, one at a time).
 */

/** A scan job. */
export type ScanJob =
  | { kind: 'ckan'; datasetId: string; releaseId: string; args: CkanScanArgs }
  | { kind: 'explore'; datasetId: string; releaseId: string; args: ExploreScanArgs };

type ScanResultOf<J extends ScanJob> = J extends { kind: 'ckan' }
  ? { indexes: number[]; total: number | undefined }
  : ExploreScanResult;

/** An error as it crosses the thread boundary. */
export type WireError =
  | {
      kind: 'ckan';
      status: 400 | 404 | 409 | 413;
      type: string;
      message: string;
      fields: Record<string, string[]>;
    }
  | { kind: 'explore'; status: 400 | 404; code: string; message: string }
  | { kind: 'query'; param: string; message: string }
  | { kind: 'other'; message: string };

/** Turns an error into its wire form (in the worker). */
export function toWire(err: unknown): WireError {
  if (err instanceof CkanError)
    return { kind: 'ckan', status: err.status, type: err.type, message: err.message, fields: err.fields };
  if (err instanceof ExploreError)
    return { kind: 'explore', status: err.status, code: err.code, message: err.message };
  if (err instanceof QueryError) return { kind: 'query', param: err.param, message: err.message };
  return { kind: 'other', message: err instanceof Error ? err.message : String(err) };
}

function fromWire(e: WireError): Error {
  switch (e.kind) {
    case 'ckan':
      return new CkanError(e.status, e.type, e.message, e.fields);
    case 'explore':
      return new ExploreError(e.status, e.code, e.message);
    case 'query':
      return new QueryError(e.param, e.message);
    default:
      return new Error(`scan worker: ${e.message}`);
  }
}

/** Runs a scan job over rows in this thread (also what the worker runs). */
export async function runScanJob(reader: StoreReader, job: ScanJob): Promise<ScanResultOf<ScanJob>> {
  const { rows, schema } = await reader.rows(job.datasetId, job.releaseId);
  if (job.kind === 'ckan') return ckanScan(rows, schema, job.args);
  const fields = queryFields(schema).filter((f) => f.name !== '_id');
  return exploreScan(rows, fields, job.args);
}

/** A scan whose matches are rendered as text chunks where it ran (or its groups, when aggregated). */
export type Rendered =
  | { total: number | undefined; chunks: AsyncIterable<string> }
  | { total: number; groups: Row[]; keys: string[] };

type Message = {
  id: number;
  ok?: boolean;
  result?: unknown;
  meta?: { total: number | undefined };
  chunk?: string;
  end?: boolean;
  error?: WireError;
};

/** One scan worker, started on first use. */
export class ScanPool {
  private worker: Worker | undefined;
  private failed = false;
  private seq = 0;
  private readonly handlers = new Map<number, (m: Message | WorkerGone) => void>();

  constructor(
    private readonly reader: StoreReader,
    private readonly options: {
      rootDir: string;
      /** Connection of an S3 store (`rootDir` = `s3://bucket/prefix`). */
      s3?: S3StoreOptions | undefined;
      revalidateMs: number;
      /** Nice value of the worker thread (0..19). */
      nice: number;
      logger?: Logger | undefined;
    },
  ) {}

  /** True once a worker thread is running. */
  get started(): boolean {
    return this.worker !== undefined && !this.failed;
  }

  private start(): Worker | undefined {
    if (this.failed) return undefined;
    if (this.worker) return this.worker;
    try {
      // The worker registers tsx's TypeScript loader in its own thread (under Node 20 a worker does
      // not inherit it), then loads scan-worker.ts.
      const tsx = import.meta.resolve('tsx/esm/api');
      const entry = new URL('./scan-worker.ts', import.meta.url).href;
      const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
      const w = new Worker(boot, {
        eval: true,
        workerData: {
          rootDir: this.options.rootDir,
          s3: this.options.s3,
          revalidateMs: this.options.revalidateMs,
          nice: this.options.nice,
        },
      });
      w.unref();
      w.on('message', (m: Message) => this.handlers.get(m.id)?.(m));
      const fail = (err: unknown) => {
        if (this.failed) return;
        this.failed = true;
        this.worker = undefined;
        this.options.logger?.warn({ err }, 'scan worker unavailable: scans run in the main thread');
        for (const h of this.handlers.values()) h(new WorkerGone());
        this.handlers.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => {
        if (this.worker === w) fail(new Error(`scan worker exited with ${code}`));
      });
      this.worker = w;
      return w;
    } catch (err) {
      this.failed = true;
      this.options.logger?.warn({ err }, 'scan worker unavailable: scans run in the main thread');
      return undefined;
    }
  }

  /** Sends a message and resolves with the next answer to it. */
  private ask(w: Worker, id: number, msg: object): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.handlers.set(id, (m) => {
        if (m instanceof WorkerGone) reject(m);
        else if (m.ok === false) {
          this.handlers.delete(id);
          reject(fromWire(m.error!));
        } else resolve(m);
      });
      w.postMessage({ id, ...msg });
    });
  }

  /** Runs a job in the worker (or here when there is none). Errors come back as the API's errors. */
  async run<J extends ScanJob>(job: J): Promise<ScanResultOf<J>> {
    const w = this.start();
    if (!w) return (await runScanJob(this.reader, job)) as ScanResultOf<J>;
    const id = ++this.seq;
    try {
      const m = await this.ask(w, id, { job });
      this.handlers.delete(id);
      const r = m.result as { indexes?: Uint32Array } & Record<string, unknown>;
      return (r.indexes ? { ...r, indexes: Array.from(r.indexes) } : r) as ScanResultOf<J>;
    } catch (err) {
      if (err instanceof WorkerGone) return (await runScanJob(this.reader, job)) as ScanResultOf<J>;
      throw err;
    }
  }

  /**
   * Runs a job and renders its matches as text chunks in the worker; the chunks are pulled one at
   * a time (backpressure: the worker renders the next when this thread asks for it).
   */
  async render(job: ScanJob, spec: RenderSpec): Promise<Rendered> {
    const w = this.start();
    if (!w) return renderHere(this.reader, job, spec);
    const id = ++this.seq;
    let first: Message;
    try {
      first = await this.ask(w, id, { job, spec });
    } catch (err) {
      if (err instanceof WorkerGone) return renderHere(this.reader, job, spec);
      throw err;
    }
    if (first.result) {
      this.handlers.delete(id);
      return first.result as Rendered;
    }
    const ask = this.ask.bind(this);
    const handlers = this.handlers;
    async function* chunks(): AsyncGenerator<string> {
      let done = false;
      try {
        for (;;) {
          const m = await ask(w!, id, { next: true });
          if (m.end) {
            done = true;
            return;
          }
          yield m.chunk!;
        }
      } finally {
        handlers.delete(id);
        if (!done) w!.postMessage({ id, cancel: true });
      }
    }
    return { total: first.meta!.total, chunks: chunks() };
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed = true;
    if (w) await w.terminate();
  }
}

/** Scan and render in this thread (no worker). */
export async function renderHere(reader: StoreReader, job: ScanJob, spec: RenderSpec): Promise<Rendered> {
  const result = await runScanJob(reader, job);
  if ('groups' in result) return result;
  const { rows } = await reader.rows(job.datasetId, job.releaseId);
  return { total: result.total, chunks: render(rows, result.indexes, spec) };
}

class WorkerGone extends Error {}
