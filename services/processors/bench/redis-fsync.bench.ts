// node --import tsx services/processors/bench/redis-fsync.bench.ts — the price of `appendfsync always`
// for the stream runtime's state updates, without Kafka's noise: two redis-servers of this script's own
// (infra/redis/redis.conf, one with `appendfsync everysec`, one with `always`, each with its AOF in a
// temporary folder), and the runtime's own APPLY script (RedisWindowStore) run one update at a time as
// the runtime does (one state update in flight per processor), chunks of BENCH_CHUNK records (1000,
// the runtime's default) over BENCH_WINDOWS windows (24: a chunk of the lighting processor touches a
// commune-hour per commune). Interleaved rounds (everysec, always, everysec, …); prints a table and
// writes reports/bench-redis-fsync.json. Knobs: BENCH_ROUNDS (4), BENCH_UPDATES (200 per round).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { RedisWindowStore } from '@ondijon/stream';
import { Redis } from 'ioredis';
import { OwnRedis } from '../../../packages/stream/test/redis-crash';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 200);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 1000);
const WINDOWS = Number(process.env.BENCH_WINDOWS ?? 24);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function round(redis: Redis, tag: string) {
  const store = new RedisWindowStore(redis, `bench:${tag}:`, 'lighting');
  const tp = 'tel.s1.lighting.v1:0';
  const { epoch } = await store.claim(tp);
  const versions = new Map<string, number>();
  const state = { acc: { wh: 0, n: 0 }, meta: { records: 0, lateRecords: 0, equipment: [], operators: [] } };
  const lat: number[] = [];
  let prev: bigint | undefined;
  const t0 = performance.now();
  for (let u = 0; u < UPDATES; u++) {
    const first = u * CHUNK;
    const windows = Array.from({ length: WINDOWS }, (_, w) => {
      const wk = `${Math.floor(u / 30) * 3_600_000}|c${w}`;
      const ids = Array.from({ length: CHUNK / WINDOWS }, (_, i) => `${tag}-${u}-${w}-${i}`);
      return {
        wk,
        expectedVersion: versions.get(wk) ?? 0,
        state: state as never,
        group: { commune: `c${w}` },
        start: Math.floor(u / 30) * 3_600_000,
        end: Math.floor(u / 30) * 3_600_000 + 3_600_000,
        ids,
      };
    });
    const s = performance.now();
    const out = await store.apply({
      tp,
      epoch,
      firstOffset: String(first),
      lastOffset: String(first + CHUNK - 1),
      prevOffset: prev,
      maxEventTime: u,
      wallNow: Date.now(),
      ttlMs: 600_000,
      graceMs: 0,
      windows,
    });
    lat.push(performance.now() - s);
    if (out.status !== 'ok') throw new Error(`unexpected ${out.status}`);
    prev = BigInt(first + CHUNK - 1);
    for (const w of windows) versions.set(w.wk, w.expectedVersion + 1);
  }
  const seconds = (performance.now() - t0) / 1000;
  await redis.flushall();
  lat.sort((a, b) => a - b);
  return {
    updatesPerSecond: Math.round(UPDATES / seconds),
    recordsPerSecond: Math.round((UPDATES * CHUNK) / seconds),
    p50Ms: Math.round(percentile(lat, 50) * 100) / 100,
    p99Ms: Math.round(percentile(lat, 99) * 100) / 100,
  };
}

async function main(): Promise<void> {
  const servers = {
    everysec: await OwnRedis.start(['--appendfsync', 'everysec', '--save', '']),
    always: await OwnRedis.start(['--appendfsync', 'always', '--save', '']),
  };
  const clients = {
    everysec: new Redis(servers.everysec.url),
    always: new Redis(servers.always.url),
  };
  try {
    for (const [p, c] of Object.entries(clients))
      console.log(`${p}: appendfsync=${((await c.config('GET', 'appendfsync')) as string[])[1]}`);
    const rows: {
      round: number;
      appendfsync: string;
      updatesPerSecond: number;
      recordsPerSecond: number;
      p50Ms: number;
      p99Ms: number;
    }[] = [];
    for (let r = 1; r <= ROUNDS; r++)
      for (const p of ['everysec', 'always'] as const)
        rows.push({ round: r, appendfsync: p, ...(await round(clients[p], `${p}${r}`)) });
    const summary = Object.fromEntries(
      (['everysec', 'always'] as const).map((p) => {
        const of = rows.filter((x) => x.appendfsync === p);
        return [
          p,
          {
            recordsPerSecond: Math.round(median(of.map((x) => x.recordsPerSecond))),
            updatesPerSecond: Math.round(median(of.map((x) => x.updatesPerSecond))),
            p50Ms: median(of.map((x) => x.p50Ms)),
            p99Ms: median(of.map((x) => x.p99Ms)),
          },
        ];
      }),
    );
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, loadAverage: loadavg() },
      settings: {
        rounds: ROUNDS,
        updatesPerRound: UPDATES,
        recordsPerUpdate: CHUNK,
        windowsPerUpdate: WINDOWS,
      },
      rounds: rows,
      summary,
      alwaysOverEverysec:
        Math.round((summary.always!.recordsPerSecond / summary.everysec!.recordsPerSecond) * 100) / 100,
    };
    console.log('');
    console.log('| round | appendfsync | state updates/s | records/s | update p50 ms | update p99 ms |');
    console.log('|------:|:------|------:|------:|------:|------:|');
    for (const x of rows)
      console.log(
        `| ${x.round} | ${x.appendfsync} | ${x.updatesPerSecond} | ${x.recordsPerSecond} | ${x.p50Ms} | ${x.p99Ms} |`,
      );
    console.log('');
    console.log('| appendfsync | records/s (median) | update p50 ms | update p99 ms |');
    console.log('|:------|------:|------:|------:|');
    for (const [p, v] of Object.entries(summary))
      console.log(`| ${p} | ${v.recordsPerSecond} | ${v.p50Ms} | ${v.p99Ms} |`);
    console.log(
      `\nalways / everysec (records/s): ${report.alwaysOverEverysec}; 1-min load ${loadavg()[0]!.toFixed(2)}`,
    );
    mkdirSync('reports', { recursive: true });
    writeFileSync('reports/bench-redis-fsync.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log('wrote reports/bench-redis-fsync.json');
  } finally {
    for (const c of Object.values(clients)) c.disconnect();
    for (const s of Object.values(servers)) await s.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
