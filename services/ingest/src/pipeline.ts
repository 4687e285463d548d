import { createHash, type KeyObject } from 'node:crypto';
import {
  DATA_OWNER,
  HEADERS,
  SENSITIVITY_DESCRIPTIONS,
  TELEMETRY_SCHEMA_VERSION,
  eventId,
  formatIssues,
  stringifyAscii,
  toBinary,
  topicConstants,
  isOnDijonError,
  mqttReasonFor,
  parseTelemetryTopic,
  telemetryEventType,
  uuidFromName,
  validateTelemetry,
  WIRE_LIMITS,
  type DeadLetter,
  type Envelope,
  type Equipment,
  type ErrorCode,
  type Family,
  type FieldIssue,
  type LineageEntry,
  type Sensitivity,
} from '@ondijon/contracts';
import type { IngestPolicy } from './policy';
import type { EquipmentIndex } from './registry';
import { sealDeadLetter } from '@ondijon/governance';

/** Name of the service in dead letters and lineage. */
export const SERVICE_NAME = 'ingest';
/** Version carried in lineage. */
export const SERVICE_VERSION = '0.1.0';
/** The dead-letter topic of ingest (without test prefix). */
export const DEAD_LETTER_TOPIC = 'dlq.s3.ingest.v1';

/** One MQTT message as ingest received it. */
export interface IncomingMessage {
  /** Full MQTT topic, including any test prefix. */
  topic: string;
  payload: Buffer;
  /** Set when the message is a replay of a dead letter (its id and replay count so far + 1). */
  replayOf?: { id: string; replays: number };
}

/** Everything the pure per-message pipeline depends on. */
export interface PipelineContext {
  registry: EquipmentIndex;
  policy: IngestPolicy;
  /** Topic prefix stripped before the grammar is applied (tests). */
  mqttTopicPrefix: string;
  /** The replay tool's public key: dead letters are written sealed to it (seal.ts); in clear without one. */
  deadLetterKey?: KeyObject | undefined;
  maxPayloadBytes: number;
  maxFutureSkewMs: number;
  /** Oldest `observedAt` accepted, relative to the ingest clock (ms); older is a clock not set or a stale buffer. */
  maxPastAgeMs: number;
  /** Recently seen (equipment, seq) → payload hash, to tell a redelivery from a conflicting reuse of a sequence number. */
  sequences?: SequenceMemory;
  /**
   * CloudEvents content mode of accepted records (docs/architecture.md, "Record format"): `binary`
   * (default: attributes in `ce_*` headers, only `data` in the value) or `structured` (the whole
   * envelope as JSON in the value, the format written before; kept for comparisons, bench:bytes).
   */
  contentMode?: 'binary' | 'structured';
  /** Clock, injected for tests. */
  now(): Date;
}

/** A record to write to Kafka (the topic name is the registry name, without any test prefix). */
export interface OutgoingKafkaRecord {
  topic: string;
  key: string;
  value: string;
  headers: Readonly<Record<string, string>>;
  /**
   * The lineage registry entry the record references (`ce_lineageref`): it must be acknowledged on the
   * registry topic (`ref.s0.lineage.v1`) before the record is written (app.ts `persist`).
   */
  lineage?: LineageEntry;
  /**
   * The record timestamp (milliseconds since the epoch, decimal): a binary-mode telemetry record's
   * `ingestedat`, which then has no header (packages/contracts cloudevents-binary.ts).
   */
  timestamp?: string;
}

/** What became of a message. */
export type PipelineOutcome =
  | {
      kind: 'accepted';
      record: OutgoingKafkaRecord;
      eventId: string;
      equipmentId: string;
      sensitivity: Sensitivity;
    }
  | { kind: 'rejected'; record: OutgoingKafkaRecord; deadLetter: DeadLetter; reasonCode: number };

