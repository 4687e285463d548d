import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openStoreReader } from '@ondijon/opendata';
import { runScanJob, toWire, type ScanJob } from './scan-pool';

// The scan worker thread: answers scan jobs from its own reader over the same store. It lowers its
// own scheduling priority (Linux: a thread has its own id and nice value) so that the thread
// answering HTTP always gets the CPU first.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
} catch {
  // Not Linux, or not allowed: the worker still keeps scans off the HTTP thread.
}

const { rootDir, revalidateMs } = workerData as { rootDir: string; revalidateMs: number };
const reader = openStoreReader(rootDir, { revalidateMs });

parentPort!.on('message', (m: { id: number; job: ScanJob }) => {
  runScanJob(reader, m.job).then(
    (result) => {
      const r = result as { indexes?: number[] } & Record<string, unknown>;
      if (r.indexes) {
        const indexes = Uint32Array.from(r.indexes);
        parentPort!.postMessage({ id: m.id, ok: true, result: { ...r, indexes } }, [indexes.buffer]);
      } else parentPort!.postMessage({ id: m.id, ok: true, result: r });
    },
    (err: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: toWire(err) }),
  );
});
