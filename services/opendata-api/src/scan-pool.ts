import { Worker } from 'node:worker_threads';
import type { StoreReader } from '@ondijon/opendata';
import type { Logger } from '@ondijon/service-kit';
import { CkanError, ckanScan, type CkanScanArgs } from './plugins/ckan';
import { ExploreError, exploreScan, type ExploreScanArgs, type ExploreScanResult } from './plugins/explore';
import { QueryError, queryFields } from './query';

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

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** One scan worker, started on first use. */
export class ScanPool {
  private worker: Worker | undefined;
  private failed = false;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly reader: StoreReader,
    private readonly options: { rootDir: string; revalidateMs: number; logger?: Logger | undefined },
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
        workerData: { rootDir: this.options.rootDir, revalidateMs: this.options.revalidateMs },
      });
      w.unref();
      w.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: WireError }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(fromWire(m.error!));
      });
      const fail = (err: unknown) => {
        this.failed = true;
        this.worker = undefined;
        this.options.logger?.warn({ err }, 'scan worker unavailable: scans run in the main thread');
        for (const p of this.pending.values()) p.reject(new WorkerGone());
        this.pending.clear();
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

  /** Runs a job in the worker (or here when there is none). Errors come back as the API's errors. */
  async run<J extends ScanJob>(job: J): Promise<ScanResultOf<J>> {
    const w = this.start();
    if (!w) return (await runScanJob(this.reader, job)) as ScanResultOf<J>;
    const id = ++this.seq;
    try {
      const result = await new Promise<unknown>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        w.postMessage({ id, job });
      });
      const r = result as { indexes?: Uint32Array } & Record<string, unknown>;
      return (r.indexes ? { ...r, indexes: Array.from(r.indexes) } : r) as ScanResultOf<J>;
    } catch (err) {
      if (err instanceof WorkerGone) return (await runScanJob(this.reader, job)) as ScanResultOf<J>;
      throw err;
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed = true;
    if (w) await w.terminate();
  }
}

class WorkerGone extends Error {}
