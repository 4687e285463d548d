import {
  type DeadLetter,
  type FieldIssue,
  HEADERS,
  SENSITIVITY_DESCRIPTIONS,
  type Sensitivity,
  formatIssues,
  kafkaDeadLetter,
} from '@ondijon/contracts';

/** Where a rejected record was read, and what it should have been. */
export interface RejectedRecord {
  /** Topic the record was consumed from (the physical name, overrides applied): where to replay from. */
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | string | null;
  /** Registered topic whose schema the record failed (names the schema even when the topic is overridden). */
  expectedSchema: string;
  /** Class of the source topic: the most an aggregate on it may carry. */
  sensitivity: Sensitivity;
  /** Field issues of the failed parse; undefined when the value is not JSON at all. */
  issues?: FieldIssue[] | undefined;
}

/** Field issues kept on a dead letter, and named in its reason (the rest are counted). */
const MAX_ISSUES = 20;
const ISSUES_IN_REASON = 3;

/**
 * Builds the dead letter of an aggregate record that failed its schema. The id hashes topic, partition
 * and offset, so a batch replayed after a failed commit dead-letters the same id again (consumers dedupe).
 * The payload is kept: aggregates are at most S2, below the dead-letter topic's S3.
 */
export function deadLetterOf(record: RejectedRecord, now: Date = new Date()): DeadLetter {
  const bytes = record.value === null ? 0 : Buffer.byteLength(record.value);
  return kafkaDeadLetter(
    record,
    {
      code: 'ONDIJON_RECORD_INVALID',
      reason: reasonOf(record, bytes),
      issues: record.issues?.slice(0, MAX_ISSUES),
      idScope: 'publisher',
      rejectedBy: 'publisher',
      expectedSchema: record.expectedSchema,
      sensitivity: record.sensitivity,
    },
    now,
  );
}

function reasonOf(record: RejectedRecord, bytes: number): string {
  const where = `aggregate record at ${record.topic}[${record.partition}]@${record.offset}`;
  if (!record.issues) {
    // The JSON parser's message quotes the payload; the payload is kept apart, the reason stays clean.
    return record.value === null
      ? `${where} has no value (expected JSON of ${record.expectedSchema})`
      : `${where} is not JSON (${bytes} bytes; expected ${record.expectedSchema})`;
  }
  const shown = formatIssues(record.issues.slice(0, ISSUES_IN_REASON));
  const more = record.issues.length - ISSUES_IN_REASON;
  return `${where} does not match ${record.expectedSchema}: ${shown}${more > 0 ? `; and ${more} more` : ''}`;
}

/** Kafka headers of a dead letter, so tools route on sensitivity without parsing (docs/architecture.md, "Contracts"). */
export function deadLetterHeaders(letter: DeadLetter): Record<string, string> {
  return {
    [HEADERS.id]: letter.id,
    [HEADERS.sensitivity]: letter.sensitivity,
    [HEADERS.class]: `${letter.sensitivity} ${SENSITIVITY_DESCRIPTIONS[letter.sensitivity].split(' (')[0]}`,
  };
}
