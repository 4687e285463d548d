import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { metricValue, mqttAuth, testEndpoints, uniqueName, waitFor } from '@ondijon/test-kit';
import { DeadLetter, WIRE_LIMITS, TOPICS, eventId, type Family } from '@ondijon/contracts';
import type { MqttClient } from 'mqtt';
import { createBatchingProducer } from '@ondijon/kafka';
import { testKafka } from '@ondijon/test-kit';
import { buildApp, type IngestApp } from '../src/app';
import {
  readDeadLetters,
  replayThroughMqtt,
  selectDeadLetters,
  summariseDeadLetters,
} from '../src/dead-letters';
import { equipmentRecord } from '../src/registry';
import { deadLetterPrivateKey, newDeadLetterKeyPair } from '@ondijon/governance';
import { loadIngestPolicy } from '../src/governance';
import {
  connectPublisher,
  ingestFixture,
  payloadFor,
  publishAll,
  recordCount,
  telemetryIds,
  type IngestFixture,
  type Publication,
} from './helpers';

const { policy } = loadIngestPolicy('');

describe('ingest (real Mosquitto and Kafka)', () => {
  let app: IngestApp | undefined;
  let fixture: IngestFixture | undefined;
  let publisher: MqttClient | undefined;

  afterEach(async () => {
    await publisher?.endAsync().catch(() => undefined);
    await app?.close();
    await fixture?.cleanup();
    app = undefined;
    fixture = undefined;
    publisher = undefined;
  });

  it('writes N messages as exactly N records in the class topics plus dead letters, by unique id', async () => {
    fixture = await ingestFixture('ingest-n', 4);
    app = buildApp(fixture.config, { policy });
    await app.start();
    expect((await app.ready()).ready).toBe(true);

    const expectedIds = new Set<string>();
    const expectedDead = new Set<string>();
    const messages: Publication[] = [];
    const f = fixture;
    for (const [i, e] of f.registry.equipment.entries()) {
      for (let seq = 0; seq < 50; seq += 1) {
        // Every 10th message of every 5th equipment is invalid (negative power/speed): a dead letter with an event id.
        const bad = i % 5 === 0 && seq % 10 === 0;
        const payload = payloadFor(e.family, seq);
        if (bad) payload.seq = -1;
        messages.push({ topic: f.topicOf(e), payload: JSON.stringify(payload) });
        if (!bad) expectedIds.add(eventId(e.equipmentId, seq));
        else expectedDead.add(`${e.equipmentId}:${seq}`);
      }
    }
    publisher = await connectPublisher();
    await publishAll(publisher, messages);

    const n = messages.length;
    await waitFor(async () => (await recordCount(f)) >= n, { timeoutMs: 60_000, message: `${n} records` });
    const records = await telemetryIds(f);
    const dead = (await f.read('dlq.s3.ingest.v1')).map((r) => DeadLetter.parse(JSON.parse(r.value ?? '')));
    expect(new Set(records.map((r) => r.id))).toEqual(expectedIds);
    expect(records.length).toBe(expectedIds.size);
    expect(dead.length).toBe(expectedDead.size);
    expect(new Set(dead.map((d) => d.code))).toEqual(new Set(['ONDIJON_SCHEMA_INVALID']));
    expect(records.length + dead.length).toBe(n);
    // Every record is a valid envelope of its topic, with provenance from the registry.
    for (const r of records) {
      const env = TOPICS[r.topic as keyof typeof TOPICS].schema.parse(JSON.parse(r.value)) as {
        owner: string;
        commune?: string;
        contractref: string;
        policyrevision: string;
      };
      expect(env.owner).toBe('Dijon Métropole');
      expect(env.commune).toBe('21231');
      expect(env.contractref).toMatch(/^contract-/);
      expect(env.policyrevision).toBe(policy.revision);
    }
    // Winter vehicles (positions, S2) went to tel.s2.winter, the rest to S1 topics.
    const winterVehicleIds = new Set(
      f.registry.equipment.filter((e) => e.family === 'winter-vehicle').map((e) => e.equipmentId),
    );
    for (const r of records) {
      const env = JSON.parse(r.value) as { subject: string };
      expect(r.topic === 'tel.s2.winter.v1').toBe(winterVehicleIds.has(env.subject));
    }
    const metrics = await app.metrics.registry.getSingleMetricAsString(
      'ondijon_ingest_messages_received_total',
    );
    expect(metricValue(metrics, 'ondijon_ingest_messages_received_total')).toBe(n);
  });

  it('sends every bad input of the corpus to the dead-letter topic with its code, keeps running, keeps no S4 payload', async () => {
    fixture = await ingestFixture('ingest-bad', 1);
    app = buildApp(fixture.config, { policy });
    await app.start();
    const f = fixture;
    const eq = (family: Family) => f.registry.equipment.find((e) => e.family === family)!;
    const light = eq('streetlight');
    const truck = eq('winter-vehicle');
    const secretPlate = 'PLATE-AB-123-CD';
    const corpus: { name: string; topic: string; payload: string | Buffer; code: string }[] = [
      {
        name: 'not JSON',
        topic: f.topicOf(light),
        payload: 'hello, not json',
        code: 'ONDIJON_PAYLOAD_NOT_JSON',
      },
      {
        name: 'truncated',
        topic: f.topicOf(light),
        payload: JSON.stringify(payloadFor('streetlight', 1)).slice(0, 30),
        code: 'ONDIJON_PAYLOAD_NOT_JSON',
      },
      {
        name: '200 kB (under the broker packet limit, over the ingest payload limit)',
        topic: f.topicOf(light),
        payload: Buffer.alloc(200_000, 0x61),
        code: 'ONDIJON_PAYLOAD_TOO_LARGE',
      },
      {
        name: 'wrong types',
        topic: f.topicOf(light),
        payload: JSON.stringify({ ...payloadFor('streetlight', 2), powerW: 'fifty' }),
        code: 'ONDIJON_SCHEMA_INVALID',
      },
      {
        name: 'unknown equipment',
        topic: f.mqttPrefix + 'ondijon/v1/streetlight/citelum/not-registered-1',
        payload: JSON.stringify(payloadFor('streetlight', 3)),
        code: 'ONDIJON_EQUIPMENT_UNKNOWN',
      },
      {
        name: 'operator spoofing',
        topic: f.mqttPrefix + `ondijon/v1/streetlight/bouygues-es/${light.equipmentId}`,
        payload: JSON.stringify(payloadFor('streetlight', 4)),
        code: 'ONDIJON_OPERATOR_MISMATCH',
      },
      {
        name: 'NaN literal',
        topic: f.topicOf(light),
        payload: JSON.stringify(payloadFor('streetlight', 5)).replace('"powerW":50', '"powerW":NaN'),
        code: 'ONDIJON_PAYLOAD_NOT_JSON',
      },
      {
        name: 'far future',
        topic: f.topicOf(light),
        payload: JSON.stringify({ ...payloadFor('streetlight', 6), observedAt: '2099-01-01T00:00:00Z' }),
        code: 'ONDIJON_TIME_IN_FUTURE',
      },
      {
        name: 'S4 source',
        topic: f.mqttPrefix + 'ondijon/v1/anpr-camera/bouygues-es/cam-1',
        payload: JSON.stringify({ seq: 1, plate: secretPlate }),
        code: 'ONDIJON_SOURCE_EXCLUDED',
      },
      {
        name: 'bad topic',
        topic: f.mqttPrefix + 'ondijon/v1/streetlight/citelum',
        payload: '{}',
        code: 'ONDIJON_TOPIC_INVALID',
      },
      {
        name: 'family mismatch',
        topic: f.mqttPrefix + `ondijon/v1/weather-station/citelum/${light.equipmentId}`,
        payload: JSON.stringify(payloadFor('weather-station', 7)),
        code: 'ONDIJON_FAMILY_MISMATCH',
      },
    ];
    publisher = await connectPublisher();
    await publishAll(publisher, corpus);
    // A good message after the corpus: ingest keeps running.
    await publishAll(publisher, [
      { topic: f.topicOf(truck), payload: JSON.stringify(payloadFor('winter-vehicle', 9)) },
    ]);

    await waitFor(async () => (await recordCount(f)) >= corpus.length + 1, {
      timeoutMs: 30_000,
      message: 'corpus dead-lettered',
    });
    const raw = await f.read('dlq.s3.ingest.v1');
    const dead = raw.map((r) => DeadLetter.parse(JSON.parse(r.value ?? '')));
    expect(dead).toHaveLength(corpus.length);
    const byTopicAndCode = dead.map((d) => `${d.code}`).sort();
    expect(byTopicAndCode).toEqual(corpus.map((c) => c.code).sort());
    for (const c of corpus) {
      const sha = createHash('sha256').update(c.payload).digest('hex');
      const d = dead.find((x) => x.code === c.code && x.mqttTopic === c.topic && x.payloadSha256 === sha);
      expect(d, c.name).toBeDefined();
      expect(d!.reason.length, c.name).toBeGreaterThan(5);
      expect(d!.payloadBytes, c.name).toBe(Buffer.byteLength(c.payload));
      if (c.code === 'ONDIJON_SOURCE_EXCLUDED' || c.code === 'ONDIJON_PAYLOAD_TOO_LARGE')
        expect(d!.payloadBase64, c.name).toBeNull();
      else expect(Buffer.from(d!.payloadBase64!, 'base64').equals(Buffer.from(c.payload)), c.name).toBe(true);
    }
    expect(dead.find((d) => d.code === 'ONDIJON_SCHEMA_INVALID')!.issues?.map((i) => i.path)).toContain(
      'powerW',
    );
    // The S4 payload is nowhere in the dead-letter topic, not even in another field.
    for (const r of raw) expect(r.value).not.toContain(secretPlate);
    expect(dead.find((d) => d.code === 'ONDIJON_SOURCE_EXCLUDED')!.sensitivity).toBe('S4');
    const good = await telemetryIds(f);
    expect(good.map((g) => g.id)).toEqual([eventId(truck.equipmentId, 9)]);
  });

  it('lets valid traffic flow after each poison shape, and the broker refuses a packet over its limit', async () => {
    fixture = await ingestFixture('ingest-poison', 2);
    app = buildApp(fixture.config, { policy });
    await app.start();
    const f = fixture;
    const loop = f.registry.equipment.find((e) => e.family === 'traffic-detector')!;
    const valid = payloadFor('traffic-detector', 1) as { lanes: Record<string, unknown>[] };
    const extra = Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`k${i}`, 1]));
    const poison: Publication[] = [
      // ~60 kB of unknown keys in lanes[0]: one issue per key before the dead letter was bounded.
      {
        topic: f.topicOf(loop),
        payload: JSON.stringify({ ...valid, lanes: [{ ...valid.lanes[0], ...extra }] }),
      },
      // A 60 000-character topic: kafkajs hashed it as the dead letter's key for ~134 ms.
      {
        topic: `${f.mqttPrefix}ondijon/v1/traffic-detector/bouygues-es/${'x'.repeat(60_000)}`,
        payload: '{}',
      },
      // 200 kB on an invalid topic: under the broker's packet limit, its dead letter once exceeded Kafka's.
      {
        topic: `${f.mqttPrefix}ondijon/v1/traffic-detector`,
        payload: Buffer.alloc(200_000, 0x7b).toString(),
      },
    ];
    publisher = await connectPublisher();
    const goods: Publication[] = [];
    for (let round = 0; round < 3; round += 1) {
      await publishAll(publisher, [poison[round]!]);
      const batch = f.registry.equipment.map((e) => ({
        topic: f.topicOf(e),
        payload: JSON.stringify(payloadFor(e.family, 10 + round)),
      }));
      goods.push(...batch);
      await publishAll(publisher, batch);
    }
    await waitFor(async () => (await recordCount(f)) >= goods.length + poison.length, {
      timeoutMs: 60_000,
      message: 'valid traffic and the poison dead letters in Kafka',
    });
    expect(await telemetryIds(f)).toHaveLength(goods.length);
    const dead = (await f.read('dlq.s3.ingest.v1')).map((r) => DeadLetter.parse(JSON.parse(r.value ?? '')));
    expect(dead.map((d) => d.code).sort()).toEqual([
      'ONDIJON_SCHEMA_INVALID',
      'ONDIJON_TOPIC_INVALID',
      'ONDIJON_TOPIC_INVALID',
    ]);
    for (const d of dead) expect(JSON.stringify(d).length).toBeLessThan(WIRE_LIMITS.maxPayloadBytes * 1.4);
    expect((await app.ready()).ready).toBe(true);

    // One byte over the broker's packet limit: refused by the broker (connection closed), never acknowledged.
    const over = await connectPublisher();
    const refused = over
      .publishAsync(f.topicOf(loop), Buffer.alloc(WIRE_LIMITS.mqttMaxPacketBytes, 0x7b), { qos: 1 })
      .then(
        () => 'acknowledged',
        () => 'refused',
      );
    const closed = new Promise<string>((resolve) => over.once('close', () => resolve('refused')));
    expect(await Promise.race([refused, closed])).toBe('refused');
    over.end(true);
    // Just under it: taken by the broker, dead-lettered by ingest without its payload.
    const under = WIRE_LIMITS.mqttMaxPacketBytes - f.topicOf(loop).length - 64;
    await publishAll(publisher, [{ topic: f.topicOf(loop), payload: Buffer.alloc(under, 0x7b).toString() }]);
    await waitFor(async () => (await recordCount(f)) >= goods.length + poison.length + 1, {
      timeoutMs: 30_000,
      message: 'the packet under the limit dead-lettered',
    });
  });

  it('lets no raw personal field (agentId, presence detections) reach any tel.* or pii.* topic', async () => {
    fixture = await ingestFixture('ingest-pii', 5);
    app = buildApp(fixture.config, { policy });
    await app.start();
    const f = fixture;
    const agentIds = Array.from({ length: 5 }, (_, i) => `agent-secret-${i}-x9q`);
    const messages: Publication[] = [];
    for (const e of f.registry.equipment) {
      for (let seq = 0; seq < 10; seq += 1)
        messages.push({
          topic: f.topicOf(e),
          payload: JSON.stringify(payloadFor(e.family, seq, agentIds[seq % 5])),
        });
    }
    publisher = await connectPublisher();
    await publishAll(publisher, messages);
    await waitFor(async () => (await recordCount(f)) >= messages.length, { timeoutMs: 60_000 });
    const records = await telemetryIds(f);
    expect(records).toHaveLength(messages.length);
    for (const r of records) {
      for (const a of agentIds) expect(r.value).not.toContain(a);
      const data = JSON.parse(r.value) as {
        data: Record<string, unknown>;
        lineage: { fieldActions: Record<string, string> };
      };
      expect(data.data).not.toHaveProperty('agentId');
      expect(data.data).not.toHaveProperty('presenceDetections');
    }
    const truck = records.find((r) => r.topic === 'tel.s2.winter.v1')!;
    expect(
      (JSON.parse(truck.value) as { lineage: { fieldActions: Record<string, string> } }).lineage.fieldActions
        .agentId,
    ).toBe('drop');
  });

  it('lists dead letters by code without payloads and replays them after a fix, keeping their id', async () => {
    fixture = await ingestFixture('ingest-replay', 1);
    app = buildApp(fixture.config, { policy });
    await app.start();
    const f = fixture;
    const light = f.registry.equipment.find((e) => e.family === 'streetlight')!;
    const newcomer = { ...light, equipmentId: `${light.equipmentId}-new` };
    const unknownTopic = f.topicOf(newcomer);
    const agent = 'agent-replay-secret-1';
    publisher = await connectPublisher();
    await publishAll(publisher, [
      { topic: unknownTopic, payload: JSON.stringify(payloadFor('streetlight', 1)) },
      {
        topic: f.topicOf(light),
        payload: JSON.stringify({ ...payloadFor('streetlight', 2), powerW: -1, agentId: agent }),
      },
    ]);
    await waitFor(async () => (await readDeadLetters(testKafka(), f.kafkaPrefix)).length === 2, {
      timeoutMs: 30_000,
    });
    const letters = await readDeadLetters(testKafka(), f.kafkaPrefix);
    const summary = summariseDeadLetters(letters);
    expect(summary.map((g) => [g.code, g.count]).sort()).toEqual([
      ['ONDIJON_EQUIPMENT_UNKNOWN', 1],
      ['ONDIJON_SCHEMA_INVALID', 1],
    ]);
    expect(JSON.stringify(summary)).not.toContain(agent);

    // The fix: the equipment is registered in the reference topic (not in the registry file). The CLI
    // replays straight through the pipeline with the index ingest itself uses.
    const ref = equipmentRecord(newcomer, policy.revision, 'test', new Date());
    const producer = createBatchingProducer(testKafka());
    await producer.connect();
    await producer.send(`${f.kafkaPrefix}${TOPICS['ref.s0.equipment.v1'].name}`, {
      key: ref.key,
      value: JSON.stringify(ref.value),
    });
    await producer.disconnect();
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/dead-letters.ts', 'replay', '--code', 'ONDIJON_EQUIPMENT_UNKNOWN'],
      {
        cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
        env: { ...process.env, ...f.env },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/ accepted {2}→ /);
    expect((await telemetryIds(f)).map((r) => r.id)).toEqual([eventId(newcomer.equipmentId, 1)]);

    // Replayed through MQTT (as the replay principal, on the replay tree) while still invalid:
    // rejected again, same id, replays 1.
    const invalid = selectDeadLetters(letters, { codes: ['ONDIJON_SCHEMA_INVALID'] });
    const replayer = await connectAs('replay');
    try {
      expect((await replayThroughMqtt(invalid, replayer, f.mqttPrefix)).map((r) => r.outcome)).toEqual([
        'republished',
      ]);
    } finally {
      await replayer.endAsync();
    }
    await waitFor(
      async () => (await readDeadLetters(testKafka(), f.kafkaPrefix)).some((d) => d.replays === 1),
      { timeoutMs: 30_000 },
    );
    const again = (await readDeadLetters(testKafka(), f.kafkaPrefix)).find((d) => d.id === invalid[0]!.id)!;
    expect(again.replays).toBe(1);
    expect(again.code).toBe('ONDIJON_SCHEMA_INVALID');
  });

  it('ignores replay properties from a device, and refuses the replay tree to it', async () => {
    fixture = await ingestFixture('ingest-forged-replay', 1);
    app = buildApp(fixture.config, { policy });
    await app.start();
    const f = fixture;
    const light = f.registry.equipment.find((e) => e.family === 'streetlight')!;
    const forged = { 'ondijon-replay-of': 'spoofed-dead-letter-id', 'ondijon-replays': '999' };
    // The operator owning the equipment, logged in as itself (not admin).
    const device = await connectAs(light.operator);
    try {
      await publishAll(device, [
        {
          topic: f.topicOf(light),
          payload: JSON.stringify(payloadFor('streetlight', 1)),
          properties: { userProperties: forged },
        },
        {
          topic: f.topicOf(light),
          payload: JSON.stringify({ ...payloadFor('streetlight', 2), powerW: -1 }),
          properties: { userProperties: forged },
        },
      ]);
      // The replay tree is the replay principal's only: the broker refuses the operator's publish.
      const replayTopic = f
        .topicOf(light)
        .replace(`${f.mqttPrefix}ondijon/v1/`, `${f.mqttPrefix}ondijon/replay/v1/`);
      await expect(
        device.publishAsync(replayTopic, JSON.stringify(payloadFor('streetlight', 3)), {
          qos: 1,
          properties: { userProperties: forged },
        }),
      ).rejects.toThrow();
    } finally {
      await device.endAsync(true);
    }
    // One record and one dead letter.
    await waitFor(async () => (await recordCount(f)) === 2, { timeoutMs: 30_000 });
    const [letter] = await readDeadLetters(testKafka(), f.kafkaPrefix);
    expect(letter!.id).toBe(eventId(light.equipmentId, 2));
    expect(letter!.replays).toBe(0);
    expect((await telemetryIds(f)).map((r) => r.id)).toEqual([eventId(light.equipmentId, 1)]);
    const metrics = await app.metrics.registry.getSingleMetricAsString(
      'ondijon_ingest_replay_properties_ignored_total',
    );
    expect(metricValue(metrics, 'ondijon_ingest_replay_properties_ignored_total')).toBe(2);
    // Nothing from the refused publish reached Kafka.
    expect(JSON.stringify(await readDeadLetters(testKafka(), f.kafkaPrefix))).not.toContain('spoofed');
  });
  it('seals a winter vehicle dead letter (no agentId in clear in Kafka), and replays it after a fix', async () => {
    const keys = newDeadLetterKeyPair();
    fixture = await ingestFixture('ingest-sealed', 1, { ONDIJON_DEAD_LETTER_PUBLIC_KEY: keys.publicKey });
    app = buildApp(fixture.config, { policy });
    await app.start();
    const f = fixture;
    const truck = f.registry.equipment.find((e) => e.family === 'winter-vehicle')!;
    const newcomer = { ...truck, equipmentId: `${truck.equipmentId}-new` };
    const agent = 'agent-sealed-secret-7';
    publisher = await connectPublisher();
    await publishAll(publisher, [
      // Unknown equipment (fixed below by registering it): the full payload, agentId included, is kept.
      { topic: f.topicOf(newcomer), payload: JSON.stringify(payloadFor('winter-vehicle', 1, agent)) },
      // Not JSON: the parser's message quotes the payload, so the reason would too.
      { topic: f.topicOf(truck), payload: `${agent} is not json` },
    ]);
    await waitFor(async () => (await recordCount(f)) === 2, { timeoutMs: 30_000 });
    const raw = await f.read('dlq.s3.ingest.v1');
    expect(raw).toHaveLength(2);
    for (const r of raw) {
      expect(r.value).not.toContain(agent);
      expect(r.value).not.toContain('agentId');
      const letter = DeadLetter.parse(JSON.parse(r.value!));
      expect(letter.payloadBase64).toBeNull();
      expect(letter.sealed?.alg).toBe('X25519-HKDF-SHA256-A256GCM');
      expect(letter.payloadBytes).toBeGreaterThan(0);
    }
    const letters = await readDeadLetters(testKafka(), f.kafkaPrefix);
    expect(JSON.stringify(summariseDeadLetters(letters))).not.toContain(agent);
    // The replay tool's key opens them; the full reason and payload are shown only then.
    const privateKey = deadLetterPrivateKey(keys.privateKey);
    const shown = JSON.stringify(summariseDeadLetters(letters, { showPayload: true, privateKey }));
    expect(shown).toContain(`\\"agentId\\":\\"${agent}\\"`);
    expect(shown).toContain('\\"agent-seal\\"... is not valid JSON');
    expect(() => summariseDeadLetters(letters, { showPayload: true, privateKey: undefined })).toThrow(
      /private key/,
    );

    // The fix: the vehicle is registered; the CLI, holding the private key, replays it.
    const ref = equipmentRecord(newcomer, policy.revision, 'test', new Date());
    const producer = createBatchingProducer(testKafka());
    await producer.connect();
    await producer.send(`${f.kafkaPrefix}${TOPICS['ref.s0.equipment.v1'].name}`, {
      key: ref.key,
      value: JSON.stringify(ref.value),
    });
    await producer.disconnect();
    const replay = (extra: Record<string, string>) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/dead-letters.ts', 'replay', '--code', 'ONDIJON_EQUIPMENT_UNKNOWN'],
        {
          cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
          env: {
            ...process.env,
            ONDIJON_DEAD_LETTER_PRIVATE_KEY: '',
            ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE: '',
            ...f.env,
            ...extra,
          },
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
    // Without the key the sealed letter cannot be replayed.
    const denied = replay({});
    expect(denied.status).toBe(1);
    expect(denied.stdout).toMatch(/ not-replayable/);
    const cli = replay({ ONDIJON_DEAD_LETTER_PRIVATE_KEY: keys.privateKey });
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/ accepted {2}→ tel\.s2\.winter\.v1/);
    const records = await telemetryIds(f);
    expect(records.map((r) => [r.id, r.topic])).toEqual([
      [eventId(newcomer.equipmentId, 1), 'tel.s2.winter.v1'],
    ]);
    const record = JSON.parse(records[0]!.value) as {
      data: Record<string, unknown>;
      lineage: { fieldActions: Record<string, string> };
    };
    expect(record.data).not.toHaveProperty('agentId');
    expect(record.lineage.fieldActions.agentId).toBe('drop');
    expect(records[0]!.value).not.toContain(agent);
  });
});

/** A clean MQTT 5 connection as a principal of the stack, without automatic reconnection. */
async function connectAs(username: string): Promise<MqttClient> {
  return mqtt.connectAsync(testEndpoints().mqttUrl, {
    protocolVersion: 5,
    clientId: uniqueName(`as-${username}`),
    ...mqttAuth(username),
    clean: true,
    reconnectPeriod: 0,
  });
}
