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
const HOSTILE_MS = Number(process.env.BENCH_HOSTILE_MS ?? 10_000);
/** BENCH_ONLY=hostile skips the throughput scenarios. */
const ONLY = process.env.BENCH_ONLY ?? '';
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

interface Shot {
  status: number;
  /** Time to the response headers (first byte), ms. */
  ttfbMs: number;
  /** Time to the last byte, ms. */
  totalMs: number;
}

/** One request, timed to the headers and to the last byte. */
function shoot(agent: Agent, url: string, body?: string): Promise<Shot> {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = request(
      url,
      {
        agent,
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (r) => {
        const ttfbMs = ms();
        r.on('data', () => {});
        r.on('end', () => res({ status: r.statusCode ?? 0, ttfbMs, totalMs: ms() }));
      },
    );
    req.on('error', () => res({ status: 0, ttfbMs: ms(), totalMs: ms() }));
    req.end(body);
  });
}

interface Hostile {
  name: string;
  /** Expected status: the shape is at the limit (200) or just over it (400/409/413). */
  expect: number;
  /** A URL (or a function of the shot number, for rotating shapes) and an optional POST body. */
  url: (k: number) => string;
  body?: string;
  /** Streamed answers: the answer time is the time to the headers; the transfer is reported too. */
  streamed?: boolean;
}

/** Plain requests in a closed loop on `connections` until `until`; latencies in ms. */
async function plainLoop(url: string, connections: number, until: () => boolean): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const lat: number[] = [];
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (!until()) lat.push((await shoot(agent, url)).totalMs);
    }),
  );
  agent.destroy();
  return lat.sort((a, b) => a - b);
}

