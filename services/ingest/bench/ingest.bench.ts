// `pnpm bench:ingest`: in one run, for each way of reaching the broker (BENCH_MQTT_MODES: password over
// plain TCP, password over TLS), (1) the bare MQTT QoS 1 rate — a subscriber process that acks each
// message at once — on the stack's broker (Artemis, journal synced before each PUBACK), (1b) the same
// bare subscriber on a Mosquitto the bench starts on a free port (persistence by periodic snapshot, the
// broker the stack used before: the price of durability), and (2) the ingest rate end to end — published
// → acknowledged by Kafka — with an
// ingest process (`node --max-semi-space-size=32 --import tsx services/ingest/src/main.ts`), p50/p99
// latency and peak RSS of both subscriber processes. Same publisher, same payloads, same message count. Prints a table and
// writes reports/bench-ingest.json. A measurement, not a test: it asserts nothing about speed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { endpoints as stackEndpoints, mqttCaFile, resolveConfig, stackMqttCredentials } from '@ondijon/stack';
import { eventId, telemetryTopic, topicList } from '@ondijon/contracts';
import { createKafka, provisionTopics, readAll } from '@ondijon/kafka';
import { endpoints } from '@ondijon/stack';
import { stampAppendTime } from '@ondijon/test-kit';
import { makeRegistry, payloadFor } from '../test/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// The local stack's endpoints and super user (KAFKA_BROKERS, MQTT_URL and KAFKA_SASL_* win); the ingest
// process it starts inherits the same credentials.
const stack = endpoints();
const KAFKA_BROKERS = stack.kafkaBrokers.join(',');
const MQTT_URL = stack.mqttUrl;
if (process.env.KAFKA_SASL_USERNAME === undefined && stack.kafkaSasl?.passwordFile !== undefined) {
  process.env.KAFKA_SASL_USERNAME = stack.kafkaSasl.username;
  process.env.KAFKA_SASL_PASSWORD_FILE = stack.kafkaSasl.passwordFile;
}
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? '30000');
/**
 * How clients reach the stack's broker, one bare + ingest pair per mode (BENCH_MQTT_MODES, default
 * `auth,tls`): `auth` is the plain-TCP listener with a password login (the stack's default), `tls` the
 * TLS listener (`mqtts://`, the stack's CA trusted through NODE_EXTRA_CA_CERTS for the child processes)
 * with the same login. The broker offers no listener without login, even for a bench; the anonymous
 * figure is the bench's own Mosquitto (BENCH_MOSQUITTO).
 */
const MODES = (process.env.BENCH_MQTT_MODES ?? 'auth,tls')
  .split(',')
  .map((m) => m.trim())
  .filter((m): m is 'auth' | 'tls' => m === 'auth' || m === 'tls');
const stackConfig = resolveConfig();
const TLS_URL = `mqtts://127.0.0.1:${stackConfig.mqttsPort}`;
const CA_FILE = mqttCaFile(stackConfig);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '32');
const WINDOW = Number(process.env.BENCH_PUBLISH_WINDOW ?? '1000');
const HTTP_PORT = Number(process.env.BENCH_HTTP_PORT ?? '19481');
/**
 * Messages each subscriber receives, uncounted, before the measured ones: the rate is the steady state,
 * not V8 warming up (ingest runs zod, kafkajs and the pipeline cold at first; the bare subscriber has
 * almost no code to warm). The same for both, so it slows neither.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? '5000');
/**
 * Node flags of the ingest process, as its `start` script runs it (services/ingest/package.json): a
 * 32 MiB semi-space, because ingest allocates a few KiB per message (kafkajs encoders, strings) and the
 * default young generation made scavenges ~11-15 % of its CPU. BENCH_INGEST_NODE_FLAGS overrides them.
 */
const INGEST_NODE_FLAGS = (process.env.BENCH_INGEST_NODE_FLAGS ?? '--max-semi-space-size=32')
  .split(' ')
  .filter(Boolean);
/** This checkout's ingest. */
const INGEST_MAIN = path.join(repoRoot, 'services/ingest/src/main.ts');
/**
 * Another checkout's ingest (`<checkout>/services/ingest/src/main.ts`, its dependencies installed), run
 * in the same period on the same broker, Kafka and messages: "does not regress" is a ratio measured in
 * one run. Each mode then has BENCH_PAIRS pairs (default 3), every other pair in reverse order (this,
 * baseline; baseline, this; …) so that a drift through the run is not charged to one of them.
 */