/** `S1 operational`: the class with the first words of its meaning, for the class header. */
export function classLabel(cls: Sensitivity): string {
  return `${cls} ${SENSITIVITY_DESCRIPTIONS[cls].split(' (')[0]}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A parsed logical topic and its source segment, as processMessage needs them. */
interface TopicFacts {
  parsed: ReturnType<typeof parseTelemetryTopic>;
  source: string;
  excluded: boolean;
}

/** Most topics remembered per context before the cache starts over (bounds memory with any topic set). */
const MAX_CACHED_TOPICS = 100_000;
/** Parsed topics per context (policy and prefix are fixed in a context; topics repeat per equipment). */
const topicCaches = new WeakMap<PipelineContext, Map<string, TopicFacts>>();

function topicFacts(ctx: PipelineContext, logical: string): TopicFacts {
  let cache = topicCaches.get(ctx);
  if (cache === undefined || cache.size >= MAX_CACHED_TOPICS) {
    cache = new Map();
    topicCaches.set(ctx, cache);
  }
  let facts = cache.get(logical);
  if (facts === undefined) {
    const parsed = parseTelemetryTopic(logical);
    const source = logical.split('/')[2] ?? '';
    facts = { parsed, source, excluded: parsed.kind === 'excluded' || ctx.policy.isExcludedSource(source) };
    cache.set(logical, facts);
  }
  return facts;
}

/**
 * Headers of an accepted record, one frozen object per class (shared, so the app can map each to Buffers
 * once). Only what docs/architecture.md ("Contracts") puts in headers, sensitivity and class, so tools route without parsing:
 * kafkajs allocates a 512-byte encoder per header (measured, services/ingest/bench: 28 µs to encode a
 * record with 4 string headers, 13 µs with these 2 as Buffers, 7 µs with none). Left out as copies of
 * the value: `ondijon_policyrevision` (the envelope's `policyrevision`) and `content-type` (every topic
 * of the registry holds structured CloudEvents JSON, and the registry, not a header, tells consumers
 * the format; a generic CloudEvents SDK would need the header to pick structured mode).
 */
export const ACCEPTED_HEADERS: Readonly<Record<Sensitivity, Readonly<Record<string, string>>>> =
  Object.freeze(
    Object.fromEntries(
      (Object.keys(SENSITIVITY_DESCRIPTIONS) as Sensitivity[]).map(
        (cls): [Sensitivity, Readonly<Record<string, string>>] => [
          cls,
          Object.freeze({ [HEADERS.sensitivity]: cls, [HEADERS.class]: classLabel(cls) }),
        ],
      ),
    ) as Record<Sensitivity, Readonly<Record<string, string>>>,
  );

interface Rejection {
  code: ErrorCode;
  reason: string;
  issues?: FieldIssue[];
  expectedSchema?: string;
  /** Event id when the message got far enough to have one. */
  eventId?: string;
  withheld?: 'excluded-source' | 'too-large';
  sensitivity?: Sensitivity;
}

/**
 * Runs one MQTT message through ingest's checks and the policy, and says what to write to Kafka:
 * the envelope on the topic of its class, or a dead letter. Pure apart from hashing; the order is
 * topic grammar and S4 first (so an excluded payload is never kept, whatever else is wrong with it),
 * then size, JSON, schema, registry, family and operator, policy.
 */
export function processMessage(ctx: PipelineContext, msg: IncomingMessage): PipelineOutcome {
  const receivedAt = ctx.now();

  // Bounded first: a 60 000-character topic costs milliseconds in every later step (hashing it as a key).
  if (msg.topic.length > WIRE_LIMITS.maxTopicChars) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_TOPIC_INVALID',
      reason: `topic is ${msg.topic.length} characters, over the ${WIRE_LIMITS.maxTopicChars}-character limit`,
    });
  }
  if (!msg.topic.startsWith(ctx.mqttTopicPrefix)) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_TOPIC_INVALID',
      reason: `topic is outside the ingest prefix ${ctx.mqttTopicPrefix}`,
    });
  }
  const logical = msg.topic.slice(ctx.mqttTopicPrefix.length);
  const { parsed, source, excluded } = topicFacts(ctx, logical);
  if (excluded || parsed.kind === 'excluded') {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_SOURCE_EXCLUDED',
      reason: `source "${source}" is classed S4 by the policy and never ingested; payload not kept`,
      withheld: 'excluded-source',
      sensitivity: 'S4',
    });
  }
  if (parsed.kind === 'invalid')
    return rejectMessage(ctx, msg, receivedAt, { code: 'ONDIJON_TOPIC_INVALID', reason: parsed.reason });
  const { family, operator, equipmentId } = parsed;

  if (msg.payload.length > ctx.maxPayloadBytes) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_PAYLOAD_TOO_LARGE',
      reason: `payload is ${msg.payload.length} bytes, over the ${ctx.maxPayloadBytes}-byte limit; payload not kept`,
      withheld: 'too-large',
      expectedSchema: family,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(msg.payload));
  } catch (error) {
    const why = error instanceof SyntaxError ? error.message : 'invalid UTF-8';
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_PAYLOAD_NOT_JSON',
      reason: `payload is not UTF-8 JSON: ${why}`,
      expectedSchema: family,
    });
  }
  const validation = validateTelemetry(family, json, {
    now: receivedAt.getTime(),
    maxFutureSkewMs: ctx.maxFutureSkewMs,
    fromJson: true,
  });
  if (!validation.ok) {
    // The event id, when the sequence number is usable, so a replay of the fixed message dedupes with it.
    const seq = (json as { seq?: unknown } | null)?.seq;
    const knownId =
      Number.isSafeInteger(seq) && (seq as number) >= 0 ? eventId(equipmentId, seq as number) : undefined;
    return rejectMessage(ctx, msg, receivedAt, {
      code: validation.futureTime ? 'ONDIJON_TIME_IN_FUTURE' : 'ONDIJON_SCHEMA_INVALID',
      reason: formatIssues(validation.issues),
      issues: validation.issues,
      expectedSchema: family,
      ...(knownId ? { eventId: knownId } : {}),
    });
  }
  const telemetry = validation.value;
  const id = eventId(equipmentId, telemetry.seq);
  const observed = Date.parse(telemetry.observedAt);
  if (observed < receivedAt.getTime() - ctx.maxPastAgeMs || observed < MIN_OBSERVED_AT) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_TIME_TOO_OLD',
      reason: `observedAt ${telemetry.observedAt} is before ${new Date(Math.max(MIN_OBSERVED_AT, receivedAt.getTime() - ctx.maxPastAgeMs)).toISOString()}, the oldest time ingest accepts (a device clock not set, or a buffer older than the limit)`,
      issues: [{ path: 'observedAt', code: 'time_too_old', message: 'before the oldest accepted time' }],
      eventId: id,
      expectedSchema: family,
    });
  }
  // The same (equipment, seq) with other content: the event id would be the same and downstream would
  // keep whichever came first, silently. The later one is dead-lettered instead, naming the first.
  const conflict = ctx.sequences?.remember(equipmentId, telemetry.seq, msg.payload);
  if (conflict !== undefined) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_SEQUENCE_CONFLICT',
      reason: `equipment ${equipmentId} already sent seq ${telemetry.seq} with other content (sha256 ${conflict.slice(0, 16)}…); the first one was kept`,
      eventId: `${id}-conflict-${sha256(msg.payload).slice(0, 16)}`,
      expectedSchema: family,
    });
  }

  const entry = ctx.registry.get(equipmentId);
  if (!entry) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_EQUIPMENT_UNKNOWN',
      reason: `equipment ${equipmentId} is not in registry revision ${ctx.registry.revision}`,
      eventId: id,
      expectedSchema: family,
    });
  }
  if (entry.family !== family) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_FAMILY_MISMATCH',
      reason: `topic family ${family} differs from the registry's ${entry.family} for ${equipmentId}`,
      eventId: id,
      expectedSchema: family,
    });
  }
  if (entry.operator !== operator) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_OPERATOR_MISMATCH',
      reason: `topic operator ${operator} is not the registry's operator of ${equipmentId}`,
      eventId: id,
      expectedSchema: family,
    });
  }

  let outcome;
  try {
    outcome = ctx.policy.apply(family, telemetry);
  } catch (error) {
    const code: ErrorCode = isOnDijonError(error) ? error.code : 'ONDIJON_POLICY_INVALID';
    return rejectMessage(ctx, msg, receivedAt, {
      code,
      reason: `policy ${ctx.policy.revision} could not be applied: ${error instanceof Error ? error.message : String(error)}`,
      eventId: id,
      expectedSchema: family,
    });
  }
  const topic = ctx.policy.topicFor(family, outcome.sensitivity);
  if (topic === undefined) {
    return rejectMessage(ctx, msg, receivedAt, {
      code: 'ONDIJON_POLICY_INVALID',
      reason: `policy ${ctx.policy.revision} routes ${family} records of class ${outcome.sensitivity} to no topic`,
      eventId: id,
      expectedSchema: family,
      sensitivity: outcome.sensitivity,
    });
  }

  const constants: EnvelopeConstants = {
    family,
    operator,
    equipmentId,
    entry,
    logical,
    policyRevision: ctx.policy.revision,
  };
  const variables: EnvelopeVariables = {
    id,
    time: telemetry.observedAt,
    data: outcome.data,
    ingestedat: receivedAt.toISOString(),
    sensitivity: outcome.sensitivity,
    sequence: telemetry.seq,
    fieldActions: outcome.fieldActions,
  };
  if (ctx.contentMode !== 'structured') {
    // Binary content mode: one module writes it (@ondijon/contracts cloudevents-binary.ts).
    // The lineage goes as a registry reference: the same for every record of a family at a policy
    // revision, its ~230 bytes were most of a record sent alone (docs/capacity.md, "Bytes per reading").
    // The record's key is the subject and its timestamp `ingestedat`: neither gets a header.
    const binary = toBinary(telemetryEnvelope(constants, variables), topicConstants(topic), {
      lineageRef: true,
      key: equipmentId,
      recordTimestamp: true,
    });
    const record: OutgoingKafkaRecord = {
      topic,
      key: equipmentId,
      value: binary.value,
      headers: binary.headers,
    };
    if (binary.lineage !== undefined) record.lineage = binary.lineage;
    if (binary.timestamp !== undefined) record.timestamp = binary.timestamp;
    return { kind: 'accepted', eventId: id, equipmentId, sensitivity: outcome.sensitivity, record };
  }
  return {
    kind: 'accepted',
    eventId: id,
    equipmentId,
    sensitivity: outcome.sensitivity,
    record: {
      topic,
      key: equipmentId,
      value: serialiseEnvelope(constants, variables),
      headers: ACCEPTED_HEADERS[outcome.sensitivity],
    },
  };
}

