// `pnpm bench:bytes`: bytes per telemetry reading at each hop, for each family, in the same run for the
// former structured CloudEvents envelope and the binary content mode (docs/architecture.md, "Record
// format"):
// - MQTT: payload (and topic) as the simulator's equipment publish them;
// - Kafka record as ingest writes it: key + headers (names and values) + value;
// - Kafka on disk: the records produced to fresh one-partition topics on the stack's broker (batches of
//   BENCH_BATCH records, as ingest's batching producer sends them under load), the size of the topic's
//   log segment files, without compression, with kafkajs' built-in gzip, and with the broker's
//   `compression.type` (lz4, zstd, gzip: the broker compresses what the producer sent uncompressed);
//   producer and broker CPU per reading for each.
// - Kafka on disk per registry topic: the structured format, binary mode uncompressed (before
//   KAFKA_COMPRESSION) and binary mode with gzip by the producer (ingest's default since), for 1, 10,
//   50 and 500 records per request (BENCH_TOPIC_BATCHES): what compression saves depends on it.
// - The lineage registry topic (ref.s0.lineage.v1): binary-mode records carry their lineage as a key of
//   it (`ce_lineageref`); its entries (one per distinct lineage, key + value) are counted once and shown
//   per binary reading, not added to the per-topic figures (a compacted topic, written once per lineage).
// - Redis window state per equipment-window of each built-in processor, and open-data CSV bytes per row
//   and per reading of each dataset, from the same binary readings (state-bytes.ts). BENCH_STATE=0 skips them.
// Prints a table and writes reports/bench-bytes.json.
import { readdirSync, readFileSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { decodeRecordValue, FAMILIES, telemetryTopic, type Family } from '@ondijon/contracts';
import { endpoints } from '@ondijon/stack';
import {
  createTestTopic,
  deleteTopics,
  provideTestEndpoints,
  testKafka,
  uniqueName,
} from '@ondijon/test-kit';
import { CompressionTypes } from 'kafkajs';
import { loadIngestPolicy } from '../src/governance';
import { processMessage, SequenceMemory, type PipelineContext } from '../src/pipeline';
import { indexRegistry } from '../src/registry';
import { makeRegistry, payloadFor } from '../test/fixtures';
import { message, openDataRows, redisState } from './state-bytes';

const PER_EQUIPMENT = Number(process.env.BENCH_READINGS ?? 200);
const EQUIPMENT_PER_FAMILY = Number(process.env.BENCH_EQUIPMENT ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
/** Records per produce request for the per-topic table (ingest's batches hold from one record to 500). */
const TOPIC_BATCHES = (process.env.BENCH_TOPIC_BATCHES ?? '1,10,50,500').split(',').map(Number);
/** Most records per topic and batch size produced for the per-topic table (small batches are slow to send). */
const TOPIC_RECORDS_SMALL_BATCH = 200;
type Mode = 'structured' | 'binary';
const MODES: Mode[] = ['structured', 'binary'];

interface Rec {
  family: Family;
  /** Registry topic ingest writes it to. */
  topic: string;
  mqttTopic: number;
  mqttPayload: number;
  key: string;
  value: string;
  headers: Readonly<Record<string, string>>;
  /** Record timestamp (binary mode: `ingestedat`, which then has no header). */
  timestamp?: string;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
/** The lineage registry entries the binary records reference (key → value). */
const lineageEntries = new Map<string, string>();
const headerBytes = (h: Readonly<Record<string, string>>) =>
  Object.entries(h).reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0);

function records(mode: Mode): Rec[] {
  const registry = makeRegistry('bytes', EQUIPMENT_PER_FAMILY);
  const { policy } = loadIngestPolicy('');
  // Readings of the last hours, so the record timestamps (ingest sets them to `ingestedat`) are recent
  // for the broker's retention, as ingest's are.
  const start = Math.floor(Date.now() / 3_600_000) * 3_600_000 - (PER_EQUIPMENT + 60) * 60_000;
  let clock = start;
  const ctx: PipelineContext = {
    registry: indexRegistry(registry),
    policy,
    mqttTopicPrefix: '',
    maxPayloadBytes: 65_536,
    maxFutureSkewMs: 60_000,
    maxPastAgeMs: 400 * 86_400_000,
    sequences: new SequenceMemory(),
    contentMode: mode,
    now: () => new Date(clock),
  };
  const out: Rec[] = [];
  // Time order, every equipment reporting each round, as on the wire.
  for (let seq = 1; seq <= PER_EQUIPMENT; seq++) {
    for (const e of registry.equipment) {
      clock = start + seq * 60_000 + 500;
      const topic = telemetryTopic(e.family, e.operator, e.equipmentId);
      const payload = Buffer.from(
        JSON.stringify({
          ...payloadFor(e.family, seq),
          observedAt: new Date(start + seq * 60_000).toISOString(),
        }),
      );
      const r = processMessage(ctx, { topic, payload });
      if (r.kind !== 'accepted') continue;
      if (r.record.lineage !== undefined) lineageEntries.set(r.record.lineage.ref, r.record.lineage.text);
      out.push({
        family: e.family,
        topic: r.record.topic,
        mqttTopic: bytes(topic),
        mqttPayload: payload.length,
        key: r.record.key,
        value: r.record.value,
        headers: r.record.headers,
        ...(r.record.timestamp === undefined ? {} : { timestamp: r.record.timestamp }),
      });
    }
  }
  return out;
}

/**
 * Stops the bench unless every binary record decodes (headers, value, key and timestamp, as a reader
 * does) to the very event of its structured twin: the bytes compared carry the same information.
 */
function sameInformation(structured: readonly Rec[], binary: readonly Rec[]): void {
  if (structured.length !== binary.length) throw new Error('structured and binary runs differ in length');
  for (let i = 0; i < binary.length; i++) {
    const b = binary[i]!;
    const back = JSON.stringify(decodeRecordValue(b.headers, b.value, b.topic, true, b));
    const want = JSON.stringify(JSON.parse(structured[i]!.value));
    if (back !== want)
      throw new Error(`binary record ${i} (${b.topic}) does not decode to its structured event`);
  }
}

/** CPU time of a process (user + system, µs) from /proc, or NaN. */
function procCpuUs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return Number.NaN;
  }
}