const BASELINE_MAIN = process.env.BENCH_BASELINE_INGEST;
const PAIRS = Number(process.env.BENCH_PAIRS ?? '3');

// On the local stack, the bench and the ingest it starts act as the stack's super user (Kafka SASL from
// .stack/secrets), unless the environment names a principal.
if (process.env.KAFKA_SASL_USERNAME === undefined) {
  const sasl = stackEndpoints().kafkaSasl;
  if (sasl !== undefined) {
    process.env.KAFKA_SASL_USERNAME = sasl.username;
    process.env.KAFKA_SASL_PASSWORD = sasl.password;
  }
}
const run = `bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const kafka = createKafka({ brokers: KAFKA_BROKERS.split(','), clientId: run });

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Peak resident set of a process (VmHWM), MiB; Linux only. */
function peakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used so far, s; Linux only. On a shared, loaded machine this
 * per-message cost is steadier than the rates, which also depend on what else runs. */
function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

function cpuUsPerMessage(before: number | null, after: number | null, messages: number): number | null {
  return before === null || after === null ? null : Math.round(((after - before) * 1e6) / messages);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A principal of the stack's broker: the env's MQTT_USERNAME/MQTT_PASSWORD for an external one. */
function auth(username: string): { username?: string; password?: string } {
  if (process.env.MQTT_USERNAME && process.env.MQTT_PASSWORD)
    return { username: process.env.MQTT_USERNAME, password: process.env.MQTT_PASSWORD };
  return stackMqttCredentials(username);
}

async function connectPublisher(
  url = MQTT_URL,
  credentials: { username?: string; password?: string } = auth('admin'),
): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId: `${run}-pub`,
    clean: true,
    ...credentials,
    ...(url.startsWith('mqtts:') ? { ca: readFileSync(CA_FILE) } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** Publishes at QoS 1 with at most WINDOW unacked; records when each message was handed to the client. */
async function publish(client: MqttClient, messages: Msg[], sentAt: Map<string, number>): Promise<void> {
  const pending = new Set<Promise<unknown>>();
  for (const m of messages) {
    sentAt.set(m.id, Date.now());
    const p = client.publishAsync(m.topic, m.payload, { qos: 1 });
    pending.add(p);
    void p.finally(() => pending.delete(p));
    if (pending.size >= WINDOW) await Promise.race(pending);
  }
  await Promise.all(pending);
}

/** One message to publish, with the event id ingest will give it. */
interface Msg {
  topic: string;
  payload: string;
  id: string;
}

function lines(child: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function bareRun(
  warmup: Msg[],
  messages: Msg[],
  prefix: string,
  url = MQTT_URL,
  credentials: { username?: string; password?: string } = auth('admin'),
) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'services/ingest/bench/bare-subscriber.ts')],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...(url.startsWith('mqtts:') ? { NODE_EXTRA_CA_CERTS: CA_FILE } : {}),
        MQTT_URL: url,
        MQTT_USERNAME: credentials.username ?? '',
        MQTT_PASSWORD: credentials.password ?? '',
        BENCH_WARMUP: String(warmup.length),
        BENCH_EXPECT: String(warmup.length + messages.length),
        BENCH_FILTER: `${prefix}#`,
        BENCH_CLIENT_ID: `${run}-bare`,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const out = lines(child);
  await out.next(); // subscribed
  const publisher = await connectPublisher(url, credentials);
  if (warmup.length > 0) {
    await publish(publisher, warmup, new Map());
    await out.next(); // warmed up
  }
  const sentAt = new Map<string, number>();
  const cpu0 = cpuSeconds(child.pid);
  const t0 = Date.now();
  let rss: number | null = null;
  let cpu1: number | null = null;
  const sampler = setInterval(() => {
    rss = peakRssMiB(child.pid) ?? rss;
    cpu1 = cpuSeconds(child.pid) ?? cpu1;
  }, 200);
  await publish(publisher, messages, sentAt);
  const published = Date.now();
  const done = JSON.parse((await out.next()).value as string) as {
    count: number;
    first: number;
    last: number;
    cpuSeconds?: number;
  };
  done.count -= warmup.length;
  clearInterval(sampler);
  cpu1 = done.cpuSeconds ?? cpu1;
  await publisher.endAsync();
  return {
    messages: messages.length,
    received: done.count,
    seconds: (done.last - t0) / 1000,
    publishSeconds: (published - t0) / 1000,
    ratePerS: done.count / ((done.last - t0) / 1000),
    peakRssMiB: rss,
    cpuUsPerMessage: cpuUsPerMessage(cpu0, cpu1, messages.length),
  };
}

