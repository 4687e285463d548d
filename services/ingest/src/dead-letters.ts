import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { MqttClient } from 'mqtt';
import { DeadLetter, LINEAGE_REGISTRY_TOPIC, replayTopicOf, type ErrorCode } from '@ondijon/contracts';
import { readAll, type BatchingProducer } from '@ondijon/kafka';
import { DEAD_LETTER_TOPIC, processMessage, type PipelineContext } from './pipeline';
import { REPLAY_OF_PROPERTY, REPLAYS_PROPERTY } from './replay';
import { openDeadLetter, privateKeyFromEnv, withoutFragments } from '@ondijon/governance';

/** Whether a letter kept its payload (in clear or sealed) and its topic, so that it can be replayed. */
function keptPayload(d: DeadLetter): boolean {
  const kept = d.payloadBase64 !== null || (d.sealed !== undefined && d.payloadWithheld === undefined);
  return kept && d.mqttTopic !== undefined;
}

/**
 * The letter with its payload in clear: opened with `privateKey` when sealed; undefined when it kept
 * no payload, or is sealed and no key is given.
 */
function openedPayload(d: DeadLetter, privateKey: KeyObject | undefined): DeadLetter | undefined {
  if (d.sealed !== undefined) return privateKey === undefined ? undefined : openDeadLetter(d, privateKey);
  return d.payloadBase64 === null ? undefined : d;
}

/** Reads the dead-letter topic and keeps the latest letter of each id (a failed replay supersedes its original). */
export async function readDeadLetters(
  kafka: Kafka,
  topicPrefix = '',
  groupPrefix = 'ondijon-replay',
): Promise<DeadLetter[]> {
  const latest = new Map<string, DeadLetter>();
  for (const r of await readAll(kafka, `${topicPrefix}${DEAD_LETTER_TOPIC}`, {
    timeoutMs: 120_000,
    groupPrefix,
  })) {
    const parsed = DeadLetter.safeParse(JSON.parse(r.value ?? 'null'));
    if (!parsed.success) continue;
    const seen = latest.get(parsed.data.id);
    if (!seen || parsed.data.replays >= seen.replays) latest.set(parsed.data.id, parsed.data);
  }
  return [...latest.values()];
}

/** A sample letter as listed: no payload, no personal field. */
export interface DeadLetterSample {
  id: string;
  mqttTopic: string | undefined;
  reason: string;
  fields: string[];
  receivedAt: string;
  replays: number;
  payloadBytes: number;
  replayable: boolean;
  /** Only with `showPayload`, and never for withheld (S4, too large) payloads. */
  payload?: string;
}

/**
 * Counts per code with a few samples each, most frequent first. Reasons are shown without quoted
 * fragments; `showPayload` shows the payload and the full reason, opening sealed letters with
 * `privateKey` (default: ONDIJON_DEAD_LETTER_PRIVATE_KEY(_FILE)), and fails without it.
 */
export function summariseDeadLetters(
  letters: DeadLetter[],
  options: { samples?: number; showPayload?: boolean; privateKey?: KeyObject | undefined } = {},
): { code: ErrorCode; count: number; samples: DeadLetterSample[] }[] {
  const privateKey = options.showPayload ? (options.privateKey ?? privateKeyFromEnv()) : undefined;
  if (options.showPayload && privateKey === undefined && letters.some((d) => d.sealed !== undefined))
    throw new Error(
      'showing sealed payloads needs the replay private key: set ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE',
    );
  const show = (d: DeadLetter): DeadLetter => (options.showPayload ? (openedPayload(d, privateKey) ?? d) : d);
  const byCode = new Map<ErrorCode, DeadLetter[]>();
  for (const d of letters) byCode.set(d.code, [...(byCode.get(d.code) ?? []), d]);
  return [...byCode]
    .map(([code, list]) => ({
      code,
      count: list.length,
      samples: list
        .slice(0, options.samples ?? 3)
        .map(show)
        .map((d) => ({
          id: d.id,
          mqttTopic: d.mqttTopic,
          reason: options.showPayload ? d.reason : withoutFragments(d.reason),
          // Field paths only: issue messages may quote the offending (possibly personal) value.
          fields: (d.issues ?? []).map((i) => i.path),
          receivedAt: d.receivedAt,
          replays: d.replays,
          payloadBytes: d.payloadBytes,
          replayable: keptPayload(d),
          ...(options.showPayload && d.payloadBase64 !== null
            ? { payload: Buffer.from(d.payloadBase64, 'base64').toString('utf8') }
            : {}),
        })),
    }))
    .sort((a, b) => b.count - a.count);
}