function brokerPid(stackDir: string): number | undefined {
  try {
    return (
      JSON.parse(readFileSync(path.join(stackDir, 'kafka', 'node-1', 'kafka.pid.json'), 'utf8')) as {
        pid: number;
      }
    ).pid;
  } catch {
    return undefined;
  }
}

/** Bytes of the topic's log segments (all partitions) in the broker's data directory. */
function onDisk(stackDir: string, topic: string): number {
  const data = path.join(stackDir, 'kafka', 'node-1', 'data');
  let n = 0;
  for (const d of readdirSync(data)) {
    if (!d.startsWith(`${topic}-`) || !/-\d+$/.test(d)) continue;
    for (const f of readdirSync(path.join(data, d)))
      if (f.endsWith('.log')) n += statSync(path.join(data, d, f)).size;
  }
  return n;
}

const topicsOf = (rs: readonly Rec[]) => [...new Set(rs.map((r) => r.topic))].sort();

/** The per-topic table's columns: the structured format, today's binary mode, and binary mode with gzip. */
const TOPIC_VARIANTS: [name: string, mode: Mode, codec: CompressionTypes][] = [
  ['structured', 'structured', CompressionTypes.None],
  ['binary (today)', 'binary', CompressionTypes.None],
  ['binary + gzip (after)', 'binary', CompressionTypes.GZIP],
];

interface Variant {
  name: string;
  producer: CompressionTypes;
  broker: string;
}
const VARIANTS: Variant[] = [
  { name: 'none', producer: CompressionTypes.None, broker: 'producer' },
  { name: 'gzip (producer)', producer: CompressionTypes.GZIP, broker: 'producer' },
  { name: 'lz4 (broker)', producer: CompressionTypes.None, broker: 'lz4' },
  { name: 'zstd (broker)', producer: CompressionTypes.None, broker: 'zstd' },
  { name: 'gzip (broker)', producer: CompressionTypes.None, broker: 'gzip' },
];

