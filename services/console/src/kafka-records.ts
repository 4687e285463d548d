// How the console reads and writes Kafka record values: the one place that knows the wire format of
// telemetry records (CloudEvents in binary content mode, or structured as before, decided per record by
// packages/contracts' cloudevents-binary.ts; docs/architecture.md), so a change of format is made here only. The feed decodes telemetry and dead
// letters with it; the stream replay tool encodes a dead letter's envelope back into a record with it.
import type { IHeaders } from 'kafkajs';
import {
  DeadLetter,
  HEADERS,
  SENSITIVITY_DESCRIPTIONS,
  decodeRecordValue,
  type Sensitivity,
} from '@ondijon/contracts';

/** The envelope attributes the console's state reads from a telemetry record. */
export interface TelemetryEnvelope {
  subject?: string;
  time?: string;
  operator?: string;
  type?: string;
  data?: unknown;
}

/** A telemetry record's envelope, or undefined when the value is not one (the processors dead-letter it). */
export function decodeTelemetry(
  value: Buffer | null,
  headers?: IHeaders,
  topic?: string,
): TelemetryEnvelope | undefined {
  if (value === null) return undefined;
  try {
    // Binary mode (attributes in headers) or structured mode, per record.
    const v = decodeRecordValue(headers, value, topic);
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A dead letter, or undefined when the value is not one. */
export function decodeDeadLetter(value: Buffer | null): DeadLetter | undefined {
  if (value === null) return undefined;
  try {
    const parsed = DeadLetter.safeParse(JSON.parse(value.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The envelope a stream dead letter holds (its payload is the record value the processor could not use). */
export function envelopeOfStreamLetter(payload: Buffer): { subject?: string; operator?: string } | undefined {
  return decodeTelemetry(payload);
}

/**
 * The Kafka record that puts a stream dead letter's record back on its topic: the same value, keyed by
 * its subject (the equipment, as ingest keys telemetry), with the class headers ingest writes and the
 * id of the letter it replays.
 */
export function streamReplayRecord(
  letterId: string,
  payload: Buffer,
  sensitivity: Sensitivity,
): { key: string | null; value: Buffer; headers: Record<string, string> } {
  const env = envelopeOfStreamLetter(payload);
  return {
    key: typeof env?.subject === 'string' ? env.subject : null,
    value: payload,
    headers: {
      [HEADERS.sensitivity]: sensitivity,
      [HEADERS.class]: `${sensitivity} ${SENSITIVITY_DESCRIPTIONS[sensitivity].split(' (')[0]}`,
      'ondijon-replay-of': letterId,
    },
  };
}
