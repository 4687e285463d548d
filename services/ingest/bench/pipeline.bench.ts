// `node --max-semi-space-size=32 --import tsx services/ingest/bench/pipeline.bench.ts`: CPU µs per
// message of ingest's pure pipeline (`processMessage`: parse, validate, classify, minimise, envelope,
// serialise), without MQTT or Kafka, on messages like bench:ingest's (50 equipment per family). Each run
// takes 5 000 warm-up messages, then BENCH_REPS (5) passes of 30 000; the minimum pass is the figure
// least disturbed by other processes. BENCH_ROOT=<checkout> measures another checkout's pipeline (a
// worktree of an earlier commit: the same messages, its code), to compare commits interleaved. Prints a
// table and writes reports/bench-ingest-pipeline.json. A measurement, not a test.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const root = path.resolve(process.env.BENCH_ROOT ?? here);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const N = 30_000;
const WARMUP = 5_000;

interface Msg {
  topic: string;
  payload: Buffer;
}
type Process = (ctx: unknown, msg: Msg) => { kind: string };

async function main(): Promise<void> {
  const { processMessage } = (await import(`${root}/services/ingest/src/pipeline.ts`)) as {
    processMessage: Process;
  };
  const { loadIngestPolicy } = (await import(`${root}/services/ingest/src/governance.ts`)) as {
    loadIngestPolicy: (p: string) => { policy: unknown };
  };
  const { indexRegistry } = (await import(`${root}/services/ingest/src/registry.ts`)) as {
    indexRegistry: (r: unknown) => unknown;
  };
  const { makeRegistry, payloadFor } = (await import(`${root}/services/ingest/test/fixtures.ts`)) as {
    makeRegistry: (
      p: string,
      n: number,
    ) => {
      equipment: { family: string; operator: string; equipmentId: string }[];
    };
    payloadFor: (family: string, seq: number) => Record<string, unknown>;
  };
  const { telemetryTopic } = (await import(`${root}/packages/contracts/src/index.ts`)) as {
    telemetryTopic: (family: string, operator: string, id: string) => string;
  };
  const registry = makeRegistry('pipeline-bench', 50);
  const ctx = {
    registry: indexRegistry(registry),
    policy: loadIngestPolicy('').policy,
    mqttTopicPrefix: '',
    maxPayloadBytes: 65_536,
    maxFutureSkewMs: 60_000,
    maxPastAgeMs: 400 * 86_400_000,
    now: () => new Date(),
  };
  const eq = registry.equipment;
  const msgs: Msg[] = [];
  for (let i = 0; i < N + WARMUP; i++) {
    const e = eq[i % eq.length]!;
    msgs.push({
      topic: telemetryTopic(e.family, e.operator, e.equipmentId),
      payload: Buffer.from(JSON.stringify(payloadFor(e.family, Math.floor(i / eq.length)))),
    });
  }
  let accepted = 0;
  for (let i = 0; i < WARMUP; i++) if (processMessage(ctx, msgs[i]!).kind === 'accepted') accepted++;
  const passes: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const c0 = process.cpuUsage();
    for (let i = WARMUP; i < N + WARMUP; i++)
      if (processMessage(ctx, msgs[i]!).kind === 'accepted') accepted++;
    const c = process.cpuUsage(c0);
    passes.push((c.user + c.system) / N);
  }
  if (accepted !== WARMUP + REPS * N) throw new Error(`only ${accepted} messages accepted`);
  const sorted = [...passes].sort((a, b) => a - b);
  const report = {
    bench: 'ingest-pipeline',
    at: new Date().toISOString(),
    root,
    messages: N,
    reps: REPS,
    cpuUsPerMessage: { min: sorted[0]!, median: sorted[Math.floor(REPS / 2)]!, passes },
    loadAverage1m: loadavg()[0],
  };
  const r2 = (x: number) => x.toFixed(2);
  console.log(`ingest pipeline (processMessage) of ${root}, ${N} messages × ${REPS} passes`);
  console.log('CPU µs/msg min  median  load 1m');
  console.log(
    `${r2(report.cpuUsPerMessage.min).padEnd(16)}${r2(report.cpuUsPerMessage.median).padEnd(8)}${r2(report.loadAverage1m ?? Number.NaN)}`,
  );
  mkdirSync(path.join(here, 'reports'), { recursive: true });
  writeFileSync(path.join(here, 'reports/bench-ingest-pipeline.json'), JSON.stringify(report, null, 2));
  console.log('wrote reports/bench-ingest-pipeline.json');
}

await main();
