// How the console reads and writes Kafka record values: the one place that knows the wire format of
// telemetry records (CloudEvents in binary content mode, or structured as before, decided per record by
// packages/contracts' cloudevents-binary.ts; docs/architecture.md), so a change of format is made here only. The feed decodes telemetry and dead
// letters with it; the stream replay tool encodes a dead letter's envelope back into a record with it.
import type { IHeaders } from 'kafkajs';
import {
  CE_HEADERS,
  CE_SPECVERSION_HEADER,
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

/**
 * Every record header the console process reads: the four attributes of `decodeTelemetryForState` and
 * the binary-mode marker. The console's entry (main.ts) has the fetch decoder keep only these
 * (`setFetchHeaderSubset`). Not the lineage reference: the console shows no lineage, so without it its
 * consumers neither look each batch's references up nor follow the lineage registry topic
 * (packages/kafka consumer.ts).
 */
export const CONSOLE_HEADER_KEYS: readonly string[] = [
  CE_SPECVERSION_HEADER,
  CE_HEADERS.subject,
  CE_HEADERS.time,
  CE_HEADERS.operator,
  CE_HEADERS.type,
];

/** A telemetry record's envelope, or undefined when the value is not one (the processors dead-letter it). */
export function decodeTelemetry(
  value: Buffer | null,
  headers?: IHeaders,
  topic?: string,
  key?: Buffer | string | null,
): TelemetryEnvelope | undefined {
  if (value === null) return undefined;
  try {
    // Binary mode (attributes in headers) or structured mode, per record; the key is the subject of
    // telemetry that has no `ce_subject` header (packages/contracts cloudevents-binary.ts).
    const v = decodeRecordValue(headers, value, topic, true, { key });
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A header's text (kafkajs gives Buffers; a repeated value is a string of a few bytes, cheap to decode). */
function headerText(v: IHeaders[string]): string | undefined {
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : typeof one === 'string' ? one : one.toString('utf8');
}

/**
 * The subject (the equipment) of a binary-mode record: its `ce_subject` header, else the record's key.
 * Ingest keys each telemetry record by its equipment (services/ingest/src/pipeline.ts), so the header
 * repeats the key and a writer may leave it out.
 */
function subjectOf(headers: IHeaders, key: Buffer | string | null | undefined): string | undefined {
  const subject = headerText(headers[CE_HEADERS.subject]);
  if (subject !== undefined || key === null || key === undefined) return subject;
  return typeof key === 'string' ? key : key.toString('utf8');
}

/**
 * The envelope attributes the console reads, and only those, from a telemetry record: in binary mode
 * four headers (the subject falling back to the record's key, `subjectOf`) and the value (the data),
 * instead of the whole envelope `decodeTelemetry` rebuilds (every attribute, the lineage). The console
 * reads every S1 record at ingest's full rate, so this is per message (bench:console, docs/console.md);
 * a structured record is decoded as before.
 */
export function decodeTelemetryForState(
  value: Buffer | null,
  headers?: IHeaders,
  topic?: string,
  key?: Buffer | string | null,
): TelemetryEnvelope | undefined {
  if (value === null) return undefined;
  if (headers === undefined || headers[CE_SPECVERSION_HEADER] === undefined)
    return decodeTelemetry(value, headers, topic, key);
  let data: unknown;
  try {
    data = value.length === 0 ? null : (JSON.parse(value.toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
  return {
    subject: subjectOf(headers, key),
    time: headerText(headers[CE_HEADERS.time]),
    operator: headerText(headers[CE_HEADERS.operator]),
    type: headerText(headers[CE_HEADERS.type]),
    data,
  };
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