async function ingestRun(
  warmup: Msg[],
  messages: Msg[],
  registryFile: string,
  mqttPrefix: string,
  kafkaPrefix: string,
  url = MQTT_URL,
  shareGroup = run,
  main = INGEST_MAIN,
) {
  const env = {
    ...process.env,
    ...(url.startsWith('mqtts:') ? { NODE_EXTRA_CA_CERTS: CA_FILE } : {}),
    KAFKA_BROKERS,
    MQTT_URL: url,
    MQTT_USERNAME: auth('ingest').username ?? '',
    MQTT_PASSWORD: auth('ingest').password ?? '',
    LOG_LEVEL: 'warn',
    INGEST_CONNECTIONS: String(CONNECTIONS),
    MQTT_SHARE_GROUP: shareGroup,
    MQTT_CLIENT_ID_PREFIX: `${run}-ing`,
    MQTT_SESSION_EXPIRY_S: '300',
    MQTT_TOPIC_PREFIX: mqttPrefix,
    KAFKA_TOPIC_PREFIX: kafkaPrefix,
    REGISTRY_FILE: registryFile,
    HTTP_PORT: String(HTTP_PORT),
  };
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
      ...INGEST_NODE_FLAGS,
      '--import',
      'tsx',
      main,
    ],
    { cwd: path.resolve(path.dirname(main), '../../..'), env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const readyBy = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${HTTP_PORT}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
    if (Date.now() > readyBy) {
      const why = res === undefined ? 'no answer' : await res.text();
      throw new Error(`ingest did not become ready within 60 s: ${why}`);
    }
    await sleep(200);
  }
  const admin = kafka.admin();
  await admin.connect();
  const telTopics = topicList
    .filter((t) => t.area === 'tel' || t.area === 'pii' || t.name === 'dlq.s3.ingest.v1')
    .map((t) => `${kafkaPrefix}${t.name}`);
  const count = async () => {
    let n = 0;
    for (const t of telTopics)
      for (const p of await admin.fetchTopicOffsets(t)) n += Number(p.high) - Number(p.low);
    return n;
  };
  const publisher = await connectPublisher(url);
  const start = await count();
  if (warmup.length > 0) {
    await publish(publisher, warmup, new Map());
    const warmBy = Date.now() + 120_000;
    while ((await count()) - start < warmup.length && Date.now() < warmBy) await sleep(50);
  }
  const before = await count();
  const sentAt = new Map<string, number>();
  let rss: number | null = null;
  const sampler = setInterval(() => (rss = peakRssMiB(child.pid) ?? rss), 200);
  const cpu0 = cpuSeconds(child.pid);
  const t0 = Date.now();
  await publish(publisher, messages, sentAt);
  const published = Date.now();
  const deadline = Date.now() + 300_000;
  while ((await count()) - before < messages.length && Date.now() < deadline) await sleep(100);
  const cpu1 = cpuSeconds(child.pid);
  clearInterval(sampler);
  rss = peakRssMiB(child.pid) ?? rss;
  await publisher.endAsync();
  // Latency: Kafka record timestamp (the broker's append time on the bench's topics, stampAppendTime) minus publish time.
  const ids = new Set<string>();
  const warmIds = new Set<string>();
  const latencies: number[] = [];
  let lastTs = 0;
  let dead = 0;
  for (const t of telTopics) {
    for (const r of await readAll(kafka, t, { timeoutMs: 120_000 })) {
      if (t.endsWith('dlq.s3.ingest.v1')) {
        dead += 1;
        continue;
      }
      const id = (JSON.parse(r.value ?? '{}') as { id: string }).id;
      const ts = Number(r.message.timestamp);
      const sent = sentAt.get(id);
      if (sent === undefined) {
        warmIds.add(id);
        continue;
      }
      if (!ids.has(id)) latencies.push(ts - sent);
      ids.add(id);
      lastTs = Math.max(lastTs, ts);
    }
  }
  await admin.disconnect();
  const metricsText = await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  latencies.sort((a, b) => a - b);
  const missing =
    messages.filter((m) => !ids.has(m.id)).length + warmup.filter((m) => !warmIds.has(m.id)).length;
  const received = /ondijon_ingest_messages_received_total (\d+)/.exec(metricsText)?.[1];
  return {
    messages: messages.length,
    uniqueInKafka: ids.size,
    missing,
    deadLetters: dead,
    warmup: warmup.length,
    /** Includes the warm-up messages. */
    mqttReceived: received === undefined ? null : Number(received),
    seconds: (lastTs - t0) / 1000,
    publishSeconds: (published - t0) / 1000,
    ratePerS: ids.size / ((lastTs - t0) / 1000),
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies.at(-1) ?? NaN,
    },
    peakRssMiB: rss,
    cpuUsPerMessage: cpuUsPerMessage(cpu0, cpu1, messages.length),
    connections: CONNECTIONS,
  };
}

