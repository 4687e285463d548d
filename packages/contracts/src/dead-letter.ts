import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors';
import { uuidFromName } from './ids';
import { Sensitivity } from './sensitivity';

/** Error code as a zod enum. */
export const ErrorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/**
 * A rejected message, with enough to understand and replay it. The raw payload is kept (base64) for
 * classes up to S3 (the dead-letter topic is classed S3, short retention); for an S4 source it is
 * never kept: only its size and SHA-256 remain.
 */
export const DeadLetter = z.strictObject({
  /** Stable id: the event id when known, else a hash of topic + payload. */
  id: z.string(),
  code: ErrorCodeSchema,
  /** Human reason, naming the field or the problem. */
  reason: z.string(),
  /** Field issues, when validation failed. */
  issues: z.array(z.strictObject({ path: z.string(), message: z.string(), code: z.string() })).optional(),
  /** Issues left out of `issues` (a dead letter is bounded whatever the input). */
  issuesOmitted: z.int().min(1).optional(),
  /** Where the message came from. */
  origin: z.enum(['mqtt', 'kafka']),
  mqttTopic: z.string().optional(),
  /** Length of the MQTT topic when it was too long to keep whole (`mqttTopic` then holds its beginning). */
  mqttTopicChars: z.int().min(1).optional(),
  kafkaTopic: z.string().optional(),
  kafkaPartition: z.int().optional(),
  kafkaOffset: z.string().optional(),
  /** Schema expected for the payload (family or topic name). */
  expectedSchema: z.string().optional(),
  /** Raw payload, base64; null when not kept (S4, or over the size limit). */
  payloadBase64: z.string().nullable(),
  payloadBytes: z.int().min(0),
  payloadSha256: z.string(),
  /** Why the payload was not kept, when it was not. */
  payloadWithheld: z.enum(['excluded-source', 'too-large']).optional(),
  /** First bytes of a payload withheld for its size, base64 (never of an excluded source). */
  payloadHeadBase64: z.string().optional(),
  /** Class of the payload as far as known (S4 for excluded sources). */
  sensitivity: Sensitivity,
  receivedAt: z.iso.datetime({ offset: true }),
  /** Service that rejected it. */
  rejectedBy: z.string(),
  /** Number of replays already attempted. */
  replays: z.int().min(0).default(0),
  /**
   * What the dead letter would otherwise keep in clear and may quote the payload (the payload, its first
   * bytes, the full reason and issue messages), sealed for the replay tool only: X25519 with a fresh
   * ephemeral key per letter, HKDF-SHA256, AES-256-GCM. `payloadBase64` is then null and `reason` and
   * the issues' messages have quoted fragments removed (packages/governance/src/seal.ts, docs/security.md).
   */
  sealed: z
    .strictObject({
      alg: z.literal('X25519-HKDF-SHA256-A256GCM'),
      /** First 16 hex digits of the SHA-256 of the recipient public key (SPKI DER). */
      keyId: z.string(),
      /** Ephemeral X25519 public key, SPKI DER, base64. */
      epk: z.string(),
      iv: z.string(),
      tag: z.string(),
      /** JSON `{ payloadBase64, payloadHeadBase64?, reason, issues? }`, encrypted, base64. */
      ciphertext: z.string(),
    })
    .optional(),
});
/** A dead-letter record. */
export type DeadLetter = z.infer<typeof DeadLetter>;

/** MQTT 5 PUBACK reason codes used by ingest when it rejects a message (MQTT 5.0 §3.4.2.1). */
export const MQTT_REASON = {
  success: 0x00,
  unspecifiedError: 0x80,
  implementationSpecificError: 0x83,
  notAuthorized: 0x87,
  topicNameInvalid: 0x90,
  quotaExceeded: 0x97,
  payloadFormatInvalid: 0x99,
} as const;

/** The MQTT 5 reason code ingest answers for each rejection code. */
export function mqttReasonFor(code: ErrorCode): number {
  switch (code) {
    case 'ONDIJON_PAYLOAD_NOT_JSON':
    case 'ONDIJON_SCHEMA_INVALID':
    case 'ONDIJON_TIME_IN_FUTURE':
    case 'ONDIJON_TIME_TOO_OLD':
      return MQTT_REASON.payloadFormatInvalid;
    case 'ONDIJON_PAYLOAD_TOO_LARGE':
      return MQTT_REASON.quotaExceeded;
    case 'ONDIJON_TOPIC_INVALID':
      return MQTT_REASON.topicNameInvalid;
    case 'ONDIJON_OPERATOR_MISMATCH':
    case 'ONDIJON_SOURCE_EXCLUDED':
      return MQTT_REASON.notAuthorized;
    default:
      return MQTT_REASON.implementationSpecificError;
  }
}

/** What every consumer knows of a Kafka record it rejects. */
export interface RejectedKafkaRecord {
  /** Topic the record was read from (the physical name: where to replay from). */
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | string | null;
}

/** The rest of a Kafka-origin dead letter: who rejected the record, why, and what it should have been. */
export interface KafkaRejection {
  code: ErrorCode;
  reason: string;
  issues?: DeadLetter['issues'] | undefined;
  /** Names the rejector in the id (`ondijon:dlq:{idScope}:{topic}:{partition}:{offset}`). */
  idScope: string;
  rejectedBy: string;
  expectedSchema: string;
  sensitivity: Sensitivity;
}

/**
 * The dead letter of a Kafka record that a consumer cannot use (processors, publisher). The id hashes
 * the rejector and the record's position, so a batch replayed after a failed commit gives the same id
 * (consumers dedupe); the payload is kept: records on our topics are at most S3, the class of the DLQ.
 */
export function kafkaDeadLetter(
  record: RejectedKafkaRecord,
  rejection: KafkaRejection,
  now = new Date(),
): DeadLetter {
  const payload =
    record.value === null
      ? Buffer.alloc(0)
      : Buffer.isBuffer(record.value)
        ? record.value
        : Buffer.from(record.value);
  return {
    id: uuidFromName(`ondijon:dlq:${rejection.idScope}:${record.topic}:${record.partition}:${record.offset}`),
    code: rejection.code,
    reason: rejection.reason,
    ...(rejection.issues ? { issues: rejection.issues } : {}),
    origin: 'kafka',
    kafkaTopic: record.topic,
    kafkaPartition: record.partition,
    kafkaOffset: record.offset,
    expectedSchema: rejection.expectedSchema,
    payloadBase64: payload.toString('base64'),
    payloadBytes: payload.length,
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
    sensitivity: rejection.sensitivity,
    receivedAt: now.toISOString(),
    rejectedBy: rejection.rejectedBy,
    replays: 0,
  };
}