/** What an envelope takes from the topic, the registry and the policy: the same for every message of an equipment. */
export interface EnvelopeConstants {
  family: Family;
  operator: string;
  equipmentId: string;
  entry: Equipment;
  /** MQTT topic without the test prefix. */
  logical: string;
  policyRevision: string;
}

/** What changes from one message to the next. */
export interface EnvelopeVariables {
  id: string;
  time: string;
  data: unknown;
  ingestedat: string;
  sensitivity: Sensitivity;
  sequence: number;
  fieldActions: Record<string, string>;
}

/** The telemetry envelope (docs/architecture.md, "Contracts"): the one place its attributes and their order are written. */
export function telemetryEnvelope(k: EnvelopeConstants, v: EnvelopeVariables): Envelope {
  return {
    specversion: '1.0',
    id: v.id,
    source: `ondijon/${k.family}/${k.operator}/${k.equipmentId}`,
    type: telemetryEventType(k.family),
    subject: k.equipmentId,
    time: v.time,
    datacontenttype: 'application/json',
    dataschema: `urn:ondijon:schemas:telemetry/${k.family}.v1.json`,
    data: v.data,
    ingestedat: v.ingestedat,
    operator: k.operator,
    owner: DATA_OWNER,
    contractref: k.entry.contractRef,
    commune: k.entry.commune,
    sensitivity: v.sensitivity,
    policyrevision: k.policyRevision,
    schemaversion: TELEMETRY_SCHEMA_VERSION,
    sequence: v.sequence,
    mqtttopic: k.logical,
    lineage: {
      inputs: ['mqtt'],
      producer: SERVICE_NAME,
      producerVersion: SERVICE_VERSION,
      fieldActions: v.fieldActions,
    },
  };
}