/** Which letters to replay. */
export interface ReplaySelection {
  codes?: string[];
  ids?: string[];
}

/** Letters matching the selection (by code or by id; both empty selects nothing). */
export function selectDeadLetters(letters: DeadLetter[], selection: ReplaySelection): DeadLetter[] {
  const codes = new Set(selection.codes ?? []);
  const ids = new Set(selection.ids ?? []);
  return letters.filter((d) => codes.has(d.code) || ids.has(d.id));
}

/** What happened to one replayed letter. */
export interface ReplayResult {
  id: string;
  outcome: 'accepted' | 'rejected-again' | 'republished' | 'not-replayable';
  code?: ErrorCode;
  topic?: string;
}

/**
 * Replays letters straight through the pipeline (current registry and policy) and writes the outcome
 * to Kafka: the telemetry record, or the letter again with the same id and `replays` + 1. Sealed
 * letters are opened with `privateKey` (default: ONDIJON_DEAD_LETTER_PRIVATE_KEY(_FILE)); one that
 * cannot be opened is not replayable. A letter rejected again is sealed again (to `ctx.deadLetterKey`,
 * by default the public half of `privateKey`).
 */
export async function replayThroughPipeline(
  letters: DeadLetter[],
  ctx: PipelineContext,
  producer: BatchingProducer,
  topicPrefix = '',
  privateKey: KeyObject | undefined = privateKeyFromEnv(),
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const registered = new Set<string>();
  const context =
    ctx.deadLetterKey === undefined && privateKey !== undefined
      ? { ...ctx, deadLetterKey: createPublicKey(privateKey) }
      : ctx;
  for (const sealed of letters) {
    const d = openedPayload(sealed, privateKey);
    if (d?.payloadBase64 == null || d.mqttTopic === undefined) {
      results.push({ id: sealed.id, outcome: 'not-replayable' });
      continue;
    }
    const outcome = processMessage(context, {
      topic: d.mqttTopic,
      payload: Buffer.from(d.payloadBase64, 'base64'),
      replayOf: { id: d.id, replays: d.replays + 1 },
    });
    // A lineage the record references is on the registry topic before the record (app.ts `persist`).
    const lineage = outcome.record.lineage;
    if (lineage !== undefined && !registered.has(lineage.ref)) {
      await producer.send(`${topicPrefix}${LINEAGE_REGISTRY_TOPIC}`, {
        key: lineage.ref,
        value: lineage.text,
      });
      registered.add(lineage.ref);
    }
    await producer.send(`${topicPrefix}${outcome.record.topic}`, {
      key: outcome.record.key,
      value: outcome.record.value,
      headers: outcome.record.headers,
    });
    results.push(
      outcome.kind === 'accepted'
        ? { id: d.id, outcome: 'accepted', topic: outcome.record.topic }
        : { id: d.id, outcome: 'rejected-again', code: outcome.deadLetter.code },
    );
  }
  return results;
}

/**
 * Replays letters by publishing them again, at QoS 1, on the replay tree (`{prefix}ondijon/replay/v1/…`,
 * which only the `replay` MQTT principal may publish to: `client` must be logged in as it), marked so
 * ingest keeps their id. Sealed letters are opened with `privateKey` (default:
 * ONDIJON_DEAD_LETTER_PRIVATE_KEY(_FILE)). A letter whose topic is not a telemetry topic under `mqttTopicPrefix` is not
 * replayable this way.
 */
export async function replayThroughMqtt(
  letters: DeadLetter[],
  client: MqttClient,
  mqttTopicPrefix = '',
  privateKey: KeyObject | undefined = privateKeyFromEnv(),
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for (const sealed of letters) {
    const d = openedPayload(sealed, privateKey);
    const topic = d?.mqttTopic === undefined ? undefined : replayTopicOf(d.mqttTopic, mqttTopicPrefix);
    if (d?.payloadBase64 == null || topic === undefined) {
      results.push({ id: sealed.id, outcome: 'not-replayable' });
      continue;
    }
    await client.publishAsync(topic, Buffer.from(d.payloadBase64, 'base64'), {
      qos: 1,
      properties: {
        userProperties: { [REPLAY_OF_PROPERTY]: d.id, [REPLAYS_PROPERTY]: String(d.replays + 1) },
      },
    });
    results.push({ id: d.id, outcome: 'republished' });
  }
  return results;
}
