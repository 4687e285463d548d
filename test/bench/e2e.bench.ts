// End-to-end benchmark (`pnpm bench:e2e`): the city-scale fleet through MQTT → ingest → Kafka →
// processors → aggregates, every service a child process as in production. Measures the sustained
// rate through the whole pipeline, how soon windows close, and each service's peak memory; prints a
// table and writes reports/bench-e2e.json. Two phases: saturation (unpaced: the rate through the
// pipeline is its capacity) and paced at half that rate (latency without a backlog).
//
// How soon windows close: for each window's first emission, the time from the publish of the message
// that let it close to the aggregate record's Kafka timestamp. A window closes when the processor's
// watermark (the minimum over its input partitions of the latest event time read from each) reaches
// window end + grace; the message that lets it close is, of each input partition's first record at or
// after end + grace, the one published last (windowLatencies has the details). The figure is split at
// that message's Kafka timestamp into ingest's part and the stream processor's part. The report also
// gives the measure used before (from the first message at or after end + grace on any partition).
//
// Needs nothing running (starts the stack if needed). Not a test: no assertions. Knobs:
// BENCH_SIM_HOURS (default 2), BENCH_SPEED (paced phase, simulated s per wall s), BENCH_PHASES=paced
// (with BENCH_SPEED: the paced phase only), BENCH_SEED, BENCH_KEEP (keep the run's folder).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import path from 'node:path';
import { generateRegistry, type TopicName } from '@ondijon/contracts';
import { createKafka, readAll, type ReadRecord } from '@ondijon/kafka';
import { endpoints, securityOf, stackMqttCredentials, stackUp } from '@ondijon/stack';
import { mqttEnv, physical, type PipelinePlan, REPO_ROOT } from '@ondijon/devstack';
import { stampAppendTime } from '@ondijon/test-kit';
import { Cleanup, useLocalStackEndpoints } from '../setup/index';
import { TELEMETRY_TOPICS, testPipeline } from '../setup/pipeline';

const SEED = Number(process.env.BENCH_SEED ?? 7);
const SIM_HOURS = Number(process.env.BENCH_SIM_HOURS ?? 2);
/** Speed of the latency phase; default: half the rate the saturation phase sustained. */
const PACED_SPEED = process.env.BENCH_SPEED;
/** `BENCH_PHASES=paced` (with BENCH_SPEED) skips the saturation phase. */
const PACED_ONLY = process.env.BENCH_PHASES === 'paced';
// A weekday evening in January: lights on, evening traffic peak, salting.
const FROM = Date.parse('2026-01-12T15:00:00Z');
/** The built-in processors and the telemetry topics each consumes (its consumer group commits only those). */
const PROCESSOR_INPUTS: Record<string, TopicName[]> = {
  'lighting-commune-hour': ['tel.s1.lighting.v1'],
  'traffic-flow-15m': ['tel.s1.traffic.v1'],
  'traffic-flow-hour': ['tel.s1.traffic.v1'],
  'signal-status': ['tel.s1.traffic.v1'],
  'winter-commune-day': ['tel.s1.winter.v1', 'tel.s2.winter.v1'],
};
const PROCESSORS = Object.keys(PROCESSOR_INPUTS);
/**
 * Aggregate topic → the input topics of the processors writing it (their watermark is taken over these
 * topics' partitions), the families feeding it and the processors' grace (services/processors definitions).
 */
const AGGREGATES: Record<string, { inputs: TopicName[]; families: string[]; graceMs: number }> = {
  'agg.s1.lighting-commune-hour.v1': {
    inputs: ['tel.s1.lighting.v1'],
    families: ['streetlight', 'lighting-cabinet'],
    graceMs: 5 * 60_000,
  },
  'agg.s1.traffic-flow.v1': {
    inputs: ['tel.s1.traffic.v1'],
    families: ['traffic-detector'],
    graceMs: 5 * 60_000,
  },
  'agg.s1.signal-status.v1': {
    inputs: ['tel.s1.traffic.v1'],
    families: ['signal-controller'],
    graceMs: 5 * 60_000,
  },
  'agg.s2.winter-commune-day.v1': {
    inputs: ['tel.s1.winter.v1', 'tel.s2.winter.v1'],
    families: ['winter-vehicle', 'weather-station'],
    graceMs: 30 * 60_000,
  },
};

const say = (line = '') => process.stdout.write(`${line}\n`);

