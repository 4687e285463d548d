// The independent clients of the fault tests, driven from TypeScript (one driver for every package's
// tests): paho-mqtt publishes and records which messages its PUBACK acknowledged
// (packages/test-kit/independent/mqtt_publish.py), confluent-kafka reads back the event ids that reached
// Kafka (packages/test-kit/independent/kafka_ids.py). Neither is the project's code, so what they count is
// evidence. Both are installed from PyPI by `./ondijon test` (CONTRIBUTING.md, "Testing").
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const scripts = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'independent');
const PUBLISH = path.join(scripts, 'mqtt_publish.py');
const KAFKA_IDS = path.join(scripts, 'kafka_ids.py');

/** One message for the independent publisher: MQTT topic, payload text, and the event id it carries. */
export interface IndependentMessage {
  topic: string;
  payload: string;
  id: string;
}

/** Writes the messages as the independent publisher reads them (JSON lines). */
export function writeIndependentMessages(file: string, messages: readonly IndependentMessage[]): void {
  writeFileSync(file, `${messages.map((m) => JSON.stringify(m)).join('\n')}\n`);
}

/** Options of `startIndependentPublisher`. */
export interface IndependentPublisherOptions {
  /** `mqtt://host:port` of the broker. */
  mqttUrl: string;
  username: string;
  password: string;
  /** JSON lines written by `writeIndependentMessages`. */
  messagesFile: string;
  /** Where the ids of acknowledged messages are appended, one a line. */
  ackedFile: string;
  /** Most unacknowledged publishes (default 200). */
  maxInflight?: number;
  /** Messages per second (default 0: as fast as acknowledgements allow). */
  rate?: number;
  /** Messages per second after SIGUSR1, until SIGUSR2 restores `rate` (default 2). */
  trickle?: number;
  /** Other brokers (`host:port`) to go to in turn when a connection drops or cannot be made. */
  failover?: readonly string[];
}

/** A running independent publisher. */
export interface IndependentPublisher {
  process: ChildProcess;
  /** Resolves with its output once it has every message acknowledged; rejects if it exits otherwise. */
  done: Promise<string>;
  /** What it printed so far (`connected HOST:PORT` at each connection, `acked N` every 1 000). */
  output: () => string;
}

/** Starts the paho publisher. */
export function startIndependentPublisher(o: IndependentPublisherOptions): IndependentPublisher {
  const url = new URL(o.mqttUrl);
  const child = spawn(
    'python3',
    [
      PUBLISH,
      url.hostname,
      url.port,
      o.username,
      o.messagesFile,
      o.ackedFile,
      String(o.maxInflight ?? 200),
      String(o.rate ?? 0),
      String(o.trickle ?? 2),
      ...(o.failover ?? []).flatMap((s) => ['--server', s]),
    ],
    // The password in the environment: a command line is visible to every user (`ps`), and a generated
    // password starting with '-' was taken for an option by argparse (a CI run failed so).
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MQTT_PASSWORD: o.password } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<string>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`publisher exited ${code}: ${out}`)),
    ),
  );
  return { process: child, done, output: () => out };
}

/** Ids the publisher has had acknowledged so far (in acknowledgement order). */
export function ackedIds(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** What confluent-kafka read: records and event ids per topic, and over all topics. */
export interface IndependentRead {
  byTopic: Record<string, { records: number; ids: (string | null)[] }>;
  /** Every event id read (a duplicate appears as often as it is stored). */
  ids: string[];
  /** Records read over all topics. */
  records: number;
}

/**
 * Reads every record of `topics` from the beginning (read_committed) with confluent-kafka, as the
 * principal of the environment's `KAFKA_SASL_*` (the global setup's super user).
 */
export async function independentIds(
  brokers: readonly string[],
  topics: readonly string[],
): Promise<IndependentRead> {
  const { stdout } = await execFileAsync('python3', [KAFKA_IDS, brokers.join(','), ...topics], {
    maxBuffer: 64 * 1024 * 1024,
    env: process.env,
  });
  const byTopic = JSON.parse(stdout) as IndependentRead['byTopic'];
  const all = Object.values(byTopic);
  return {
    byTopic,
    ids: all.flatMap((t) => t.ids.filter((id): id is string => id !== null)),
    records: all.reduce((n, t) => n + t.records, 0),
  };
}