const enc = encodeURIComponent;
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

  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
      '--import',
      'tsx',
      resolve(import.meta.dirname, 'serve.ts'),
    ],
    {
      cwd: REPO,
      env: { ...process.env, OPENDATA_DIR: dir, STATIC_CSV: csvPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
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
  for (const [name, url] of ONLY === 'hostile' ? [] : scenarios) {
    const r = await load(name, url);
    results.push(r);
    console.log(`  ${name}: ${r.rps} req/s, p99 ${r.p99ms} ms`);
  }

  // Hostile round (issue 13 item 8): each hostile shape at (or just over) its limit, in a loop on
  // its own connection, while a plain datastore_search runs beside them; the plain p99 is compared
  // with the same loop alone.
  const plainUrl = `${ds}&limit=100`;
  const words = (n: number) =>
    ['20', ':00', 't', '-', '0', '1', 'e', '2', '5', 'z', '.', 'v', 'a', 'l', 'u', '00']
      .slice(0, n)
      .join(' ');
  const orders = [
    'commune, energy_kwh desc',
    'status desc, period_start',
    'faults desc, commune, period_end desc',
    'energy_kwh, faults, status desc',
    'period_end desc, commune_name',
    'commune_name desc, faults, energy_kwh desc, period_start',
  ];
  const sorts = [
    'energy_kwh desc',
    'period_start',
    'faults desc',
    'commune_name',
    'status desc',
    'period_end desc',
    '_id desc',
    'commune',
  ];
  const bigWhere = Array.from(
    { length: 64 },
    (_, i) => `period_start = date'2024-01-${String((i % 28) + 1).padStart(2, '0')}T0${i % 10}:00:00Z'`,
  ).join(' OR ');
  const hostiles: Hostile[] = [
    {
      name: 'CKAN q, 16 terms matching every row (limit)',
      expect: 200,
      url: () => `${ds}&q=${enc(words(16))}`,
    },
    { name: 'CKAN q, 17 terms (over the limit)', expect: 400, url: () => `${ds}&q=${enc(words(16) + ' x')}` },
    {
      name: 'CKAN POST body of 64 KiB + 1',
      expect: 413,
      url: () => `${api}/api/3/action/datastore_search`,
      body: JSON.stringify({ resource_id: DATASET, q: 'x'.repeat(64 * 1024) }),
    },
    {
      name: 'CKAN filters, 1000 values (limit)',
      expect: 200,
      url: () => `${api}/api/3/action/datastore_search`,
      body: JSON.stringify({
        resource_id: DATASET,
        filters: { faults: Array.from({ length: 1000 }, (_, i) => i + 1000) },
      }),
    },
    {
      name: 'CKAN sort rotating, limit 32000 (limit; streamed)',
      expect: 200,
      streamed: true,
      url: (k) => `${ds}&limit=32000&sort=${enc(sorts[k % sorts.length]!)}`,
    },
    {
      name: 'Explore order_by rotating, 2-4 keys',
      expect: 200,
      url: (k) => `${rec}?limit=100&order_by=${enc(orders[k % orders.length]!)}`,
    },
    {
      name: `Explore where, 64 date comparisons, ${bigWhere.length} chars (limit)`,
      expect: 200,
      url: () => `${rec}?limit=100&where=${enc(bigWhere)}`,
    },
    {
      name: 'Explore where, 4001 chars (over)',
      expect: 400,
      url: () => `${rec}?where=${enc('commune = "' + 'x'.repeat(3990) + '"')}`,
    },
    {
      name: 'Explore group_by + 5 aggregates over every row',
      expect: 200,
      url: () =>
        `${rec}?limit=100&group_by=commune&select=${enc('commune, count(*) as n, sum(energy_kwh) as s, avg(energy_kwh) as a, min(period_start) as f, max(faults) as m')}&order_by=${enc('s desc')}`,
    },
    {
      name: 'Explore refine x32 (limit)',
      expect: 200,
      url: () => `${rec}?${Array.from({ length: 32 }, () => `refine=${enc('commune:21231')}`).join('&')}`,
    },
    {
      name: 'CKAN fq, 2000-char word run',
      expect: 409,
      url: () => `${api}/api/3/action/package_search?fq=${'a'.repeat(1999)}`,
    },
    {
      name: 'CKAN fq, 32 terms with date ranges (limit)',
      expect: 200,
      url: () =>
        `${api}/api/3/action/package_search?fq=${enc(Array.from({ length: 32 }, () => 'metadata_modified:[2020-01-01T00:00:00Z TO *]').join(' '))}`,
    },
    {
      name: 'Explore export, whole CSV (streamed)',
      expect: 200,
      url: () => `${rec.replace(/records$/, 'exports/csv')}`,
      streamed: true,
    },
  ];
  // BENCH_HOSTILE_FILTER (a regular expression) keeps only the matching shapes, to find which one
  // costs the plain request most.
  const filter = process.env.BENCH_HOSTILE_FILTER
    ? new RegExp(process.env.BENCH_HOSTILE_FILTER, 'i')
    : undefined;
  if (filter) hostiles.splice(0, hostiles.length, ...hostiles.filter((h) => filter.test(h.name)));
  // Warm-up: the first requests parse the release and build the per-release caches (datetimes
  // parsed, each sorted column ranked once, the rows' search text): a one-time cost per release,
  // reported apart, not per request.
  const warmStart = Date.now();
  {
    const warm = new Agent({ keepAlive: true });
    for (const h of hostiles) for (let k = 0; k < 8; k++) await shoot(warm, h.url(k), h.body);
    warm.destroy();
  }
  const warmMs = Date.now() - warmStart;
  let stop = Date.now() + HOSTILE_MS;
  const without = await plainLoop(plainUrl, 2, () => Date.now() >= stop);
  const shots = new Map<string, Shot[]>(hostiles.map((h) => [h.name, []]));
  stop = Date.now() + HOSTILE_MS;
  const hostileAgent = new Agent({ keepAlive: true, maxSockets: 2 });
  let k = 0;
  const [during] = await Promise.all([
    plainLoop(plainUrl, 2, () => Date.now() >= stop),
    ...Array.from({ length: 2 }, async () => {
      while (Date.now() < stop) {
        const n = k++;
        const h = hostiles[n % hostiles.length]!;
        shots.get(h.name)!.push(await shoot(hostileAgent, h.url(Math.floor(n / hostiles.length)), h.body));
      }
    }),
  ]);
  hostileAgent.destroy();
  child.kill('SIGTERM');
  const r2 = (x: number) => Math.round(x * 10) / 10;
  const hostileRows = hostiles.map((h) => {
    const s = shots.get(h.name)!;
    const answer = s.map((x) => (h.streamed ? x.ttfbMs : x.totalMs)).sort((a, b) => a - b);
    return {
      shape: h.name,
      requests: s.length,
      status: [...new Set(s.map((x) => x.status))].join(','),
      expected: h.expect,
      'answer p50 ms': r2(pct(answer, 50)),
      'answer max ms': r2(answer[answer.length - 1] ?? 0),
      'transfer max ms': r2(Math.max(0, ...s.map((x) => x.totalMs))),
    };
  });
  const worst = hostileRows.reduce((a, b) => (b['answer max ms'] > a['answer max ms'] ? b : a));
  const p99Without = r2(pct(without, 99));
  const p99During = r2(pct(during, 99));
  const hostile = {
    durationMs: HOSTILE_MS,
    warmUpMs: warmMs,
    plainUrl: plainUrl.replace(/^http:\/\/127\.0\.0\.1:\d+/, ''),
    plainConnections: 2,
    hostileConnections: 2,
    shapes: hostileRows,
    worstAnswerMs: worst['answer max ms'],
    worstShape: worst.shape,
    worstTargetMs: 1000,
    plain: {
      without: { requests: without.length, p50ms: r2(pct(without, 50)), p99ms: p99Without },
      during: { requests: during.length, p50ms: r2(pct(during, 50)), p99ms: p99During },
      p99Ratio: Math.round((p99During / p99Without) * 100) / 100,
      ratioTarget: 2,
    },
    unexpectedStatus: hostileRows.filter((r) => r.status !== String(r.expected)).map((r) => r.shape),
  };

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
  console.log(`\nHostile round — ${HOSTILE_MS / 1000} s, 2 hostile + 2 plain connections\n`);
  console.table(hostileRows);
  console.table([
    { plain: 'datastore_search limit=100 alone', ...hostile.plain.without },
    { plain: 'same, beside the hostile shapes', ...hostile.plain.during },
  ]);
  console.log(
    `worst hostile answer: ${hostile.worstAnswerMs} ms (${hostile.worstShape}; target < 1000 ms: ${hostile.worstAnswerMs < 1000 ? 'met' : 'NOT met'})`,
  );
  console.log(
    `plain p99 during / without: ${p99During} / ${p99Without} ms = ${hostile.plain.p99Ratio}x (target <= 2x: ${hostile.plain.p99Ratio <= 2 ? 'met' : 'NOT met'})`,
  );
  if (hostile.unexpectedStatus.length)
    console.log(`UNEXPECTED STATUS: ${hostile.unexpectedStatus.join('; ')}`);
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
    hostile,
  };
  await writeFile(join(REPO, 'reports/bench-api.json'), JSON.stringify(report, null, 2) + '\n');
  console.log('\nwritten reports/bench-api.json');
} finally {
  await rm(dir, { recursive: true, force: true });
}