/** The variable attributes, in the order `telemetryEnvelope` writes them. */
const VARIABLES = ['id', 'time', 'data', 'ingestedat', 'sensitivity', 'sequence', 'fieldActions'] as const;
const SLOT = (name: string) => `\u0001${name}\u0001`;
/** A slot as JSON.stringify writes it (control characters escaped), quotes included. */
const SLOT_IN_JSON = new RegExp(`"\\\\u0001(?:${VARIABLES.join('|')})\\\\u0001"`);

interface EnvelopeTemplate {
  logical: string;
  policyRevision: string;
  /** JSON text around the variables: VARIABLES.length + 1 parts, or undefined when a constant contains a slot marker. */
  parts: string[] | undefined;
}

/** Templates per registry entry (a new registry load has new entry objects, so stale ones are dropped with it). */
const templates = new WeakMap<Equipment, EnvelopeTemplate>();

function templateFor(k: EnvelopeConstants): EnvelopeTemplate {
  const cached = templates.get(k.entry);
  if (cached !== undefined && cached.logical === k.logical && cached.policyRevision === k.policyRevision)
    return cached;
  const slots = Object.fromEntries(
    VARIABLES.map((name) => [name, SLOT(name)]),
  ) as unknown as EnvelopeVariables;
  const parts = stringifyAscii(telemetryEnvelope(k, slots)).split(SLOT_IN_JSON);
  const template = {
    logical: k.logical,
    policyRevision: k.policyRevision,
    parts: parts.length === VARIABLES.length + 1 ? parts : undefined,
  };
  templates.set(k.entry, template);
  return template;
}