interface PhaseReport {
  fleet: { speed: string };
  messages: number;
  seconds: { publish: number; ingestedToKafka: number; processed: number };
  ratePerS: { publish: number; throughIngest: number; throughPipeline: number };
  latencyMs: {
    windows: number;
    idleClosed: number;
    p50: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
    stages: Record<'publishToKafka' | 'kafkaToAggregate', { p50: number | null; p99: number | null }>;
    fromFirstMessage: { p50: number | null; p99: number | null; max: number | null };
    byTopic: Record<
      string,
      { windows: number; idleClosed: number; p50: number | null; p99: number | null; max: number | null }
    >;
  };
  peakRssMb: Record<string, number | null>;
  machine: { cpus: number; loadAvg1mAtStart: number; loadAvg1mAtEnd: number | undefined };
}

function print(r: PhaseReport): void {
  say('');
  say(`speed ×${r.fleet.speed}`);
  say(`  messages                      ${r.messages}`);
  say(
    `  publish rate                  ${r.ratePerS.publish.toFixed(0)} msg/s (${r.seconds.publish.toFixed(1)} s)`,
  );
  say(
    `  through ingest (in Kafka)     ${r.ratePerS.throughIngest.toFixed(0)} msg/s (${r.seconds.ingestedToKafka.toFixed(1)} s)`,
  );
  say(
    `  through the pipeline          ${r.ratePerS.throughPipeline.toFixed(0)} msg/s (${r.seconds.processed.toFixed(1)} s, all processors caught up)`,
  );
  const l = r.latencyMs;
  say(
    `  window closing message → aggregate in Kafka   p50 ${l.p50} ms · p95 ${l.p95} ms · p99 ${l.p99} ms · max ${l.max} ms (${l.windows} windows; ${l.idleClosed} closed by idleness, not measured)`,
  );
  say(
    `    of which publish → in Kafka  p50 ${l.stages.publishToKafka.p50} ms · p99 ${l.stages.publishToKafka.p99} ms; in Kafka → aggregate p50 ${l.stages.kafkaToAggregate.p50} ms · p99 ${l.stages.kafkaToAggregate.p99} ms`,
  );
  say(
    `    from the first message at end + grace on any partition: p50 ${l.fromFirstMessage.p50} ms · p99 ${l.fromFirstMessage.p99} ms`,
  );
  for (const [t, x] of Object.entries(l.byTopic))
    say(`    ${t.padEnd(34)} p50 ${x.p50} ms · p99 ${x.p99} ms · max ${x.max} ms (${x.windows} windows)`);
  say(
    `  peak RSS (MB)                 ${Object.entries(r.peakRssMb)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ')}`,
  );
  say(
    `  load average (1 min)          ${r.machine.loadAvg1mAtStart.toFixed(1)} → ${(r.machine.loadAvg1mAtEnd ?? 0).toFixed(1)} on ${r.machine.cpus} cores`,
  );
}

async function main(): Promise<void> {
  await stackUp();
  useLocalStackEndpoints();
  // Saturation: the simulator publishes as fast as it can; the rate through the pipeline is its capacity.
  const saturation = PACED_ONLY && PACED_SPEED ? undefined : ((await phase('max')) as unknown as PhaseReport);
  // Latency at load: paced below capacity, so latency is the pipeline's, not a queue's.
  const speed =
    PACED_SPEED ??
    String(Math.max(1, Math.round((0.5 * saturation!.ratePerS.throughPipeline) / MSG_PER_SIM_S)));
  const paced = (await phase(speed)) as unknown as PhaseReport;
  const report = {
    when: new Date().toISOString(),
    command: 'pnpm bench:e2e',
    saturation: saturation ?? null,
    paced,
  };
  mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-e2e.json'), `${JSON.stringify(report, null, 2)}\n`);
  say('');
  say('wrote reports/bench-e2e.json');
}
/** Messages per simulated second of the city fleet (set by the saturation phase). */
let MSG_PER_SIM_S = 13.5;
const pct = (xs: number[], p: number) =>
  xs.length === 0 ? null : xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** A message the simulator published, as its record file has it. */
interface Published {
  topic: string;
  payload: string;
  tag: { family: string; observedAt: string; equipmentId?: string };
  sentAt: number;
  ackedAt: number;
}

/** Latencies of one aggregate topic's first emissions (revision 0), ms, each list sorted. */
interface TopicLatencies {
  /** Closing message published → aggregate in Kafka (the measure). */
  ms: number[];
  /** Closing message published → closing message in Kafka (ingest's part). */
  toKafkaMs: number[];
  /** Closing message in Kafka → aggregate in Kafka (the stream processor's part). */
  inStreamMs: number[];
  /** First message of the families at or after end + grace, on any partition, published → aggregate in Kafka (the measure before issue 16). */
  fromFirstMs: number[];
  /** First emissions left out: a partition never reached end + grace (closed by the idle rule). */
  idleClosed: number;
}

