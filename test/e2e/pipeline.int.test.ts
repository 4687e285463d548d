/**
 * The end-to-end acceptance test (issue 7): the simulator, with faults on, publishes a small fleet
 * over 27 simulated hours through MQTT → ingest → Kafka → processors → publisher → open-data API,
 * every service a child process started like in production. What comes out must equal the
 * independent reference computation (test/reference), every injected fault must be accounted for,
 * and nothing may be unexplained: accepted + duplicates + rejected + late = sent.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { type DeadLetter, eventId, type LateRecord, TOPICS, type TopicName } from '@ondijon/contracts';
import { loadPolicy } from '@ondijon/governance';
import { readAll } from '@ondijon/kafka';
import {
  buildFleet,
  DEFAULT_FAULTS,
  type FaultConfig,
  generateStream,
  readRegistryFile,
  type SimMessage,
} from '@ondijon/simulator';
import { stackMqttPasswordsDir } from '@ondijon/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, testKafka, uniqueName, usesStackSecrets, waitFor } from '../setup/index';
import { TELEMETRY_TOPICS, testPipeline } from '../setup/pipeline';
import { cellKey, computeReference, type Reference, type TruthMessage } from '../reference/reference';
import { physical, type PipelinePlan } from '@ondijon/devstack';
import {
  catalogReleases,
  COLUMNS,
  datastoreRows,
  fetchReleaseRows,
  latestPerPeriod,
  type Row,
  rowDiffs,
  rowKey,
} from './open-data';

const SEED = 20_260_112;
// 23:00Z on 11 January is midnight in Paris: the 27 h cover the whole Paris day of 12 January (every
// dataset publishes it) and a little of the next, so every watermark passes the day's end.
const FROM = Date.parse('2026-01-11T23:00:00Z');
const TO = FROM + 27 * 3_600_000;
const FRACTION = 0.4;
const SPEED = 2_000;
const FAULTS: FaultConfig = {
  ...DEFAULT_FAULTS,
  malformedJson: 0.004,
  wrongTypes: 0.004,
  duplicate: 0.01,
  outOfOrder: 0.01,
  late: 0.004,
  clockSkew: 0.004,
  spoofedOperator: 0.004,
  excludedSource: 0.004,
  burstPerHour: 0.2,
};
const PARIS_DAY = '2026-01-11T23:00:00Z';
const DATASETS = ['lighting-commune-hour', 'traffic-flow', 'signal-status', 'winter-commune-day'] as const;
const DATASET_OF_TOPIC: Record<string, (typeof DATASETS)[number]> = {
  'agg.s1.lighting-commune-hour.v1': 'lighting-commune-hour',
  'agg.s1.traffic-flow.v1': 'traffic-flow',
  'agg.s1.signal-status.v1': 'signal-status',
  'agg.s2.winter-commune-day.v1': 'winter-commune-day',
};

// The equipment each dataset comes from (where the registry lists none, a commune is a structural zero).
const FAMILIES_OF: Record<(typeof DATASETS)[number], string[]> = {
  'lighting-commune-hour': ['streetlight', 'lighting-cabinet'],
  'traffic-flow': ['traffic-detector'],
  'signal-status': ['signal-controller'],
  'winter-commune-day': ['winter-vehicle', 'weather-station'],
};

/** What the tests read of an aggregate record. */
interface Aggregate {
  group: Record<string, string>;
  windowStart: string;
  revision: number;
  values: Record<string, number | null>;
  contributors: Record<string, number>;
  inputRecords: number;
  lateRecords: number;
}

const cleanup = new Cleanup();
let plan: PipelinePlan;
let dir: string;
let messages: SimMessage[];
let reference: Reference;
const kafkaRecords = new Map<TopicName, { value: string | null }[]>();

const read = async (topic: TopicName) => {
  const records = await readAll(testKafka(uniqueName('e2e-read')), physical(plan, topic), {
    timeoutMs: 60_000,
  });
  kafkaRecords.set(topic, records);
  return records;
};
const values = <T>(topic: TopicName) =>
  (kafkaRecords.get(topic) ?? []).map((r) => JSON.parse(r.value ?? 'null') as T);

