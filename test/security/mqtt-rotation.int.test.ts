/**
 * A password rotation loses no QoS 1 message of a gateway that switches credentials mid-stream (issue 12,
 * "Show by tests"). Counted by clients this project did not write: paho-mqtt plays the gateway
 * (test/independent/mqtt_gateway.py: it records each message its PUBACK acknowledged, and switches to the
 * password file's new content when told), confluent-kafka reads back what reached Kafka
 * (packages/test-kit/independent/kafka_ids.py, driven by @ondijon/test-kit). Ingest runs as its own
 * process, as in production. Every acknowledged id must be in the telemetry topics or the dead letters;
 * duplicates (what was in flight at the switch, sent again) are reported, not hidden.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { eventId, telemetryTopic, topicList } from '@ondijon/contracts';
import { provisionTopics } from '@ondijon/kafka';
import { readOperatorsState, repoRoot, resolveConfig } from '@ondijon/stack';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  deleteTopics,
  independentIds,
  mqttAuth,
  testEndpoints,
  testKafka,
  uniqueName,
  usesStackSecrets,
  waitFor,
} from '../setup/index';

const execFileAsync = promisify(execFile);
const GATEWAY = path.join(repoRoot, 'test', 'independent', 'mqtt_gateway.py');
const INGEST_MAIN = path.join(repoRoot, 'services', 'ingest', 'src', 'main.ts');
const OPERATOR = 'citelum';
const TOTAL = 3_000;

const endpoints = testEndpoints();
const local = usesStackSecrets(endpoints);
const config = resolveConfig({ externalMqtt: undefined });
const cleanup = new Cleanup();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sha16 = (text: string) => createHash('sha256').update(text.trim()).digest('hex').slice(0, 16);
const lines = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

describe.skipIf(!local)('credential rotation mid-stream (paho gateway, confluent-kafka reader)', () => {
  afterAll(() => cleanup.run(), 300_000);

  it('loses no acknowledged QoS 1 message when the gateway switches to its rotated password mid-stream', async () => {
    const unique = uniqueName('rot');
    const kafkaPrefix = `${unique}.`;
    const mqttPrefix = `t/${unique}/`;
    const specs = topicList.map((t) => ({ ...t, name: `${kafkaPrefix}${t.name}` }));
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await waitFor(() => provisionTopics(admin, specs, { replicationFactor: 1 }).then(() => true), {
        timeoutMs: 60_000,
        intervalMs: 500,
        message: 'topics provisioned',
      });
    } finally {
      await admin.disconnect();
    }
    cleanup.add(() => deleteTopics(specs.map((s) => s.name)));

    // Ingest as its own process, on this run's topics, with the real registry (citelum's equipment).
    const port = await freePort();
    const ingest: ChildProcess = spawn(process.execPath, ['--import', 'tsx', INGEST_MAIN], {
      cwd: repoRoot,
      env: {
        ...process.env,
        MQTT_USERNAME: mqttAuth('ingest').username,
        MQTT_PASSWORD: mqttAuth('ingest').password,
        LOG_LEVEL: 'warn',
        INGEST_CONNECTIONS: '2',
        MQTT_SHARE_GROUP: unique.replace(/[^A-Za-z0-9_-]/g, '_'),
        MQTT_CLIENT_ID_PREFIX: `ing-${unique}`,
        MQTT_SESSION_EXPIRY_S: '600',
        MQTT_TOPIC_PREFIX: mqttPrefix,
        KAFKA_TOPIC_PREFIX: kafkaPrefix,
        HTTP_PORT: String(port),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    cleanup.add(async () => ingest.kill('SIGTERM'));
    await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200), {
      timeoutMs: 120_000,
      intervalMs: 500,
      message: 'ingest ready',
    });

    // The gateway's messages: citelum's streetlights, as the registry lists them.
    const registry = JSON.parse(
      readFileSync(path.join(repoRoot, 'infra', 'registry', 'equipment.json'), 'utf8'),
    ) as { equipment: { equipmentId: string; family: string; operator: string }[] };
    const mine = registry.equipment.filter((e) => e.operator === OPERATOR && e.family === 'streetlight');
    expect(mine.length).toBeGreaterThan(0);
    const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-rotation-'));
    const published = new Set<string>();
    const messages: string[] = [];
    for (let i = 0; i < TOTAL; i += 1) {
      const e = mine[i % mine.length]!;
      const seq = Math.floor(i / mine.length) + 1;
      const id = eventId(e.equipmentId, seq);
      published.add(id);
      const payload = {
        seq,
        observedAt: new Date(Date.now() - 60_000).toISOString(),
        state: 'on',
        dimLevelPct: 100,
        powerW: 50,
        energyWh: 12.5,
        intervalS: 900,
        burningHours: 1000,
        faults: [],
        presenceDetections: 4,
      };
      messages.push(
        JSON.stringify({
          topic: `${mqttPrefix}${telemetryTopic('streetlight', OPERATOR, e.equipmentId)}`,
          payload: JSON.stringify(payload),
          id,
        }),
      );
    }
    writeFileSync(path.join(dir, 'messages.jsonl'), `${messages.join('\n')}\n`);
    const passwordFile = path.join(config.dir, 'secrets', 'mqtt', `${OPERATOR}.password`);
    const oldPassword = readFileSync(passwordFile, 'utf8');
    const ackedFile = path.join(dir, 'acked.txt');
    const switchFile = path.join(dir, 'switch');
    const url = new URL(endpoints.mqttUrl);
    const gateway = spawn(
      'python3',
      [
        GATEWAY,
        url.hostname,
        url.port,
        OPERATOR,
        passwordFile,
        path.join(dir, 'messages.jsonl'),
        ackedFile,
        switchFile,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanup.add(async () => gateway.kill('SIGKILL'));
    const said: Record<string, unknown>[] = [];
    createInterface({ input: gateway.stdout }).on('line', (l) =>
      said.push(JSON.parse(l) as Record<string, unknown>),
    );
    const exited = new Promise<number | null>((resolve) => gateway.once('exit', resolve));

    // Mid-stream: the operator's password is rotated with the command an operator would run, then the
    // gateway is told to pick up its new password (it reads the stack's file for this registry operator).
    await waitFor(() => lines(ackedFile).length >= TOTAL / 3, {
      timeoutMs: 180_000,
      intervalMs: 50,
      message: 'a third of the stream acknowledged',
    });
    await execFileAsync(
      'pnpm',
      ['-s', 'operators', 'rotate', OPERATOR, '--grace', '1h', '--actor', `test:${unique}`],
      {
        cwd: repoRoot,
        env: { ...process.env, ONDIJON_OPERATORS_NO_TIMER: '1' },
        timeout: 600_000,
      },
    );
    const newPassword = readFileSync(passwordFile, 'utf8');
    expect(sha16(newPassword)).not.toBe(sha16(oldPassword));
    expect(readOperatorsState(config).operators[OPERATOR]?.previousPassword).not.toBeNull();
    writeFileSync(switchFile, '');
    expect(await exited).toBe(0);

    const summary = said.at(-1)!;
    const connacks = said.filter((l) => 'connack' in l);
    // It logged in with the old password, then (after the switch) with the new one, and went on.
    expect(connacks[0]).toMatchObject({ connack: 'Success', password_sha256: sha16(oldPassword) });
    expect(connacks.at(-1)).toMatchObject({ connack: 'Success', password_sha256: sha16(newPassword) });
    expect(summary).toMatchObject({ acked: TOTAL, refused: {}, unsent: 0 });
    expect(summary.switched_at).toBeGreaterThanOrEqual(TOTAL / 3);
    expect(summary.switched_at).toBeLessThanOrEqual(TOTAL - 50);

    // Every acknowledged id reached Kafka (telemetry or dead letters), read by confluent-kafka.
    const acked = lines(ackedFile);
    expect(acked.every((id) => published.has(id))).toBe(true);
    const topics = topicList
      .filter((t) => t.area === 'tel' || t.area === 'pii' || t.name === 'dlq.s3.ingest.v1')
      .map((t) => `${kafkaPrefix}${t.name}`);
    const read = async () => {
      const { ids, records } = await independentIds(endpoints.kafkaBrokers, topics);
      return { ids: new Set(ids), records };
    };
    let stored = await read();
    await waitFor(
      async () => {
        stored = await read();
        return acked.every((id) => stored.ids.has(id));
      },
      { timeoutMs: 90_000, intervalMs: 2_000, message: 'every acknowledged id in Kafka' },
    ).catch(() => undefined);
    const lost = acked.filter((id) => !stored.ids.has(id));
    // eslint-disable-next-line no-console -- evidence for the report
    console.info(
      `rotation mid-stream: switched after ${String(summary.switched_at)} acknowledged; ${acked.length} acknowledged, ${stored.records} records, ${stored.ids.size} distinct, ${stored.records - stored.ids.size} duplicates, ${lost.length} lost`,
    );
    expect(lost).toEqual([]);
  }, 900_000);
});
