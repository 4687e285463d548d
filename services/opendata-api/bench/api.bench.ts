// pnpm bench:api — requests/s and latency percentiles of datastore_search and Explore records over one
// year of hourly rows for the 23 communes (201 480 rows), against serving the same CSV as a static
// file (plain node:http) in the same run. Prints a table and writes reports/bench-api.json.
// The load generator is a small keep-alive loop of our own (no extra dependency); the servers run in
// a child process so they do not share the generator's event loop. On 2 shared cores, both compete.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createStoreWriter, exampleRelease } from '@ondijon/opendata';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const REPO = resolve(import.meta.dirname, '../../..');
const DATASET = 'eclairage-energie-commune-heure';

interface Result {
  name: string;
  url: string;
  requests: number;
  errors: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  bytesPerResponse: number;
  mbPerSec: number;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function load(name: string, url: string): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const lat: number[] = [];
  let errors = 0;
  let bytes = 0;
  const one = () =>
    new Promise<void>((res) => {
      const t0 = process.hrtime.bigint();
      const req = request(url, { agent }, (r) => {
        r.on('data', (c: Buffer) => (bytes += c.length));
        r.on('end', () => {
          if (r.statusCode !== 200) errors++;
          lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
          res();
        });
      });
      req.on('error', () => {
        errors++;
        res();
      });
      req.end();
    });
  await one(); // warm-up: the first query parses the release into memory
  lat.length = 0;
  bytes = 0;
  errors = 0;
  const end = Date.now() + DURATION_MS;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  const secs = (Date.now() - start) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    name,
    url: url.replace(/^http:\/\/127\.0\.0\.1:\d+/, ''),
    requests: lat.length,
    errors,
    rps: r(lat.length / secs),
    p50ms: r(pct(lat, 50)),
    p99ms: r(pct(lat, 99)),
    maxms: r(lat[lat.length - 1] ?? 0),
    bytesPerResponse: lat.length ? Math.round(bytes / lat.length) : 0,
    mbPerSec: r(bytes / secs / 1e6),
  };
}

const dir = await mkdtemp(join(tmpdir(), 'od-bench-'));
try {
  const t0 = Date.now();
  const info = await createStoreWriter(dir).writeRelease({
    ...exampleRelease(new Date('2025-01-01T00:00:00Z'), 8760),
    geo: false,
  });
  const writeMs = Date.now() - t0;
  const csvPath = join(dir, info.path, 'data.csv');
  console.log(`store: ${info.rowCount} rows written in ${writeMs} ms (${dir})`);

  const child = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'serve.ts')], {
    cwd: REPO,
    env: { ...process.env, OPENDATA_DIR: dir, STATIC_CSV: csvPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const urls = await new Promise<{ apiUrl: string; staticUrl: string }>((res, rej) => {
    let buf = '';
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line) res(JSON.parse(line));
    });
    child.on('exit', (code) => rej(new Error(`bench server exited ${code}`)));
  });
  const api = urls.apiUrl;
  const ds = `${api}/api/3/action/datastore_search?resource_id=${DATASET}`;
  const rec = `${api}/api/explore/v2.1/catalog/datasets/${DATASET}/records`;
  const enc = encodeURIComponent;
  const scenarios: [string, string][] = [
    ['datastore_search limit=100', `${ds}&limit=100`],
    ['datastore_search filter commune, total', `${ds}&limit=100&filters=${enc('{"commune":"21231"}')}`],
    [
      'datastore_search filter+sort',
      `${ds}&limit=100&filters=${enc('{"commune":"21231"}')}&sort=${enc('energy_kwh desc')}`,
    ],
    ['records limit=100', `${rec}?limit=100`],
    [
      'records where AND/OR + order_by',
      `${rec}?limit=100&where=${enc('commune = "21231" AND (energy_kwh > 50 OR status = "zero")')}&order_by=${enc('period_start desc')}`,
    ],
    ['static CSV (node:http, whole file)', urls.staticUrl],
    ['API /files CSV (whole file)', `${api}/files/datasets/${DATASET}/releases/${info.releaseId}/data.csv`],
  ];
  const results: Result[] = [];
  for (const [name, url] of scenarios) {
    const r = await load(name, url);
    results.push(r);
    console.log(`  ${name}: ${r.rps} req/s, p99 ${r.p99ms} ms`);
  }
  child.kill('SIGTERM');

  console.log(
    `\nAPI benchmark — ${info.rowCount} rows, ${CONNECTIONS} connections, ${DURATION_MS / 1000} s per scenario, ${cpus().length} CPUs (shared)\n`,
  );
  console.table(
    results.map((r) => ({
      scenario: r.name,
      'req/s': r.rps,
      'p50 ms': r.p50ms,
      'p99 ms': r.p99ms,
      'max ms': r.maxms,
      'bytes/resp': r.bytesPerResponse,
      'MB/s': r.mbPerSec,
      errors: r.errors,
    })),
  );
  await mkdir(join(REPO, 'reports'), { recursive: true });
  const report = {
    benchmark: 'api',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    rows: info.rowCount,
    csvBytes: info.files.find((f) => f.name === 'data.csv')?.bytes,
    connections: CONNECTIONS,
    durationMs: DURATION_MS,
    storeWriteMs: writeMs,
    results,
  };
  await writeFile(join(REPO, 'reports/bench-api.json'), JSON.stringify(report, null, 2) + '\n');
  console.log('\nwritten reports/bench-api.json');
} finally {
  await rm(dir, { recursive: true, force: true });
}
