// Server side of the API benchmark, run as a child process so the load generator does not share
// its event loop: the API over the store, and a plain node:http static server for the same CSV.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { PerformanceObserver, monitorEventLoopDelay, type PerformanceEntry } from 'node:perf_hooks';
import { buildApp } from '../src/app';
import { loadApiConfig } from '../src/config';

const dir = process.env.OPENDATA_DIR!;
const csvPath = process.env.STATIC_CSV!;
const app = await buildApp(
  loadApiConfig({
    OPENDATA_DIR: dir,
    PORT: '0',
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'silent',
    // As in production: store files re-checked once a second, not on every request.
    STORE_REVALIDATE_MS: '1000',
    ...(process.env.SCAN_WORKER_NICE ? { SCAN_WORKER_NICE: process.env.SCAN_WORKER_NICE } : {}),
    ...(process.env.SCAN_WORKER ? { SCAN_WORKER: process.env.SCAN_WORKER } : {}),
  }),
);
const apiUrl = await app.start();
const size = statSync(csvPath).size;
const statics = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-length': size });
  createReadStream(csvPath).pipe(res);
});
await new Promise<void>((r) => statics.listen(0, '127.0.0.1', r));
const addr = statics.address();
const staticUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
process.stdout.write(`${JSON.stringify({ apiUrl, staticUrl })}\n`);
// Event-loop delay of the API process over the whole run, printed when the bench stops it.
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
// Garbage-collection pauses, by kind (minor = scavenge, major = mark-compact).
const gc = { count: 0, totalMs: 0, maxMs: 0, major: 0, majorMaxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === 2 || kind === 4) {
      gc.major++;
      gc.majorMaxMs = Math.max(gc.majorMaxMs, e.duration);
    }
  }
}).observe({ entryTypes: ['gc'] });
process.on('SIGTERM', () => {
  delay.disable();
  process.stderr.write(
    `api event-loop delay: p50 ${(delay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms; ` +
      `gc: ${gc.count} pauses, ${gc.totalMs.toFixed(0)} ms in all, max ${gc.maxMs.toFixed(1)} ms, ${gc.major} major (max ${gc.majorMaxMs.toFixed(1)} ms)\n`,
  );
  statics.close();
  void app.close().then(() => process.exit(0));
});
