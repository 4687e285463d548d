/**
 * Every error the pipeline reports has a code from this list (CONTRIBUTING.md rule 6). Dead letters carry
 * the code; `docs/error-codes.md` documents each one and a test keeps both in step.
 */
export const ERROR_CODES = {
  ONDIJON_PAYLOAD_NOT_JSON: { retryable: false, summary: 'The MQTT payload is not valid UTF-8 JSON.' },
  ONDIJON_PAYLOAD_TOO_LARGE: { retryable: false, summary: 'The MQTT payload exceeds the size limit.' },
  ONDIJON_TOPIC_INVALID: {
    retryable: false,
    summary: 'The MQTT topic does not follow ondijon/v1/{family}/{operator}/{equipmentId}.',
  },
  ONDIJON_SCHEMA_INVALID: {
    retryable: false,
    summary: 'The payload does not match the schema of its equipment family.',
  },
  ONDIJON_TIME_IN_FUTURE: { retryable: false, summary: 'The observation time is too far in the future.' },
  ONDIJON_TIME_TOO_OLD: {
    retryable: false,
    summary: 'The observation time is older than ingest accepts (a device clock not set, or a stale buffer).',
  },
  ONDIJON_SEQUENCE_CONFLICT: {
    retryable: false,
    summary: 'The equipment reused a sequence number with other content; the first message was kept.',
  },
  ONDIJON_EQUIPMENT_UNKNOWN: {
    retryable: false,
    summary: 'The equipment id is not in the equipment registry.',
  },
  ONDIJON_FAMILY_MISMATCH: {
    retryable: false,
    summary: "The topic's family differs from the registry's family for this equipment.",
  },
  ONDIJON_OPERATOR_MISMATCH: {
    retryable: false,
    summary:
      "The topic's operator is not the registry's operator of this equipment (spoofing or misconfiguration).",
  },
  ONDIJON_SOURCE_EXCLUDED: {
    retryable: false,
    summary:
      'The source is classed S4 (video, plate reads, police data) and is never ingested; its payload is not kept.',
  },
  ONDIJON_POLICY_INVALID: { retryable: false, summary: 'The governance policy file is invalid.' },
  ONDIJON_POLICY_UNKNOWN_FIELD: {
    retryable: false,
    summary: 'A field has no class and action in the governance policy.',
  },
  ONDIJON_REGISTRY_INVALID: {
    retryable: false,
    summary: 'The equipment registry file is unreadable, invalid, or has duplicate equipment ids.',
  },
  ONDIJON_CONFIG_INVALID: {
    retryable: false,
    summary: 'The service configuration (environment) is invalid.',
  },
  ONDIJON_SECRET_MISSING: {
    retryable: false,
    summary:
      'A secret the service needs in production (ONDIJON_ENV=production) is missing or too weak; the service does not start.',
  },
  ONDIJON_UNAUTHORIZED: {
    retryable: false,
    summary: 'An admin HTTP endpoint was called without the right bearer token.',
  },
  ONDIJON_FORBIDDEN: {
    retryable: false,
    summary:
      "A signed-in console user asked for what its role does not allow (another operator's equipment or rejections).",
  },
  ONDIJON_KAFKA_UNAVAILABLE: {
    retryable: true,
    summary: 'Kafka did not acknowledge the record; it will be retried.',
  },
  ONDIJON_REDIS_UNAVAILABLE: {
    retryable: true,
    summary: 'Redis did not answer; the operation will be retried.',
  },
  ONDIJON_RECORD_INVALID: {
    retryable: false,
    summary: 'A Kafka record does not match the schema of its topic (poison record).',
  },
  ONDIJON_LINEAGE_UNKNOWN: {
    retryable: false,
    summary:
      'A telemetry record names a lineage (`ce_lineageref`) that the lineage registry topic does not hold, even after reading it to its end.',
  },
  ONDIJON_PROCESSOR_FAILED: {
    retryable: false,
    summary: 'A processor threw on a record after its retries were exhausted.',
  },
  ONDIJON_STATE_FENCED: {
    retryable: false,
    summary: 'A stale processor instance tried to write state after losing its partition (epoch fencing).',
  },
  ONDIJON_RECORD_LATE: {
    retryable: false,
    summary: 'The record arrived after its window closed (window end + grace).',
  },
  ONDIJON_RELEASE_BLOCKED: {
    retryable: false,
    summary: 'The pre-release check failed; the open-data release was not written.',
  },
  ONDIJON_BUDGET_EXHAUSTED: {
    retryable: false,
    summary: 'The privacy budget of the dataset is spent for the period.',
  },
  ONDIJON_LEASE_LOST: {
    retryable: true,
    summary:
      'A publisher instance lost the release lease of its group to another one (fencing token superseded); its write was refused.',
  },
  ONDIJON_BAD_REQUEST: { retryable: false, summary: 'An API request has an invalid parameter.' },
  ONDIJON_NOT_FOUND: { retryable: false, summary: 'The requested resource does not exist.' },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

/** One of the pipeline's error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** All error codes, in declaration order. */
export const errorCodes = Object.keys(ERROR_CODES) as ErrorCode[];

/** An error with a code, a retryable flag and an optional cause. */
export class OnDijonError extends Error {
  /** The code of this error. */
  readonly code: ErrorCode;
  /** Whether retrying the same operation may succeed. */
  readonly retryable: boolean;
  /** Extra structured details (field paths, limits…), never raw personal data. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OnDijonError';
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    this.details = options.details;
  }
}

/** True when `err` is an OnDijonError (optionally of the given code). */
export function isOnDijonError(err: unknown, code?: ErrorCode): err is OnDijonError {
  return err instanceof OnDijonError && (code === undefined || err.code === code);
}
