// End-to-end benchmark (`pnpm bench:e2e`): the city-scale fleet through MQTT → ingest → Kafka →
// processors → aggregates, every service a child process as in production. Measures the sustained
// rate through the whole pipeline, the latency from publish to aggregate emitted, and each service's
// peak memory; prints a table and writes reports/bench-e2e.json. Two phases: saturation (unpaced: the
// rate through the pipeline is its capacity) and paced at half that rate (latency without a backlog).
// Needs nothing running (starts the stack if needed). Not a test: no assertions. Knobs:
// BENCH_SIM_HOURS (default 2), BENCH_SPEED (paced phase, simulated s per wall s), BENCH_SEED.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { decodeRecordValue, generateRegistry, type TopicName } from '@ondijon/contracts';
import { createKafka } from '@ondijon/kafka';
import {
  endpoints,
  securityOf,
  serviceSecretEnvs,
  stackMqttCredentials,
  stackProvision,
  stackUp,
} from '@ondijon/stack';
import { Redis } from 'ioredis';
import {
  freePort,
  mqttEnv,
  physical,
  type PipelinePlan,
  plannedTopics,
  REPO_ROOT,
  serviceEntry,
  serviceEnvs,
  type ServiceHandle,
  startService,
  stopAll,
  waitHttpOk,
} from '@ondijon/devstack';

const SEED = Number(process.env.BENCH_SEED ?? 7);
const SIM_HOURS = Number(process.env.BENCH_SIM_HOURS ?? 2);
/** Speed of the latency phase; default: half the rate the saturation phase sustained. */
const PACED_SPEED = process.env.BENCH_SPEED;
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
const TELEMETRY: TopicName[] = [
  'tel.s1.lighting.v1',
  'tel.s2.lighting.v1',
  'tel.s1.traffic.v1',
  'tel.s1.winter.v1',
  'tel.s2.winter.v1',
  'pii.s3.winter.v1',
];
/** Aggregate topic → families feeding it and the processor's grace (services/processors definitions). */
const AGGREGATES: Record<string, { families: string[]; graceMs: number }> = {
  'agg.s1.lighting-commune-hour.v1': { families: ['streetlight', 'lighting-cabinet'], graceMs: 5 * 60_000 },
  'agg.s1.traffic-flow.v1': { families: ['traffic-detector'], graceMs: 5 * 60_000 },
  'agg.s1.signal-status.v1': { families: ['signal-controller'], graceMs: 5 * 60_000 },
  'agg.s2.winter-commune-day.v1': { families: ['winter-vehicle', 'weather-station'], graceMs: 30 * 60_000 },
};

const say = (line = '') => process.stdout.write(`${line}\n`);

