import {
  DATA_OWNER,
  eventId,
  FAMILY_DOMAIN,
  telemetryEventType,
  TELEMETRY_SCHEMA_VERSION,
  type Envelope,
  type Family,
  type Sensitivity,
  type StoredTelemetry,
} from '@ondijon/contracts';

/** Options of `telemetryEnvelope`. */
export interface TelemetryEnvelopeOptions {
  /** Equipment id (envelope `subject`). */
  equipmentId: string;
  /** Operator (default `op-test`). */
  operator?: string;
  /** INSEE commune code (default Dijon, 21231). */
  commune?: string;
  /** Class (default S1). */
  sensitivity?: Sensitivity;
  /** Event id (default: deterministic from equipment id and `data.seq`, as ingest does). */
  id?: string;
}

/**
 * A stored-telemetry envelope as ingest writes it on `tel.*` topics, for tests and examples:
 * `time` is `data.observedAt`, the id derives from equipment id and device sequence.
 */
export function telemetryEnvelope<F extends Family>(
  family: F,
  data: StoredTelemetry<F>,
  options: TelemetryEnvelopeOptions,
): Envelope<StoredTelemetry<F>> {
  const operator = options.operator ?? 'op-test';
  const d = data as { seq: number; observedAt: string };
  return {
    specversion: '1.0',
    id: options.id ?? eventId(options.equipmentId, d.seq),
    source: `ondijon/${family}/${operator}/${options.equipmentId}`,
    type: telemetryEventType(family),
    subject: options.equipmentId,
    time: d.observedAt,
    datacontenttype: 'application/json',
    dataschema: `urn:ondijon:telemetry:${family}:${TELEMETRY_SCHEMA_VERSION}`,
    data,
    ingestedat: d.observedAt,
    operator,
    owner: DATA_OWNER,
    contractref: 'DM-TEST-2021',
    commune: options.commune ?? '21231',
    sensitivity: options.sensitivity ?? 'S1',
    policyrevision: 'test-1',
    schemaversion: TELEMETRY_SCHEMA_VERSION,
    sequence: d.seq,
    mqtttopic: `ondijon/v1/${family}/${operator}/${options.equipmentId}`,
    lineage: { inputs: ['mqtt'], producer: 'ingest', producerVersion: '0.0.0-test' },
  };
}

/** The domain telemetry topic of a family and class (`tel.s1.lighting.v1`…). */
export function telemetryTopicOf(family: Family, cls: 'S1' | 'S2' = 'S1'): string {
  return `tel.${cls.toLowerCase()}.${FAMILY_DOMAIN[family]}.v1`;
}