/**
 * `stringifyAscii(telemetryEnvelope(k, v))` (JSON, ASCII-only: see @ondijon/contracts wire.ts), the
 * same text, without re-serialising the attributes that
 * come from the registry and the policy for every message: they are written once per equipment into a
 * template and only the variables are stringified (envelope stringify 3.8 → about 1.5 µs, services/ingest/bench).
 */
export function serialiseEnvelope(k: EnvelopeConstants, v: EnvelopeVariables): string {
  const p = templateFor(k).parts;
  if (p === undefined) return stringifyAscii(telemetryEnvelope(k, v));
  // Only `data` may hold non-ASCII text: the other variables are ids, validated ISO times, an enum,
  // a number and field names.
  return (
    p[0]! +
    JSON.stringify(v.id) +
    p[1]! +
    JSON.stringify(v.time) +
    p[2]! +
    stringifyAscii(v.data) +
    p[3]! +
    JSON.stringify(v.ingestedat) +
    p[4]! +
    JSON.stringify(v.sensitivity) +
    p[5]! +
    JSON.stringify(v.sequence) +
    p[6]! +
    JSON.stringify(v.fieldActions) +
    p[7]!
  );
}

function rejectMessage(
  ctx: PipelineContext,
  msg: IncomingMessage,
  receivedAt: Date,
  r: Rejection,
): PipelineOutcome {
  const sha = sha256(msg.payload);
  const topicTooLong = msg.topic.length > WIRE_LIMITS.maxTopicChars;
  const topic = topicTooLong ? `${msg.topic.slice(0, WIRE_LIMITS.maxTopicChars)}…` : msg.topic;
  const topicRef = topicTooLong ? `sha256:${sha256(Buffer.from(msg.topic))}` : msg.topic;
  // Whatever the reason, a payload over the limit is not copied into the dead letter: only its size,
  // hash and first bytes (so a dead letter stays under Kafka's record limit, packages/contracts wire-limits).
  const withheld = r.withheld ?? (msg.payload.length > ctx.maxPayloadBytes ? 'too-large' : undefined);
  const id = msg.replayOf?.id ?? r.eventId ?? uuidFromName(`ondijon:dead-letter:${topicRef}:${sha}`);
  const issues = r.issues?.slice(0, WIRE_LIMITS.maxDeadLetterIssues).map(boundIssue);
  const omitted = (r.issues?.length ?? 0) - (issues?.length ?? 0);
  const reason = bounded(
    omitted > 0 && r.issues !== undefined
      ? `${formatIssues(issues!)}; and ${omitted} more issue(s)`
      : r.reason,
    WIRE_LIMITS.maxReasonChars,
  );
  const deadLetter: DeadLetter = {
    id,
    code: r.code,
    reason,
    ...(issues ? { issues } : {}),
    ...(omitted > 0 ? { issuesOmitted: omitted } : {}),
    origin: 'mqtt',
    mqttTopic: topic,
    ...(topicTooLong ? { mqttTopicChars: msg.topic.length } : {}),
    ...(r.expectedSchema ? { expectedSchema: r.expectedSchema } : {}),
    payloadBase64: withheld ? null : msg.payload.toString('base64'),
    payloadBytes: msg.payload.length,
    payloadSha256: sha,
    ...(withheld ? { payloadWithheld: withheld } : {}),
    ...(withheld === 'too-large'
      ? { payloadHeadBase64: msg.payload.subarray(0, WIRE_LIMITS.payloadHeadBytes).toString('base64') }
      : {}),
    // The dead-letter topic is S3: a payload that got no class yet is treated as possibly personal.
    sensitivity: r.sensitivity ?? 'S3',
    receivedAt: receivedAt.toISOString(),
    rejectedBy: SERVICE_NAME,
    replays: msg.replayOf?.replays ?? 0,
  };
  const written = ctx.deadLetterKey ? sealDeadLetter(deadLetter, ctx.deadLetterKey) : deadLetter;
  return {
    kind: 'rejected',
    deadLetter: written,
    reasonCode: mqttReasonFor(r.code),
    record: {
      topic: DEAD_LETTER_TOPIC,
      // A bounded key: kafkajs hashes the key of every record (134 ms for a 60 000-character topic).
      key: topicRef,
      value: JSON.stringify(written),
      headers: {
        [HEADERS.id]: id,
        [HEADERS.sensitivity]: 'S3',
        [HEADERS.class]: classLabel('S3'),
        [HEADERS.policyRevision]: ctx.policy.revision,
        ondijon_code: r.code,
      },
    },
  };
}