interface PhaseReport {
  fleet: { speed: string };
  messages: number;
  seconds: { publish: number; ingestedToKafka: number; processed: number };
  ratePerS: { publish: number; throughIngest: number; throughPipeline: number };
  latencyMs: {
    windows: number;
    p50: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
    byTopic: Record<string, { windows: number; p50: number | null; p95: number | null; max: number | null }>;
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
  say(
    `  publish → aggregate emitted   p50 ${r.latencyMs.p50} ms · p95 ${r.latencyMs.p95} ms · p99 ${r.latencyMs.p99} ms · max ${r.latencyMs.max} ms (${r.latencyMs.windows} windows)`,
  );
  for (const [t, l] of Object.entries(r.latencyMs.byTopic))
    say(`    ${t.padEnd(34)} p50 ${l.p50} ms · p95 ${l.p95} ms (${l.windows} windows)`);
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
  // Saturation: the simulator publishes as fast as it can; the rate through the pipeline is its capacity.
  const saturation = (await phase('max')) as unknown as PhaseReport;
  // Latency at load: paced below capacity, so latency is the pipeline's, not a queue's.
  const speed =
    PACED_SPEED ??
    String(Math.max(1, Math.round((0.5 * saturation.ratePerS.throughPipeline) / MSG_PER_SIM_S)));
  const paced = (await phase(speed)) as unknown as PhaseReport;
  const report = { when: new Date().toISOString(), command: 'pnpm bench:e2e', saturation, paced };
  mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-e2e.json'), `${JSON.stringify(report, null, 2)}\n`);
  say('');
  say('wrote reports/bench-e2e.json');
}
/** Messages per simulated second of the city fleet (set by the saturation phase). */
let MSG_PER_SIM_S = 13.5;
const pct = (xs: number[], p: number) =>
  xs.length === 0 ? null : xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** One run of the pipeline at a given speed; returns its figures. */
async function phase(SPEED: string): Promise<Record<string, unknown>> {
  const ep = {
    ...endpoints(),
    mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
  };
  const runId = `bench${Date.now().toString(36)}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'ondijon-bench-e2e-'));
  const registry = generateRegistry({ seed: SEED, scale: 'city' });
  const registryFile = path.join(dir, 'registry.json');
  writeFileSync(registryFile, JSON.stringify(registry));
  const plan: PipelinePlan = {
    topicPrefix: `${runId}.`,
    mqttPrefix: `${runId}/`,
    runId,
    registryFile,
    opendataDir: path.join(dir, 'opendata'),
    publisherStateDir: path.join(dir, 'publisher'),
    ports: {
      ingest: await freePort(),
      processors: await freePort(),
      publisher: await freePort(),
      api: await freePort(),
    },
    endpoints: ep,
    secrets: serviceSecretEnvs(),
    publishDelayHours: 0,
    idleFlushMs: 5_000,
    logLevel: 'warn',
  };
  const topics = plannedTopics(plan);
  await stackProvision({ namespace: plan.topicPrefix });
  const kafka = createKafka({
    brokers: ep.kafkaBrokers,
    clientId: `${runId}-observer`,
    security: securityOf(ep),
  });
  const admin = kafka.admin();
  await admin.connect();
  const services: ServiceHandle[] = [];
  const envs = serviceEnvs(plan);
  const probe = {
    ingest: plan.ports.ingest,
    processors: plan.ports.processors,
    publisher: plan.ports.publisher,
    'opendata-api': plan.ports.api,
  };
  try {
    for (const name of ['ingest', 'processors', 'publisher', 'opendata-api'] as const) {
      const s = startService(name, serviceEntry(name), {
        env: envs[name],
        logFile: path.join(dir, `${name}.log`),
      });
      services.push(s);
      await waitHttpOk(`http://127.0.0.1:${probe[name]}/readyz`, 90_000, s);
    }
    say(
      `city registry: ${registry.equipment.length} equipment; simulating ${SIM_HOURS} h at speed ${SPEED}…`,
    );
    const record = path.join(dir, 'published.ndjson');
    const load0 = loadavg()[0]!;
    const sim = startService('simulator', serviceEntry('simulator'), {
      logFile: path.join(dir, 'simulator.log'),
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
    services.push(sim);
    const simEnd = await sim.exited;
    if (simEnd.code !== 0) throw new Error(`simulator exited ${simEnd.code}: ${sim.tail().join('\n')}`);
    const lines = readFileSync(record, 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            topic: string;
            payload: string;
            tag: { family: string; observedAt: string };
            sentAt: number;
            ackedAt: number;
          },
      );
    const sent = lines.length;
    MSG_PER_SIM_S = sent / (SIM_HOURS * 3600);
    const t0 = Math.min(...lines.map((l) => l.sentAt));
    const tPublished = Math.max(...lines.map((l) => l.ackedAt));

    // Done when Kafka holds every message and every processor's group has consumed all of it.
    const telEnd = async () => {
      let total = 0;
      const ends = new Map<string, Map<number, string>>();
      for (const t of TELEMETRY) {
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

    // Latency publish → aggregate emitted: from the send of the first message that let a window close
    // (event time ≥ window end + grace) to the aggregate's Kafka timestamp. Windows closed by the idle
    // flush (nothing after them) are left out.
    const latencies: Record<string, number[]> = {};
    for (const [topic, { families, graceMs }] of Object.entries(AGGREGATES)) {
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
      const out: number[] = [];
      const consumer = kafka.consumer({ groupId: `${runId}-lat-${topic}` });
      const offs = await admin.fetchTopicOffsets(physical(plan, topic as TopicName));
      const target = offs.reduce((s, o) => s + Number(o.high), 0);
      let seen = 0;
      await consumer.connect();
      await consumer.subscribe({ topic: physical(plan, topic as TopicName), fromBeginning: true });
      await new Promise<void>((resolve) => {
        if (target === 0) return resolve();
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen++;
            const v = decodeRecordValue(message.headers, message.value, topic) as {
              data: { windowEnd: string; revision: number };
            };
            const closer = firstAtOrAfter(Date.parse(v.data.windowEnd) + graceMs);
            if (v.data.revision === 0 && Number.isFinite(closer))
              out.push(Number(message.timestamp) - closer);
            if (seen >= target) resolve();
          },
        });
      });
      await consumer.disconnect();
      await admin.deleteGroups([`${runId}-lat-${topic}`]).catch(() => undefined);
      latencies[topic] = out.sort((a, b) => a - b);
    }
    const all = Object.values(latencies)
      .flat()
      .sort((a, b) => a - b);
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
        windows: all.length,
        p50: pct(all, 50),
        p95: pct(all, 95),
        p99: pct(all, 99),
        max: all.at(-1) ?? null,
        byTopic: Object.fromEntries(
          Object.entries(latencies).map(([t, xs]) => [
            t,
            { windows: xs.length, p50: pct(xs, 50), p95: pct(xs, 95), max: xs.at(-1) ?? null },
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
    await stopAll(services, 15_000);
    await admin.deleteTopics({ topics: topics.map((t) => t.name) }).catch(() => undefined);
    await admin
      .deleteGroups([
        `ondijon-publisher-${runId}`,
        ...PROCESSORS.map((p) => `ondijon-processors-${runId}.${p}`),
      ])
      .catch(() => undefined);
    await admin.disconnect();
    const redis = new Redis(ep.redisUrl);
    // SCAN, not KEYS (test/setup's helper imports vitest, which a plain script cannot).
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `processors:stream:${runId}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
    if (!process.env.BENCH_KEEP) await rm(dir, { recursive: true, force: true });
    else say(`kept ${dir}`);
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
