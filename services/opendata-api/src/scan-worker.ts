import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openBackend, openStoreReader, type S3StoreOptions } from '@ondijon/opendata';
import { render, type RenderSpec } from './render';
import { runScanJob, toWire, type ScanJob } from './scan-pool';

const { rootDir, s3, revalidateMs, nice } = workerData as {
  rootDir: string;
  s3?: S3StoreOptions;
  revalidateMs: number;
  nice: number;
};

// The scan worker thread: answers scan jobs from its own reader over the same store. It lowers its
// own scheduling priority (Linux: a thread has its own id and nice value) so that the thread
// answering HTTP gets the CPU first.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0 && nice !== 0) setPriority(tid, nice);
} catch {
  // Not Linux, or not allowed: the worker still keeps scans off the HTTP thread.
}

const reader = openStoreReader(openBackend(rootDir, s3), { revalidateMs });

const streams = new Map<number, AsyncGenerator<string>>();
const post = (m: object, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

async function handle(m: { id: number; job?: ScanJob; spec?: RenderSpec; next?: boolean; cancel?: boolean }) {
  const { id } = m;
  if (m.cancel) {
    await streams.get(id)?.return(undefined);
    streams.delete(id);
    return;
  }
  if (m.next) {
    const gen = streams.get(id);
    if (!gen) return post({ id, end: true });
    const r = await gen.next();
    if (r.done) {
      streams.delete(id);
      return post({ id, end: true });
    }
    return post({ id, chunk: r.value });
  }
  const result = await runScanJob(reader, m.job!);
  if (m.spec && !('groups' in result)) {
    const { rows } = await reader.rows(m.job!.datasetId, m.job!.releaseId);
    streams.set(id, render(rows, result.indexes, m.spec));
    return post({ id, ok: true, meta: { total: result.total } });
  }
  if (m.spec) return post({ id, ok: true, result });
  const r = result as { indexes?: number[] } & Record<string, unknown>;
  if (!r.indexes) return post({ id, ok: true, result: r });
  const indexes = Uint32Array.from(r.indexes);
  post({ id, ok: true, result: { ...r, indexes } }, [indexes.buffer]);
}

parentPort!.on('message', (m: { id: number }) => {
  handle(m).catch((err: unknown) => post({ id: m.id, ok: false, error: toWire(err) }));
});