/** The event time of a telemetry record: the `ce_time` header (binary mode) or the envelope's `time`. */
function eventTimeOf(r: ReadRecord): number {
  if (r.headers.ce_time) return Date.parse(r.headers.ce_time);
  return Date.parse((JSON.parse(r.value ?? '{}') as { time?: string }).time ?? '');
}

/** The aggregate's data: the value itself (binary mode) or the envelope's `data`. */
function aggregateOf(r: ReadRecord): { windowEnd: string; revision: number } {
  const v = JSON.parse(r.value ?? '{}') as Record<string, unknown>;
  return ('specversion' in v ? v.data : v) as { windowEnd: string; revision: number };
}

/**
 * Window close latency, per aggregate topic: for each window's first emission, from the publish of
 * the message that let it close to the aggregate's Kafka timestamp.
 *
 * A window [start, end) closes when the processor's watermark reaches end + grace; the watermark is
 * the minimum, over the processor's input partitions, of each partition's stream time (the latest
 * event time applied from it; packages/stream/src/window-store.ts). So the message that lets the
 * window close is, of the first records at or after end + grace of every input partition (in offset
 * order), the one published last: before it was published some partition still held the watermark
 * below end + grace; after it, nothing more needs to arrive. Its publish time (the simulator's send)
 * is matched to its Kafka record by equipment id (the record key) and event time. The aggregate's
 * Kafka timestamp is its CreateTime, set by the processors' producer when it sends the result.
 * Windows that some input partition never reaches end + grace (the last windows of the run) are
 * closed by the idle rule, not by a message: they are counted apart, not measured.
 */
async function windowLatencies(
  kafka: ReturnType<typeof createKafka>,
  plan: PipelinePlan,
  lines: Published[],
): Promise<Record<string, TopicLatencies>> {
  const read = (t: TopicName) =>
    readAll(kafka, physical(plan, t), { timeoutMs: 300_000, groupPrefix: `${plan.runId}-lat` });
  const sentAt = new Map<string, number>();
  for (const l of lines)
    if (l.tag.equipmentId) sentAt.set(`${l.tag.equipmentId}|${Date.parse(l.tag.observedAt)}`, l.sentAt);
  /** Per input partition, in offset order: running max of event time, Kafka timestamp, publish time. */
  const partitions = new Map<TopicName, { runMax: number[]; ts: number[]; sent: number[] }[]>();
  let unmatched = 0;
  for (const t of new Set(Object.values(AGGREGATES).flatMap((a) => a.inputs))) {
    const byPartition = new Map<number, { runMax: number[]; ts: number[]; sent: number[] }>();
    for (const r of await read(t)) {
      let p = byPartition.get(r.partition);
      if (!p) byPartition.set(r.partition, (p = { runMax: [], ts: [], sent: [] }));
      const et = eventTimeOf(r);
      const sent = sentAt.get(`${r.key}|${et}`);
      if (sent === undefined) unmatched++;
      p.runMax.push(Math.max(p.runMax.at(-1) ?? Number.NEGATIVE_INFINITY, et));
      p.ts.push(Number(r.message.timestamp));
      p.sent.push(sent ?? Number.NaN);
    }
    partitions.set(t, [...byPartition.values()]);
  }
  if (unmatched > 0) say(`  (${unmatched} telemetry records not matched to a published message)`);
  const out: Record<string, TopicLatencies> = {};
  for (const [topic, { inputs, families, graceMs }] of Object.entries(AGGREGATES)) {
    // The message that lets windows ending at `closeAt - grace` close (undefined: idle-closed).
    const closers = new Map<number, { sent: number; kafka: number } | undefined>();
    const closerOf = (closeAt: number) => {
      if (closers.has(closeAt)) return closers.get(closeAt);
      let closer: { sent: number; kafka: number } | undefined = { sent: -Infinity, kafka: -Infinity };
      for (const p of inputs.flatMap((t) => partitions.get(t) ?? [])) {
        let lo = 0;
        let hi = p.runMax.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (p.runMax[mid]! < closeAt) lo = mid + 1;
          else hi = mid;
        }
        if (lo === p.runMax.length) {
          closer = undefined;
          break;
        }
        closer = { sent: Math.max(closer.sent, p.sent[lo]!), kafka: Math.max(closer.kafka, p.ts[lo]!) };
      }
      closers.set(closeAt, closer);
      return closer;
    };
    // The measure before issue 16: the first message of the families at or after end + grace.
    const feed = lines
      .filter((l) => families.includes(l.tag.family))
      .map((l) => ({ t: Date.parse(l.tag.observedAt), sentAt: l.sentAt }))
      .sort((a, b) => a.t - b.t);
    const suffixMin: number[] = new Array<number>(feed.length + 1).fill(Infinity);
    for (let i = feed.length - 1; i >= 0; i--) suffixMin[i] = Math.min(suffixMin[i + 1]!, feed[i]!.sentAt);
    const firstAtOrAfter = (t: number) => {
      let lo = 0;
      let hi = feed.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (feed[mid]!.t < t) lo = mid + 1;
        else hi = mid;
      }
      return suffixMin[lo]!;
    };
    const l: TopicLatencies = { ms: [], toKafkaMs: [], inStreamMs: [], fromFirstMs: [], idleClosed: 0 };
    for (const r of await read(topic as TopicName)) {
      const a = aggregateOf(r);
      if (a.revision !== 0) continue;
      const closeAt = Date.parse(a.windowEnd) + graceMs;
      const at = Number(r.message.timestamp);
      const closer = closerOf(closeAt);
      if (!closer || !Number.isFinite(closer.sent)) {
        l.idleClosed++;
        continue;
      }
      l.ms.push(at - closer.sent);
      l.toKafkaMs.push(closer.kafka - closer.sent);
      l.inStreamMs.push(at - closer.kafka);
      const first = firstAtOrAfter(closeAt);
      if (Number.isFinite(first)) l.fromFirstMs.push(at - first);
    }
    for (const xs of [l.ms, l.toKafkaMs, l.inStreamMs, l.fromFirstMs]) xs.sort((a, b) => a - b);
    out[topic] = l;
  }
  return out;
}

