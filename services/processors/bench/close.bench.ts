// How soon the stream runtime alone closes windows under a paced input (issue 16): 60 lamps on a
// 6-partition topic, one report each every 10 simulated seconds, paced at DIAG_SPEED simulated seconds
// per wall second (default 60: one 1-minute window closes per wall second, 360 records/s), for
// DIAG_WALL_S wall seconds (default 40), grace 10 s. For each window's first emission: from the Kafka
// timestamp of the record that brought the last partition to end + grace (the watermark passes it) to
// the aggregate's Kafka timestamp. Windows still unemitted when the input ends and the runtime stops
// 3 s later are not measured (the report says how many were). Needs the stack (`pnpm stack up`).
// Run: `pnpm exec tsx services/processors/bench/close.bench.ts`; prints one JSON line and writes
// reports/bench-close.json. Not a test: no assertions.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import {
  createTestTopic,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  useLocalStackEndpoints,
} from '@ondijon/acceptance';
import { createBatchingProducer, readAll } from '@ondijon/kafka';
import {
  createStreamRuntime,
  energyProcessor,
  lampReport,
  silentStreamLogger,
  tumbling,
} from '@ondijon/stream';
import { Redis } from 'ioredis';

useLocalStackEndpoints();
const SPEED = Number(process.env.DIAG_SPEED ?? 60); // simulated s per wall s
// Two communes (lamps alternate), so two windows per minute.
const WALL_S = Number(process.env.DIAG_WALL_S ?? 40);
const LAMPS = 60;
const GRACE = 10_000;
const kafka = testKafka();
const redis = new Redis(testEndpoints().redisUrl);
const name = uniqueName('diagclose')
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, '-');
const input = await createTestTopic('diag-in', { partitions: 6 });
const output = await createTestTopic('diag-out');
const proc = energyProcessor(name, 'revise', GRACE, tumbling('1m'));
const runtime = createStreamRuntime([proc], {
  kafka,
  redis,
  groupId: name,
  logger: silentStreamLogger,
  keyPrefix: `${name}:`,
  idleFlushMs: Number(process.env.DIAG_IDLE_MS ?? 5_000),
  topicOverrides: { 'tel.s1.lighting.v1': input, 'agg.s1.lighting-commune-hour.v1': output },
});
await runtime.start();
const producer = createBatchingProducer(kafka);
await producer.connect();
const t0sim = Date.UTC(2026, 0, 12, 15, 0);
const wall0 = Date.now();
let seq = 0;
const pending: Promise<void>[] = [];
// Each lamp reports every 10 simulated seconds, phases spread.
for (let simS = 0; simS < WALL_S * SPEED; simS++) {
  const due = wall0 + (simS * 1000) / SPEED;
  const wait = due - Date.now();
  if (wait > 2) await new Promise((r) => setTimeout(r, wait));
  for (let i = 0; i < LAMPS; i++) {
    if ((simS + i) % 10 !== 0) continue;
    const id = `SL-${String(i).padStart(3, '0')}`;
    const v = lampReport({
      equipmentId: id,
      commune: i % 2 ? '21231' : '21166',
      seq: seq++,
      observedAt: t0sim + simS * 1000,
      energyWh: 10,
      intervalS: 10,
    });
    pending.push(producer.send(input, { key: id, value: JSON.stringify(v) }));
  }
}
await Promise.all(pending);
await new Promise((r) => setTimeout(r, 3_000));
await runtime.close();
await producer.disconnect();
const recs = await readAll(kafka, input);
const parts = new Map<number, { et: number[]; ts: number[] }>();
for (const r of recs) {
  let p = parts.get(r.partition);
  if (!p) parts.set(r.partition, (p = { et: [], ts: [] }));
  const et = Date.parse((JSON.parse(r.value!) as { time: string }).time);
  p.et.push(Math.max(p.et.at(-1) ?? -Infinity, et));
  p.ts.push(Number(r.message.timestamp));
}
const lat: number[] = [];
let windows = 0;
for (const r of await readAll(kafka, output)) {
  const d = (JSON.parse(r.value!) as { data: { windowEnd: string; revision: number } }).data;
  if (d.revision !== 0) continue;
  windows++;
  const T = Date.parse(d.windowEnd) + GRACE;
  let closer = -Infinity;
  let ok = true;
  for (const p of parts.values()) {
    const i = p.et.findIndex((x) => x >= T);
    if (i < 0) ok = false;
    else closer = Math.max(closer, p.ts[i]!);
  }
  if (ok) lat.push(Number(r.message.timestamp) - closer);
}
lat.sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
const report = {
  when: new Date().toISOString(),
  command: 'pnpm exec tsx services/processors/bench/close.bench.ts',
  speed: SPEED,
  wallSeconds: WALL_S,
  windowsPlanned: 2 * Math.floor((WALL_S * SPEED - GRACE / 1000) / 60),
  windowsEmitted: windows,
  measured: lat.length,
  p50Ms: pct(50) ?? null,
  p99Ms: pct(99) ?? null,
  maxMs: lat.at(-1) ?? null,
  loadAvg1m: loadavg()[0],
  cpus: cpus().length,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
mkdirSync('reports', { recursive: true });
writeFileSync('reports/bench-close.json', `${JSON.stringify(report, null, 2)}\n`);
await deleteTopics([input, output]);
await redis.quit();
process.exit(0);