describe('pipeline end to end (simulator with faults → ingest → processors → publisher → open-data API)', () => {
  beforeAll(async () => {
    // E2E_KEEP_LOGS=1 keeps the services' logs, the published stream and the differences found.
    const pipeline = await testPipeline({
      name: 'e2e',
      cleanup,
      keepEnv: 'E2E_KEEP_LOGS',
      processors: [
        'lighting-commune-hour',
        'traffic-flow-15m',
        'traffic-flow-hour',
        'signal-status',
        'winter-commune-day',
      ],
      // The simulated January is long past; the override only lifts the 24 h floor of person-derived data.
      plan: { publishDelayHours: 0, idleFlushMs: 5_000, ingestConnections: 4 },
    });
    ({ plan, dir } = pipeline);
    const { endpoints, runId } = plan;

    // The ground truth, computed without MQTT: the same pure function the simulator runs.
    const registry = await readRegistryFile(plan.registryFile);
    messages = generateStream(
      buildFleet(registry, { seed: SEED, fraction: FRACTION }),
      FROM,
      TO,
      SEED,
      FAULTS,
    );
    reference = computeReference(messages as TruthMessage[], registry.equipment);

    await pipeline.startAll(['ingest', 'processors', 'publisher', 'opendata-api']);

    const record = path.join(dir, 'published.ndjson');
    const { handle: sim } = await pipeline.start('simulator', {
      env: {
        MQTT_URL: endpoints.mqttUrl,
        // Each operator logs in as itself, as real gateways do (on the local stack, whose operator
        // passwords are files); elsewhere the environment's principal publishes everything.
        ...(usesStackSecrets()
          ? {
              SIM_MQTT_PASSWORDS_DIR: stackMqttPasswordsDir({
                config: { externalKafka: undefined, externalRedis: undefined },
              }),
            }
          : {}),
        SIM_TOPIC_PREFIX: plan.mqttPrefix,
        SIM_REGISTRY_FILE: plan.registryFile,
        SIM_SEED: String(SEED),
        SIM_FLEET_FRACTION: String(FRACTION),
        SIM_START: new Date(FROM).toISOString(),
        SIM_DURATION: '27h',
        // 27 simulated hours in ~50 s. Unpaced, a few ms of reordering between ingest's connections is
        // minutes of event time, beyond the processors' 5 min grace: records would be revised as late.
        SIM_SPEED: String(SPEED),
        SIM_FAULTS: Object.entries(FAULTS)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
        SIM_RECORD_FILE: record,
        SIM_CONNECTIONS: '4',
        SIM_CLIENT_ID_PREFIX: `sim-${runId}`,
      },
    });
    const ended = await sim.exited;
    if (ended.code !== 0) throw new Error(`simulator exited with ${ended.code}:\n${sim.tail().join('\n')}`);

    // What the simulator published is exactly the ground truth.
    const published = (await readFile(record, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SimMessage & { reasonCode: number });
    published.sort((a, b) => a.tag.n - b.tag.n);
    expect(published.map((m) => [m.topic, m.payload])).toEqual(messages.map((m) => [m.topic, m.payload]));
    expect(published.every((m) => m.reasonCode === 0)).toBe(true);

    // Wait for the pipeline to settle: every dead letter, every late record, every dataset's Paris day released.
    const rejected = Object.values(reference.deadLettersByCode).reduce((a, b) => a + b, 0);
    await waitFor(async () => (await read('dlq.s3.ingest.v1')).length >= rejected, {
      timeoutMs: 90_000,
      intervalMs: 2_000,
      message: 'dead letters',
    });
    await waitFor(
      async () => {
        const got = new Set(
          (await read('late.s2.stream.v1')).map((r) => (JSON.parse(r.value!) as LateRecord).eventId),
        );
        return [...reference.lateEventIds].every((id) => got.has(id));
      },
      { timeoutMs: 90_000, intervalMs: 2_000, message: 'late records' },
    );
    await waitFor(
      async () => {
        for (const d of DATASETS)
          if (
            !(await catalogReleases(plan.opendataDir, d).catch(() => [])).some(
              (r) => r.period.start === PARIS_DAY,
            )
          )
            return false;
        return true;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 2_000,
        message: 'releases of the Paris day 2026-01-12 for every dataset',
      },
    );
    // Every window emitted (the last ones by the processors' idle flush).
    await waitFor(
      async () => {
        let keys = 0;
        for (const t of Object.keys(DATASET_OF_TOPIC) as TopicName[])
          keys += new Set(
            (await read(t)).map((r) => (JSON.parse(r.value!) as { data: { key: string } }).data.key),
          ).size;
        return keys >= reference.cells.size;
      },
      { timeoutMs: 60_000, intervalMs: 2_000, message: 'every aggregate window emitted' },
    );
    for (const t of [
      ...TELEMETRY_TOPICS,
      'dlq.s3.stream.v1',
      ...Object.keys(DATASET_OF_TOPIC),
    ] as TopicName[])
      await read(t);
  }, 420_000);

  afterAll(() => cleanup.run(), 60_000);

  it('accounts for every message: accepted + duplicates + rejected + late = sent', () => {
    const rejected = Object.values(reference.deadLettersByCode).reduce((a, b) => a + b, 0);
    expect(reference.sent).toBe(messages.length);
    expect(reference.accepted + reference.duplicates + rejected + reference.lateEventIds.size).toBe(
      reference.sent,
    );
    // Every fault kind was injected at least once.
    const faults = new Set(messages.map((m) => m.tag.fault));
    for (const k of [
      'malformed-json',
      'wrong-types',
      'duplicate',
      'out-of-order',
      'late',
      'clock-skew',
      'spoofed-operator',
      'excluded-source',
    ])
      expect(faults).toContain(k);

    // Kafka holds each accepted event, each duplicate again under the same id (downstream dedupes), each late event.
    const telemetry = TELEMETRY_TOPICS.flatMap((t) => values<{ id: string }>(t));
    const ids = new Map<string, number>();
    for (const e of telemetry) ids.set(e.id, (ids.get(e.id) ?? 0) + 1);
    const expectedIds = new Map<string, number>();
    for (const m of messages)
      if (m.tag.outcome !== 'rejected')
        expectedIds.set(
          eventId(m.tag.equipmentId, m.tag.seq),
          (expectedIds.get(eventId(m.tag.equipmentId, m.tag.seq)) ?? 0) + 1,
        );
    expect(ids.size).toBe(reference.accepted + reference.lateEventIds.size);
    const unexplained = [...ids].filter(([id, n]) => (expectedIds.get(id) ?? 0) !== n);
    expect(unexplained.slice(0, 5)).toEqual([]);
    expect(telemetry.length).toBe(reference.accepted + reference.duplicates + reference.lateEventIds.size);
    expect(values('dlq.s3.stream.v1')).toEqual([]);
  });

  it('dead-letters every rejected message with the expected code, and only those', () => {
    const dead = values<DeadLetter>('dlq.s3.ingest.v1');
    const byCode: Record<string, number> = {};
    for (const d of dead) byCode[d.code] = (byCode[d.code] ?? 0) + 1;
    expect(byCode).toEqual(reference.deadLettersByCode);
    // Each dead letter is one of the rejected messages (matched by topic and payload hash), with its code.
    const expected = new Map(
      messages
        .filter((m) => m.tag.outcome === 'rejected')
        .map((m) => [
          `${plan.mqttPrefix}${m.topic}|${createHash('sha256').update(m.payload).digest('hex')}`,
          m.tag.expectedCode,
        ]),
    );
    for (const d of dead) expect(expected.get(`${d.mqttTopic}|${d.payloadSha256}`)).toBe(d.code);
    // S4 payloads are never kept.
    for (const d of dead.filter((x) => x.code === 'ONDIJON_SOURCE_EXCLUDED'))
      expect(d.payloadBase64).toBeNull();
  });

  it('counts every late report as late (routed), and nothing else', () => {
    const late = values<LateRecord>('late.s2.stream.v1');
    expect(new Set(late.map((l) => l.eventId))).toEqual(reference.lateEventIds);
  });

  it("names intersections by the registry's intersection ids (open-data users join them with the equipment inventory)", async () => {
    const registry = await readRegistryFile(plan.registryFile);
    const known = new Set(
      registry.equipment.map((e) => e.intersectionId).filter((x): x is string => x !== undefined),
    );
    const emitted = new Set<string>();
    for (const topic of ['agg.s1.traffic-flow.v1', 'agg.s1.signal-status.v1'] as TopicName[])
      for (const env of values<{ data: { group: { scope: string; id: string } } }>(topic))
        if (env.data.group.scope === 'intersection') emitted.add(env.data.group.id);
    expect(emitted.size).toBeGreaterThan(0);
    const unknown = [...emitted].filter((id) => !known.has(id)).sort();
    expect(
      unknown.slice(0, 5),
      `${unknown.length} intersection ids are not in the registry (registry ids look like ${[...known][0]})`,
    ).toEqual([]);
  });

  it('emits aggregates equal to the reference computation for every window', async () => {
    const latest = new Map<string, { dataset: string; data: Aggregate }>();
    for (const topic of Object.keys(DATASET_OF_TOPIC) as TopicName[]) {
      for (const env of values<{ data: Aggregate }>(topic)) {
        TOPICS[topic].schema.parse(env);
        const dataset = DATASET_OF_TOPIC[topic]!;
        const key = cellKey(dataset, env.data.group, env.data.windowStart);
        const prev = latest.get(key);
        if (!prev || prev.data.revision <= env.data.revision) latest.set(key, { dataset, data: env.data });
      }
    }
    const problems: string[] = [];
    const burstTimes = messages
      .filter((m) => m.tag.burst && m.tag.outcome === 'accepted')
      .map((m) => Date.parse(m.tag.observedAt));
    let revised = 0;
    let unexplainedLate = 0;
    for (const [key, cell] of reference.cells) {
      const got = latest.get(key);
      if (!got) {
        problems.push(`missing ${key}`);
        continue;
      }
      for (const [field, want] of Object.entries(cell.values)) {
        const have = got.data.values[field];
        const same =
          want === null
            ? have === null
            : typeof have === 'number' && Math.abs(have - want) <= 1e-6 * Math.max(1, Math.abs(want));
        if (!same) problems.push(`${key} ${field}: emitted ${String(have)}, reference ${String(want)}`);
      }
      if (got.data.inputRecords !== cell.inputRecords)
        problems.push(
          `${key} inputRecords: emitted ${got.data.inputRecords}, reference ${cell.inputRecords}`,
        );
      if (got.data.contributors.equipment !== cell.contributors.equipment)
        problems.push(
          `${key} contributors.equipment: emitted ${got.data.contributors.equipment}, reference ${cell.contributors.equipment}`,
        );
      // A record folded into a closed window (a revision) is explained by a burst in that window (a
      // burst releases minutes of reports at once, and ingest's parallel connections reorder them), or
      // by the reordering of the broker's shared queue across those connections: the run compresses a
      // simulated day into ~50 s, so 100 ms of real time is minutes of event time. The values above are
      // exact either way (the window is revised); reordering outside bursts must stay rare.
      if (
        got.data.lateRecords !== 0 &&
        !burstTimes.some((t) => t >= Date.parse(cell.windowStart) && t < Date.parse(cell.windowEnd))
      )
        unexplainedLate += got.data.lateRecords;
      revised += got.data.lateRecords;
    }
    for (const key of latest.keys()) if (!reference.cells.has(key)) problems.push(`unexpected ${key}`);
    const records = [...reference.cells.values()].reduce((n, c) => n + c.inputRecords, 0);
    // The bound is 1 %: how many fall late depends on the machine's load, since a second of delay is half
    // an hour of event time here (under 0.1 % in clean-clone CI runs, 0.17–0.49 % at load 15–24).
    if (unexplainedLate > Math.max(10, records / 100))
      problems.push(`${unexplainedLate} late records outside bursts, of ${records} (at most 1 % expected)`);
    await writeFile(
      path.join(dir, 'aggregate-differences.txt'),
      [
        `revised (late within the revise horizon): ${revised}, of which outside bursts: ${unexplainedLate}`,
        ...problems,
      ].join('\n'),
    );
    expect(problems.slice(0, 20), `${problems.length} differences`).toEqual([]);
  });

  it('publishes every cell that passes the anonymisation rules with the reference values, and marks the others suppressed', async () => {
    const policy = loadPolicy();
    const registry = (await readRegistryFile(plan.registryFile)).equipment;
    const apiBase = `http://127.0.0.1:${plan.ports.api}`;
    const problems: string[] = [];
    let compared = 0;
    let suppressed = 0;
    for (const datasetId of DATASETS) {
      const rules = policy.datasets[datasetId]!;
      const noised = new Set(rules.noise?.fields ?? []);
      for (const release of latestPerPeriod(await catalogReleases(plan.opendataDir, datasetId))) {
        const rows: Row[] = await fetchReleaseRows(apiBase, datasetId, release.releaseId);
        const periodStart = Date.parse(release.period.start);
        const periodEnd = Date.parse(release.period.end);
        const seen = new Set<string>();
        for (const row of rows) {
          if (row.is_total === true) continue;
          const key = rowKey(datasetId, row);
          seen.add(key);
          const cell = reference.cells.get(key);
          const status = String(row.status);
          if (status === 'missing') {
            if (cell) problems.push(`${key}: released as missing, reference has a cell`);
            continue;
          }
          if (!cell) {
            // Without input, only two rows are right: a structural zero (the registry lists no
            // equipment of the dataset in the commune), or, in person-derived data, a suppressed
            // cell of zero contributors (zero people is a count like any other).
            const commune = typeof row.commune === 'string' ? row.commune : '';
            const structural =
              status === 'zero' &&
              row.level === 'commune' &&
              !registry.some((e) => e.commune === commune && FAMILIES_OF[datasetId].includes(e.family));
            const zeroContributors = status === 'suppressed' && rules.personDerived;
            if (!structural && !zeroContributors)
              problems.push(`${key}: released (${status}) without a reference cell`);
            if (zeroContributors) suppressed++;
            continue;
          }
          // A cell that fails the frequency threshold or the dominance rule must never be released as a value.
          const t = rules.threshold;
          const failsThreshold =
            (t?.persons !== undefined && (cell.contributors.persons ?? 0) < t.persons) ||
            (t?.organisations !== undefined && cell.contributors.operators < t.organisations) ||
            (t?.equipment !== undefined && cell.contributors.equipment < t.equipment);
          const failsDominance = rules.dominance
            ? rules.dominance.fields.some((f) => (cell.dominance?.[f]?.top1 ?? 0) > rules.dominance!.k)
            : false;
          if (status === 'suppressed') {
            suppressed++;
            for (const column of Object.keys(COLUMNS[datasetId]!))
              if (row[column] !== null)
                problems.push(`${key}: suppressed but ${column} = ${String(row[column])}`);
            continue;
          }
          // A cell computed from contributors is never an exact zero: zero or not, it passes the rules.
          if (status === 'zero') {
            problems.push(`${key}: computed from contributors but released as a structural zero`);
            continue;
          }
          if (failsThreshold || failsDominance) {
            problems.push(
              `${key}: released as ${status} but fails ${failsThreshold ? 'the threshold' : 'the dominance rule'}`,
            );
            continue;
          }
          compared++;
          for (const d of rowDiffs(datasetId, row, cell, status === 'noised' ? noised : new Set()))
            problems.push(`${key} ${d}`);
        }
        // Every reference cell of the period is in the release.
        for (const [key, cell] of reference.cells) {
          if (cell.dataset !== datasetId) continue;
          const t = Date.parse(cell.windowStart);
          if (t >= periodStart && t < periodEnd && !seen.has(key))
            problems.push(`${key}: not in release ${release.releaseId}`);
        }
      }
      // The API's DataStore serves the current release, identical to its CSV.
      const current = (await catalogReleases(plan.opendataDir, datasetId)).at(-1)!;
      const csvRows = await fetchReleaseRows(apiBase, datasetId, current.releaseId);
      const dsRows = await datastoreRows(apiBase, datasetId);
      expect(dsRows.length).toBe(csvRows.length);
    }
    await writeFile(path.join(dir, 'open-data-differences.txt'), problems.join('\n'));
    expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
    expect(compared).toBeGreaterThan(100);
    // Winter cells come from fewer than 11 vehicles each in this fleet: the gate must suppress them.
    expect(suppressed).toBeGreaterThan(0);
  });

  it.skipIf(!usesStackSecrets())(
    "no service logs a secret: the run's credentials, pseudonymisation secret and admin token appear in no log",
    async () => {
      const secretFiles = Object.values(plan.secrets ?? {}).flatMap((env: Record<string, string>) =>
        Object.entries(env)
          .filter(([k]) => k.endsWith('_FILE'))
          .map(([, v]) => v),
      );
      expect(secretFiles.length).toBeGreaterThanOrEqual(6);
      const values = [
        ...new Set(await Promise.all(secretFiles.map(async (f) => (await readFile(f, 'utf8')).trim()))),
      ];
      const redisPassword = decodeURIComponent(new URL(plan.endpoints.redisUrl).password);
      if (redisPassword) values.push(redisPassword);
      const logs = ['ingest', 'processors', 'publisher', 'opendata-api', 'simulator'];
      let scanned = 0;
      for (const name of logs) {
        const text = await readFile(path.join(dir, `${name}.log`), 'utf8');
        scanned += text.length;
        for (const value of values) expect(text.includes(value), `${name}.log holds a secret`).toBe(false);
      }
      expect(scanned).toBeGreaterThan(1_000);
    },
  );
});