async function main(): Promise<void> {
  provideTestEndpoints({ ...endpoints(), mqttUsers: {}, source: 'script' });
  const stackDir = path.resolve(process.env.ONDIJON_STACK_DIR ?? '.stack');
  const kafka = testKafka(uniqueName('bench-bytes'));
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const pid = brokerPid(stackDir);
  const created: string[] = [];
  const perMode = new Map<Mode, Rec[]>(MODES.map((m) => [m, records(m)]));
  sameInformation(perMode.get('structured')!, perMode.get('binary')!);
  const families = FAMILIES.filter((f) => perMode.get('binary')!.some((r) => r.family === f));

  const hop: Record<string, Record<Mode, Record<string, number>>> = {};
  for (const f of [...families, 'all'] as const) {
    hop[f] = {} as Record<Mode, Record<string, number>>;
    for (const m of MODES) {
      const rs = perMode.get(m)!.filter((r) => f === 'all' || r.family === f);
      const avg = (g: (r: Rec) => number) => rs.reduce((n, r) => n + g(r), 0) / rs.length;
      hop[f][m] = {
        readings: rs.length,
        mqttPayload: avg((r) => r.mqttPayload),
        mqttTopic: avg((r) => r.mqttTopic),
        kafkaKey: avg((r) => bytes(r.key)),
        kafkaHeaders: avg((r) => headerBytes(r.headers)),
        kafkaValue: avg((r) => bytes(r.value)),
        kafkaRecord: avg((r) => bytes(r.key) + headerBytes(r.headers) + bytes(r.value)),
      };
    }
  }

  const perTopic: Record<
    string,
    Record<string, Record<string, { bytesPerReading: number; producerCpuUsPerReading: number }>>
  > = {};
  const disk: Record<
    string,
    Record<Mode, { bytesPerReading: number; producerCpuUsPerReading: number; brokerCpuUsPerReading: number }>
  > = {};
  try {
    for (const v of VARIANTS) {
      disk[v.name] = {} as (typeof disk)[string];
      for (const m of MODES) {
        const rs = perMode.get(m)!;
        const topic = await createTestTopic(`bench-bytes-${m}`, {
          configs: { 'compression.type': v.broker },
        });
        created.push(topic);
        const cpu0 = process.cpuUsage();
        const b0 = procCpuUs(pid);
        for (let i = 0; i < rs.length; i += BATCH)
          await producer.send({
            topic,
            acks: -1,
            compression: v.producer,
            messages: rs.slice(i, i + BATCH).map(message),
          });
        const cpu = process.cpuUsage(cpu0);
        const b1 = procCpuUs(pid);
        disk[v.name]![m] = {
          bytesPerReading: onDisk(stackDir, topic) / rs.length,
          producerCpuUsPerReading: (cpu.user + cpu.system) / rs.length,
          brokerCpuUsPerReading: (b1 - b0) / rs.length,
        };
      }
    }
    // Per registry topic, today (binary mode, uncompressed) against after (binary mode, gzip by the
    // producer: ingest's KAFKA_COMPRESSION default), and the structured format before both, for each
    // number of records per request (ingest sends what arrived during its linger: one record at a low
    // rate, hundreds under load).
    for (const t of topicsOf(perMode.get('binary')!)) {
      perTopic[t] = {};
      for (const batch of TOPIC_BATCHES) {
        const row: Record<string, { bytesPerReading: number; producerCpuUsPerReading: number }> = {};
        for (const [name, mode, codec] of TOPIC_VARIANTS) {
          const all = perMode.get(mode)!.filter((r) => r.topic === t);
          const rs = batch < 50 ? all.slice(0, TOPIC_RECORDS_SMALL_BATCH) : all;
          const topic = await createTestTopic(`bench-bytes-${mode}`);
          created.push(topic);
          const cpu0 = process.cpuUsage();
          for (let i = 0; i < rs.length; i += batch)
            await producer.send({
              topic,
              acks: -1,
              compression: codec,
              messages: rs.slice(i, i + batch).map(message),
            });
          const cpu = process.cpuUsage(cpu0);
          row[name] = {
            bytesPerReading: onDisk(stackDir, topic) / rs.length,
            producerCpuUsPerReading: (cpu.user + cpu.system) / rs.length,
          };
        }
        perTopic[t][String(batch)] = row;
      }
    }
  } finally {
    await producer.disconnect();
    await deleteTopics(created).catch(() => undefined);
  }

  const round = (x: number) => Math.round(x * 10) / 10;
  console.log(
    `\nbytes per reading (${PER_EQUIPMENT} readings × ${EQUIPMENT_PER_FAMILY} equipment per family)`,
  );
  console.log(['family', 'mode', 'mqtt payload', 'kafka key', 'headers', 'value', 'record'].join('\t'));
  for (const f of Object.keys(hop))
    for (const m of MODES) {
      const h = hop[f]![m];
      console.log(
        [f, m, h.mqttPayload, h.kafkaKey, h.kafkaHeaders, h.kafkaValue, h.kafkaRecord]
          .map((x) => (typeof x === 'number' ? round(x) : x))
          .join('\t'),
      );
    }
  console.log(`\non disk per reading, all families (one partition, batches of ${BATCH})`);
  console.log(['compression', 'mode', 'bytes', 'producer CPU µs', 'broker CPU µs'].join('\t'));
  for (const [name, byMode] of Object.entries(disk))
    for (const m of MODES) {
      const d = byMode[m];
      console.log(
        [
          name,
          m,
          round(d.bytesPerReading),
          round(d.producerCpuUsPerReading),
          round(d.brokerCpuUsPerReading),
        ].join('\t'),
      );
    }
  const before = disk.none!.structured.bytesPerReading;
  const ratios = Object.fromEntries(
    Object.entries(disk).map(([name, byMode]) => [name, byMode.binary.bytesPerReading / before]),
  );
  console.log('\nbinary on disk / structured uncompressed on disk (target ≤ 0.40):');
  for (const [name, r] of Object.entries(ratios)) console.log(`  ${name}: ${r.toFixed(3)}`);

  console.log(
    '\non disk per reading, per topic: structured / binary today / binary + gzip after (bytes, ratio after / structured), by records per request',
  );
  console.log(
    ['topic', 'records/request', 'structured', 'today', 'after', 'after/structured', 'gzip CPU µs'].join(
      '\t',
    ),
  );
  for (const [t, byBatch] of Object.entries(perTopic))
    for (const [batch, row] of Object.entries(byBatch)) {
      const st = row.structured!.bytesPerReading;
      const today = row['binary (today)']!.bytesPerReading;
      const after = row['binary + gzip (after)']!;
      console.log(
        [
          t,
          batch,
          round(st),
          round(today),
          round(after.bytesPerReading),
          (after.bytesPerReading / st).toFixed(3),
          round(after.producerCpuUsPerReading - row['binary (today)']!.producerCpuUsPerReading),
        ].join('\t'),
      );
    }

  const binaryReadings = perMode.get('binary')!.length;
  const registryBytes = [...lineageEntries].reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0);
  const lineageRegistry = {
    entries: lineageEntries.size,
    keyAndValueBytes: registryBytes,
    bytesPerBinaryReading: registryBytes / binaryReadings,
  };
  console.log(
    `\nlineage registry topic: ${lineageRegistry.entries} entries, ${registryBytes} B (key + value), ${lineageRegistry.bytesPerBinaryReading.toFixed(3)} B per reading over ${binaryReadings} readings (written once per lineage, not in the figures above)`,
  );

  // After Kafka: the Redis state of the processors and the open-data rows (state-bytes.ts).
  const binary = perMode.get('binary')!;
  const state = process.env.BENCH_STATE === '0' ? [] : await redisState(binary);
  const openData = process.env.BENCH_STATE === '0' ? [] : await openDataRows(binary);
  /** Prints a titled tab-separated table. */
  const table = (title: string, header: string[], rows: (string | number)[][]) => {
    if (rows.length === 0) return;
    console.log(`\n${title}`);
    for (const r of [header, ...rows]) console.log(r.join('\t'));
  };
  table(
    'Redis window state (stream runtime, after its windows were emitted; per equipment-window = per distinct equipment of a window)',
    [
      'processor',
      'readings',
      'windows',
      'equipment-windows',
      'state JSON B',
      'window hash B',
      'event-id set B',
      'Redis B per reading',
    ],
    state.map((r) => [
      r.processor,
      r.readings,
      r.windows,
      r.equipmentWindows,
      r.stateJsonPerEquipmentWindow.toFixed(1),
      r.windowKeyPerEquipmentWindow.toFixed(1),
      r.idsPerEquipmentWindow.toFixed(1),
      r.redisPerReading.toFixed(1),
    ]),
  );
  table(
    'open-data releases (publisher buildRelease, store writer; data.csv)',
    ['dataset', 'readings', 'releases', 'rows', 'CSV B', 'B per row', 'B per reading'],
    openData.map((r) => [
      r.dataset,
      r.readings,
      r.releases,
      r.rows,
      r.csvBytes,
      r.csvBytesPerRow.toFixed(1),
      r.csvBytesPerReading.toFixed(2),
    ]),
  );

  mkdirSync('reports', { recursive: true });
  writeFileSync(
    'reports/bench-bytes.json',
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, node: process.version, loadavg: loadavg() },
        settings: {
          readingsPerEquipment: PER_EQUIPMENT,
          equipmentPerFamily: EQUIPMENT_PER_FAMILY,
          batch: BATCH,
          perTopicBatches: TOPIC_BATCHES,
          perTopicRecordsForSmallBatches: TOPIC_RECORDS_SMALL_BATCH,
        },
        perHop: hop,
        onDisk: disk,
        binaryOnDiskOverStructuredUncompressed: ratios,
        perTopicOnDisk: perTopic,
        lineageRegistry,
        redisState: state,
        openData,
      },
      null,
      2,
    )}\n`,
  );
  console.log('wrote reports/bench-bytes.json');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