/** One run of the pipeline at a given speed; returns its figures. */
async function phase(SPEED: string): Promise<Record<string, unknown>> {
  const ep = {
    ...endpoints(),
    mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
  };
  const registry = generateRegistry({ seed: SEED, scale: 'city' });
  // The run's namespace, folder and services (test/setup/pipeline.ts): each service as its own principal.
  const cleanup = new Cleanup();
  const pipeline = await testPipeline({
    name: 'bench',
    cleanup,
    endpoints: ep,
    registry,
    processors: PROCESSORS,
    keepEnv: 'BENCH_KEEP',
    plan: { publishDelayHours: 0, idleFlushMs: 5_000, logLevel: 'warn' },
  });
  const { plan, dir, services } = pipeline;
  const { runId, registryFile } = plan;
  const kafka = createKafka({
    brokers: ep.kafkaBrokers,
    clientId: `${runId}-observer`,
    security: securityOf(ep),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // "Reached Kafka" is read from telemetry record timestamps: the broker's append time on this run's
    // topics (ingest stamps a record with its receive time, its `ingestedat`).
    await stampAppendTime(
      admin,
      TELEMETRY_TOPICS.map((t) => physical(plan, t)),
    );
    await pipeline.startAll(['ingest', 'processors', 'publisher', 'opendata-api']);
    say(
      `city registry: ${registry.equipment.length} equipment; simulating ${SIM_HOURS} h at speed ${SPEED}…`,
    );
    const record = path.join(dir, 'published.ndjson');
    const load0 = loadavg()[0]!;
    const sim = await pipeline.start('simulator', {
      env: {
        MQTT_URL: ep.mqttUrl,
        ...mqttEnv(plan, 'admin'),
        LOG_LEVEL: 'warn',
        SIM_TOPIC_PREFIX: plan.mqttPrefix,
        SIM_REGISTRY_FILE: registryFile,
        SIM_PRESET: 'city',
        SIM_SEED: String(SEED),
        SIM_START: new Date(FROM).toISOString(),
        SIM_DURATION: `${SIM_HOURS}h`,
        SIM_SPEED: SPEED,
        SIM_FAULTS: 'none',
        SIM_RECORD_FILE: record,
        SIM_CONNECTIONS: '4',
        SIM_MAX_INFLIGHT: '200',
        SIM_CLIENT_ID_PREFIX: `${runId}-sim`,
      },
    });
    const simEnd = await sim.handle.exited;
    if (simEnd.code !== 0)
      throw new Error(`simulator exited ${simEnd.code}: ${sim.handle.tail().join('\n')}`);
    const lines = readFileSync(record, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Published);
    const sent = lines.length;
    MSG_PER_SIM_S = sent / (SIM_HOURS * 3600);
    const t0 = Math.min(...lines.map((l) => l.sentAt));
    const tPublished = Math.max(...lines.map((l) => l.ackedAt));

    // Done when Kafka holds every message and every processor's group has consumed all of it.
    const telEnd = async () => {
      let total = 0;
      const ends = new Map<string, Map<number, string>>();
      for (const t of TELEMETRY_TOPICS) {
        const offs = await admin.fetchTopicOffsets(physical(plan, t));
        ends.set(physical(plan, t), new Map(offs.map((o) => [o.partition, o.high])));
        total += offs.reduce((s, o) => s + Number(o.high), 0);
      }
      return { total, ends };
    };
    let tIngested: number | undefined;
    let tDone: number | undefined;
    const deadline = Date.now() + 30 * 60_000;
    while (tDone === undefined && Date.now() < deadline) {
      const { total, ends } = await telEnd();
      if (total >= sent) {
        tIngested ??= Date.now();
        let caughtUp = true;
        for (const p of PROCESSORS) {
          const groupId = `ondijon-processors-${runId}.${p}`;
          const committed = await admin.fetchOffsets({
            groupId,
            topics: PROCESSOR_INPUTS[p]!.map((t) => physical(plan, t)),
          });
          for (const t of committed) {
            const end = ends.get(t.topic)!;
            for (const part of t.partitions)
              if (
                Number(end.get(part.partition) ?? 0) > 0 &&
                Number(part.offset) < Number(end.get(part.partition))
              )
                caughtUp = false;
          }
        }
        if (caughtUp) tDone = Date.now();
      }
      if (tDone === undefined) await new Promise((r) => setTimeout(r, 500));
    }
    if (tDone === undefined) throw new Error('the processors did not catch up within 30 min');

    const latencies = await windowLatencies(kafka, plan, lines);
    const all = Object.values(latencies)
      .flatMap((l) => l.ms)
      .sort((a, b) => a - b);
    const stages = {
      toKafka: Object.values(latencies)
        .flatMap((l) => l.toKafkaMs)
        .sort((a, b) => a - b),
      inStream: Object.values(latencies)
        .flatMap((l) => l.inStreamMs)
        .sort((a, b) => a - b),
      fromFirst: Object.values(latencies)
        .flatMap((l) => l.fromFirstMs)
        .sort((a, b) => a - b),
    };
    const rss: Record<string, number | null> = {};
    for (const s of services) rss[s.name] = s.peakRssKb();

    const report = {
      machine: { cpus: cpus().length, loadAvg1mAtStart: load0, loadAvg1mAtEnd: loadavg()[0] },
      fleet: {
        preset: 'city',
        equipment: registry.equipment.length,
        simulatedHours: SIM_HOURS,
        speed: SPEED,
        seed: SEED,
      },
      messages: sent,
      seconds: {
        publish: (tPublished - t0) / 1000,
        ingestedToKafka: ((tIngested ?? tDone) - t0) / 1000,
        processed: (tDone - t0) / 1000,
      },
      ratePerS: {
        publish: sent / ((tPublished - t0) / 1000),
        throughIngest: sent / (((tIngested ?? tDone) - t0) / 1000),
        throughPipeline: sent / ((tDone - t0) / 1000),
      },
      latencyMs: {
        measure: 'closing message published → aggregate in Kafka (first emissions; see windowLatencies)',
        windows: all.length,
        idleClosed: Object.values(latencies).reduce((n, l) => n + l.idleClosed, 0),
        p50: pct(all, 50),
        p95: pct(all, 95),
        p99: pct(all, 99),
        max: all.at(-1) ?? null,
        stages: {
          publishToKafka: { p50: pct(stages.toKafka, 50), p99: pct(stages.toKafka, 99) },
          kafkaToAggregate: { p50: pct(stages.inStream, 50), p99: pct(stages.inStream, 99) },
        },
        fromFirstMessage: {
          p50: pct(stages.fromFirst, 50),
          p99: pct(stages.fromFirst, 99),
          max: stages.fromFirst.at(-1) ?? null,
        },
        byTopic: Object.fromEntries(
          Object.entries(latencies).map(([t, l]) => [
            t,
            {
              windows: l.ms.length,
              idleClosed: l.idleClosed,
              p50: pct(l.ms, 50),
              p95: pct(l.ms, 95),
              p99: pct(l.ms, 99),
              max: l.ms.at(-1) ?? null,
            },
          ]),
        ),
      },
      peakRssMb: Object.fromEntries(
        Object.entries(rss).map(([k, v]) => [k, v === null ? null : Math.round(v / 1024)]),
      ),
    };
    print(report);
    return report;
  } finally {
    await admin.disconnect();
    // Services stopped, then the run's ACLs, topics, groups, Redis keys and folder removed (BENCH_KEEP keeps
    // the folder).
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench:e2e failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