/** A dead letter in its smallest form: what Kafka cannot refuse, for a record it refused for good. */
export function minimalDeadLetter(
  ctx: PipelineContext,
  msg: IncomingMessage,
  why: string,
): Extract<PipelineOutcome, { kind: 'rejected' }> {
  const outcome = rejectMessage(ctx, msg, ctx.now(), {
    code: 'ONDIJON_RECORD_INVALID',
    reason: `Kafka refused the record for good (${bounded(why, 300)}); kept here without payload`,
    withheld: 'too-large',
  });
  return outcome as Extract<PipelineOutcome, { kind: 'rejected' }>;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function boundIssue(issue: FieldIssue): FieldIssue {
  return {
    path: bounded(issue.path, 200),
    message: bounded(issue.message, 300),
    code: bounded(issue.code, 64),
  };
}

/** The oldest observation time any device can have (the pipeline did not exist before): year 0000 or 1970 is a clock not set. */
export const MIN_OBSERVED_AT = Date.parse('2020-01-01T00:00:00Z');

/**
 * The last payload hashes of recent (equipment, seq) pairs, bounded in entries: enough to tell a
 * redelivery (same bytes) from a device reusing a sequence number with other content, within one
 * ingest process (across processes and restarts, downstream dedupe by event id keeps the first).
 */
export class SequenceMemory {
  private readonly hashes = new Map<string, string>();

  constructor(private readonly maxEntries = 200_000) {}

  /** Remembers the payload of (equipment, seq); returns the earlier hash when it differs, else undefined. */
  remember(equipmentId: string, seq: number, payload: Buffer): string | undefined {
    const key = `${equipmentId}\u0000${seq}`;
    const hash = sha256(payload);
    const earlier = this.hashes.get(key);
    if (earlier !== undefined) return earlier === hash ? undefined : earlier;
    if (this.hashes.size >= this.maxEntries) {
      // Drop the oldest eighth: Map iterates in insertion order.
      let drop = this.maxEntries >> 3;
      for (const k of this.hashes.keys()) {
        if (drop-- <= 0) break;
        this.hashes.delete(k);
      }
    }
    this.hashes.set(key, hash);
    return undefined;
  }
}

/**
 * The dead letter of a message on which ingest itself failed (a defect, not a bad message): it is
 * still written and acknowledged, so one poison message cannot stall a connection forever.
 */
export function failedMessage(ctx: PipelineContext, msg: IncomingMessage, error: unknown): PipelineOutcome {
  const why = error instanceof Error ? error.message : String(error);
  return rejectMessage(ctx, msg, ctx.now(), {
    code: 'ONDIJON_PROCESSOR_FAILED',
    reason: `ingest failed on the message: ${why}`,
  });
}