/**
 * Runs `body` against a Mosquitto started for the bench on a free loopback port (anonymous, the
 * project's former broker tuning in infra/mosquitto/conf.d), then stops it; null when no `mosquitto`
 * binary is installed (BENCH_MOSQUITTO=0 skips it too).
 */
async function withMosquitto<T>(body: (url: string) => Promise<T>): Promise<T | null> {
  if (process.env.BENCH_MOSQUITTO === '0') return null;
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((b) => {
    try {
      execFileSync(b, ['-h'], { stdio: 'ignore' });
      return true;
    } catch (error) {
      return (error as { status?: number }).status !== undefined; // -h exits 3 but runs
    }
  });
  if (binary === undefined) return null;
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `persistence_location ${dir}/`,
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `include_dir ${path.join(repoRoot, 'infra', 'mosquitto', 'conf.d')}`,
      '',
    ].join('\n'),
  );
  const child = spawn(binary, ['-c', conf], { stdio: 'ignore' });
  try {
    const url = `mqtt://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i += 1) {
      const ok = await mqtt
        .connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 1_000 })
        .then((c) => c.endAsync().then(() => true))
        .catch(() => false);
      if (ok) break;
      await sleep(100);
    }
    return await body(url);
  } finally {
    child.kill('SIGTERM');
  }
}

/** One pair of ingest runs, this checkout's and the baseline's, on the same messages. */
interface BaselinePair {
  order: 'this-first' | 'baseline-first';
  thisRate: number;
  baselineRate: number;
  /** This rate over the baseline's: ≥ 1 when this ingest is as fast. */
  rateRatio: number;
  /** Baseline CPU per message over this one's: ≥ 1 when this ingest costs no more. */
  cpuRatio: number;
  lost: number;
}

/** BENCH_PAIRS pairs of (this ingest, baseline ingest) for a mode, each run on fresh topics and prefixes. */
async function againstBaseline(
  mode: 'auth' | 'tls',
  url: string,
  admin: ReturnType<typeof kafka.admin>,
  build: (prefix: string) => Msg[],
  registryFile: string,
): Promise<BaselinePair[]> {
  const pairs: BaselinePair[] = [];
  const one = async (which: 'this' | 'baseline', k: number) => {
    const mqttPrefix = `bench/${run}-${mode}-${which}${k}/`;
    const kafkaPrefix = `${run}-${mode}-${which}${k}.`;
    const all = build(mqttPrefix);
    const specs = topicList.map((t) => ({ ...t, name: `${kafkaPrefix}${t.name}` }));
    await provisionTopics(admin, specs, { replicationFactor: 1 });
    await stampAppendTime(
      admin,
      specs.filter((t) => t.area === 'tel' || t.area === 'pii').map((t) => t.name),
    );
    try {
      return await ingestRun(
        all.slice(0, WARMUP),
        all.slice(WARMUP),
        registryFile,
        mqttPrefix,
        kafkaPrefix,
        url,
        `${run}-${mode}-${which}${k}`,
        which === 'this' ? INGEST_MAIN : BASELINE_MAIN!,
      );
    } finally {
      await admin.deleteTopics({ topics: specs.map((t) => t.name), timeout: 30_000 }).catch(() => undefined);
    }
  };
  for (let k = 0; k < PAIRS; k++) {
    const order = k % 2 === 0 ? (['this', 'baseline'] as const) : (['baseline', 'this'] as const);
    const r: Partial<Record<'this' | 'baseline', Awaited<ReturnType<typeof ingestRun>>>> = {};
    for (const which of order) r[which] = await one(which, k);
    const a = r.this!;
    const b = r.baseline!;
    pairs.push({
      order: k % 2 === 0 ? 'this-first' : 'baseline-first',
      thisRate: a.ratePerS,
      baselineRate: b.ratePerS,
      rateRatio: a.ratePerS / b.ratePerS,
      cpuRatio: (b.cpuUsPerMessage ?? Number.NaN) / (a.cpuUsPerMessage ?? Number.NaN),
      lost: a.missing + b.missing,
    });
    console.log(
      `  ${mode} pair ${k + 1}/${PAIRS} (${order.join(', ')}): this ${a.ratePerS.toFixed(0)} msg/s, ${a.cpuUsPerMessage} µs/msg; baseline ${b.ratePerS.toFixed(0)} msg/s, ${b.cpuUsPerMessage} µs/msg`,
    );
  }
  return pairs;
}

async function main(): Promise<void> {
  const registry = makeRegistry(`b${randomBytes(3).toString('hex')}`, 50);
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-ingest-'));
  const registryFile = path.join(dir, 'equipment.json');
  writeFileSync(registryFile, JSON.stringify(registry));
  const admin = kafka.admin();
  await admin.connect();

  const build = (prefix: string) =>
    Array.from({ length: WARMUP + MESSAGES }, (_, i) => {
      const e = registry.equipment[i % registry.equipment.length]!;
      const seq = Math.floor(i / registry.equipment.length);
      return {
        topic: `${prefix}${telemetryTopic(e.family, e.operator, e.equipmentId)}`,
        payload: JSON.stringify(payloadFor(e.family, seq)),
        id: eventId(e.equipmentId, seq),
      };
    });

  console.log(
    `ingest bench: ${MESSAGES} messages after ${WARMUP} uncounted warm-up ones, ${CONNECTIONS} ingest connections, publish window ${WINDOW}, ${cpus().length} cores`,
  );
  type Row = string[];
  const rows: Row[] = [
    ['run', 'messages', 'delivered', 'seconds', 'msg/s', 'p50 ms', 'p99 ms', 'peak RSS MiB', 'CPU µs/msg'],
  ];
  const bareRow = (label: string, r: Awaited<ReturnType<typeof bareRun>>): Row => [
    label,
    String(r.messages),
    String(r.received),
    r.seconds.toFixed(2),
    r.ratePerS.toFixed(0),
    '-',
    '-',
    String(r.peakRssMiB ?? '?'),
    String(r.cpuUsPerMessage ?? '?'),
  ];
  const baselinePairs: Record<string, BaselinePair[]> = {};
  const byMode: Record<
    string,
    {
      url: string;
      bare: Awaited<ReturnType<typeof bareRun>>;
      ingest: Awaited<ReturnType<typeof ingestRun>>;
      ratio: number;
    }
  > = {};
  // One bare + ingest pair per mode, each on its own topics and Kafka namespace.
  for (const mode of MODES) {
    const url = mode === 'tls' ? TLS_URL : MQTT_URL;
    const barePrefix = `bench/${run}-${mode}-bare/`;
    const ingestPrefix = `bench/${run}-${mode}-ingest/`;
    const bareAll = build(barePrefix);
    const ingestAll = build(ingestPrefix);
    const bare = await bareRun(bareAll.slice(0, WARMUP), bareAll.slice(WARMUP), barePrefix, url);
    const modeKafkaPrefix = `${run}-${mode}.`;
    const modeSpecs = topicList.map((t) => ({ ...t, name: `${modeKafkaPrefix}${t.name}` }));
    await provisionTopics(admin, modeSpecs, { replicationFactor: 1 });
    // Latency is read from record timestamps: the broker's append time on the bench's telemetry topics
    // (ingest stamps a record with its receive time, its `ingestedat`).
    await stampAppendTime(
      admin,
      modeSpecs.filter((t) => t.area === 'tel' || t.area === 'pii').map((t) => t.name),
    );
    const ingest = await ingestRun(
      ingestAll.slice(0, WARMUP),
      ingestAll.slice(WARMUP),
      registryFile,
      ingestPrefix,
      modeKafkaPrefix,
      url,
      `${run}-${mode}`,
    );
    await admin
      .deleteTopics({ topics: modeSpecs.map((t) => t.name), timeout: 30_000 })
      .catch(() => undefined);
    byMode[mode] = { url, bare, ingest, ratio: ingest.ratePerS / bare.ratePerS };
    const what = mode === 'tls' ? 'TLS + password' : 'password';
    rows.push(bareRow(`bare MQTT QoS 1, Artemis, ${what}`, bare));
    rows.push([
      `ingest → Kafka, ${what}`,
      String(ingest.messages),
      String(ingest.uniqueInKafka),
      ingest.seconds.toFixed(2),
      ingest.ratePerS.toFixed(0),
      String(ingest.latencyMs.p50),
      String(ingest.latencyMs.p99),
      String(ingest.peakRssMiB ?? '?'),
      String(ingest.cpuUsPerMessage ?? '?'),
    ]);
    if (BASELINE_MAIN !== undefined)
      baselinePairs[mode] = await againstBaseline(mode, url, admin, build, registryFile);
  }
  const bareAllMosquitto = build(`bench/${run}-mosquitto-bare/`);
  const mosquitto = await withMosquitto((url) =>
    bareRun(
      bareAllMosquitto.slice(0, WARMUP),
      bareAllMosquitto.slice(WARMUP),
      `bench/${run}-mosquitto-bare/`,
      url,
      {},
    ),
  );
  if (mosquitto !== null)
    rows.push(bareRow('bare MQTT QoS 1, Mosquitto, anonymous (no login, no TLS)', mosquitto));
  const first = byMode[MODES[0] ?? 'auth']!;
  const { bare, ingest, ratio } = first;

  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  for (const [mode, r] of Object.entries(byMode))
    console.log(
      `ratio ingest/bare, ${mode === 'tls' ? 'TLS + password' : 'password'}: ${(r.ratio * 100).toFixed(1)} % (target ≥ 50 %), lost: ${r.ingest.missing}, dead letters: ${r.ingest.deadLetters}`,
    );
  if (byMode.auth && byMode.tls)
    console.log(
      `TLS / plain TCP (both with login): bare ${((byMode.tls.bare.ratePerS / byMode.auth.bare.ratePerS) * 100).toFixed(1)} %, ingest ${((byMode.tls.ingest.ratePerS / byMode.auth.ingest.ratePerS) * 100).toFixed(1)} %`,
    );
  if (mosquitto !== null)
    console.log(
      `ingest / bare Mosquitto: ${((ingest.ratePerS / mosquitto.ratePerS) * 100).toFixed(1)} %; bare Artemis / bare Mosquitto: ${((bare.ratePerS / mosquitto.ratePerS) * 100).toFixed(1)} % (the price of a synced journal and a login)`,
    );
  for (const [mode, pairs] of Object.entries(baselinePairs)) {
    const ratios = pairs.map((p) => p.rateRatio).sort((a, b) => a - b);
    const cpu = pairs.map((p) => p.cpuRatio).sort((a, b) => a - b);
    console.log(
      `${mode}: this / baseline ingest, ${pairs.length} pairs: rate ${pairs.map((p) => `${p.thisRate.toFixed(0)}/${p.baselineRate.toFixed(0)}`).join(', ')} msg/s, ratios ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}); CPU µs/msg baseline/this ${cpu.map((r) => r.toFixed(2)).join(', ')} (median ${cpu[Math.floor(cpu.length / 2)]!.toFixed(2)}); lost ${pairs.reduce((n, p) => n + p.lost, 0)}`,
    );
  }
  console.log(
    `load average: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  const report = {
    bench: 'ingest',
    at: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      node: process.version,
      loadAverage1m: loadavg()[0],
    },
    settings: {
      messages: MESSAGES,
      warmup: WARMUP,
      connections: CONNECTIONS,
      publishWindow: WINDOW,
      modes: MODES,
    },
    bare,
    bareMosquitto: mosquitto,
    ingest,
    ratio,
    modes: byMode,
    baseline: BASELINE_MAIN === undefined ? null : { main: BASELINE_MAIN, pairs: baselinePairs },
    ratioToMosquitto: mosquitto === null ? null : ingest.ratePerS / mosquitto.ratePerS,
    target: { ratio: 0.5, loss: 0 },
    meetsTarget: Object.values(byMode).every((r) => r.ratio >= 0.5 && r.ingest.missing === 0),
  };
  mkdirSync(path.join(repoRoot, 'reports'), { recursive: true });
  writeFileSync(path.join(repoRoot, 'reports', 'bench-ingest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log('wrote reports/bench-ingest.json');

  // The bench's own topics went away after each mode; the report keeps the figures.
  await admin.disconnect();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
