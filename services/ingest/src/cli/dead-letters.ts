// Dead-letter tool of ingest.
//   pnpm --filter @ondijon/ingest dead-letters list [--code ONDIJON_X] [--samples 3] [--show-payload] [--json]
//   pnpm --filter @ondijon/ingest dead-letters replay (--code ONDIJON_X | --id <id>)... [--via pipeline|mqtt] [--dry-run]
// --via mqtt logs in as MQTT_USERNAME/MQTT_PASSWORD, which must be the `replay` principal: only it may
// publish on the replay tree, the one place ingest honours the replay properties.
// Uses the ingest environment (KAFKA_BROKERS, KAFKA_TOPIC_PREFIX, MQTT_URL, POLICY_FILE, and the
// equipment index as ingest builds it: the compacted reference topic by default, REGISTRY_FILE when
// REGISTRY_SOURCE=file).
// Payloads are never printed unless --show-payload (and S4 or oversized ones are never kept at all);
// reasons are printed without quoted fragments. Ingest seals payloads to the replay tool's key
// (packages/governance/src/seal.ts): --show-payload and replay need ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE
// (or ONDIJON_DEAD_LETTER_PRIVATE_KEY, PEM).
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { createBatchingProducer, createKafka } from '@ondijon/kafka';
import { loadIngestConfig } from '../config';
import {
  readDeadLetters,
  replayThroughMqtt,
  replayThroughPipeline,
  selectDeadLetters,
  summariseDeadLetters,
} from '../dead-letters';
import { loadIngestPolicy } from '../governance';
import { loadRegistry, type EquipmentIndex } from '../registry';
import { followEquipmentTopic, type RegistryFollower } from '../registry-topic';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    code: { type: 'string', multiple: true },
    id: { type: 'string', multiple: true },
    samples: { type: 'string', default: '3' },
    'show-payload': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    via: { type: 'string', default: 'pipeline' },
    'dry-run': { type: 'boolean', default: false },
  },
});

/**
 * Client id and group prefix of the replay tool: it runs as the `replay` Kafka principal
 * (KAFKA_SASL_USERNAME=replay), whose groups are `ondijon-replay…`.
 */
const REPLAY_CLIENT_ID = 'ondijon-replay';

async function main(): Promise<number> {
  const command = positionals[0];
  if (command !== 'list' && command !== 'replay') {
    console.error(
      'usage: dead-letters list [--code C] [--samples N] [--show-payload] [--json] | replay (--code C | --id ID)... [--via pipeline|mqtt] [--dry-run]',
    );
    return 2;
  }
  const config = loadIngestConfig();
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: REPLAY_CLIENT_ID,
  });
  const letters = await readDeadLetters(kafka, config.KAFKA_TOPIC_PREFIX);

  if (command === 'list') {
    const filtered = values.code ? letters.filter((d) => values.code!.includes(d.code)) : letters;
    const summary = summariseDeadLetters(filtered, {
      samples: Number(values.samples),
      showPayload: values['show-payload'],
    });
    if (values.json) {
      console.log(JSON.stringify(summary, null, 2));
      return 0;
    }
    console.log(
      `${filtered.length} dead letters (latest per id) in ${config.KAFKA_TOPIC_PREFIX}dlq.s3.ingest.v1`,
    );
    for (const group of summary) {
      console.log(`\n${group.code}  ${group.count}`);
      for (const s of group.samples) {
        console.log(
          `  ${s.id}  ${s.receivedAt}  replays=${s.replays}  ${s.payloadBytes} B${s.replayable ? '' : '  (payload not kept)'}  ${s.mqttTopic ?? ''}`,
        );
        console.log(`    ${s.reason}${s.fields.length > 0 ? `  [fields: ${s.fields.join(', ')}]` : ''}`);
        if (s.payload !== undefined) console.log(`    payload: ${s.payload}`);
      }
    }
    return 0;
  }

  const selected = selectDeadLetters(letters, { codes: values.code ?? [], ids: values.id ?? [] });
  if (selected.length === 0) {
    console.error('no dead letter matches; select with --code and/or --id');
    return 1;
  }
  if (values['dry-run']) {
    for (const d of selected)
      console.log(
        `${d.id}  ${d.code}  ${d.payloadBase64 === null && (d.sealed === undefined || d.payloadWithheld !== undefined) ? 'not replayable (payload not kept)' : 'would replay'}`,
      );
    return 0;
  }
  let results;
  if (values.via === 'mqtt') {
    const client = await mqtt.connectAsync(config.MQTT_URL, {
      protocolVersion: 5,
      clientId: `${config.MQTT_CLIENT_ID_PREFIX}-replay-${process.pid}`,
      ...(config.MQTT_USERNAME !== undefined
        ? { username: config.MQTT_USERNAME, password: config.MQTT_PASSWORD }
        : {}),
    });
    try {
      results = await replayThroughMqtt(selected, client, config.MQTT_TOPIC_PREFIX);
    } finally {
      await client.endAsync();
    }
  } else {
    // The same pseudonymisation key as the running ingest (ONDIJON_PSEUDONYM_SECRET or its _FILE).
    const env =
      config.ONDIJON_PSEUDONYM_SECRET === undefined
        ? process.env
        : { ...process.env, ONDIJON_PSEUDONYM_SECRET: config.ONDIJON_PSEUDONYM_SECRET };
    const { policy } = loadIngestPolicy(config.POLICY_FILE, env);
    // The same index as the running ingest: the reference topic (read to its end), or the file.
    let follower: RegistryFollower | undefined;
    let registry: EquipmentIndex;
    if (config.REGISTRY_SOURCE === 'file') registry = await loadRegistry(config.REGISTRY_FILE);
    else {
      // Groups under the replay principal's prefix (docs/security.md): `ondijon-replay-registry-<uuid>`.
      follower = followEquipmentTopic(kafka, { ...config, KAFKA_CLIENT_ID: REPLAY_CLIENT_ID }, 'registry');
      await follower.start();
      registry = follower.index;
    }
    const producer = createBatchingProducer(kafka);
    await producer.connect();
    try {
      results = await replayThroughPipeline(
        selected,
        {
          registry,
          policy,
          mqttTopicPrefix: config.MQTT_TOPIC_PREFIX,
          maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES,
          maxFutureSkewMs: config.INGEST_MAX_FUTURE_SKEW_MS,
          maxPastAgeMs: config.INGEST_MAX_PAST_AGE_DAYS * 86_400_000,
          now: () => new Date(),
        },
        producer,
        config.KAFKA_TOPIC_PREFIX,
      );
    } finally {
      await producer.disconnect();
      await follower?.close();
    }
  }
  for (const r of results)
    console.log(`${r.id}  ${r.outcome}${r.code ? `  ${r.code}` : ''}${r.topic ? `  → ${r.topic}` : ''}`);
  return results.some((r) => r.outcome === 'rejected-again' || r.outcome === 'not-replayable') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
