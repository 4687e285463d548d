// Size limits of the wire, set together from this one module (issue: a 0.8 MiB message under the MQTT
// broker's limit became a dead letter over Kafka's record limit and jammed ingest). The MQTT broker's
// packet limit (infra/stack/src/artemis.ts passes it to infra/artemis/broker.xml), Kafka's record limit
// (infra/stack/src/kafka.ts writes message.max.bytes) and ingest's bounds all come from here, and
// services/ingest/test/pipeline.test.ts checks that the largest record ingest can write fits.

/** The limits of every hop, bytes unless named otherwise. */
export const WIRE_LIMITS = Object.freeze({
  /** Largest MQTT packet the broker accepts (topic, properties and payload); larger ones are refused by the broker. */
  mqttMaxPacketBytes: 256 * 1024,
  /** Largest telemetry payload ingest accepts; a larger one is dead-lettered without its payload. */
  maxPayloadBytes: 64 * 1024,
  /** Longest MQTT topic ingest reads as given; a longer one is dead-lettered with its first characters and hash. */
  maxTopicChars: 256,
  /** Field issues kept in a dead letter (the rest are counted). */
  maxDeadLetterIssues: 20,
  /** Characters of a dead letter's reason. */
  maxReasonChars: 2_000,
  /** First bytes of a withheld payload kept in its dead letter (for a person to recognise it). */
  payloadHeadBytes: 256,
  /** Kafka's record batch limit (`message.max.bytes` of the brokers, `max.message.bytes` of topics). */
  kafkaMaxRecordBytes: 1024 * 1024,
});

/**
 * The largest dead letter ingest can write: a payload up to `maxPayloadBytes` kept as base64 (4/3),
 * bounded issues, reason and topic, and room for the other fields. A test keeps it under Kafka's limit.
 */
export function maxDeadLetterBytes(): number {
  const payload = Math.ceil(WIRE_LIMITS.maxPayloadBytes / 3) * 4;
  const issues = WIRE_LIMITS.maxDeadLetterIssues * (WIRE_LIMITS.maxReasonChars + 512);
  return payload + issues + 2 * WIRE_LIMITS.maxReasonChars + 4 * WIRE_LIMITS.maxTopicChars + 4_096;
}
