import { z } from 'zod';
import { Sensitivity } from './sensitivity';

/** Organisation that owns all data produced under the Métropole's contracts (sovereignty). */
export const DATA_OWNER = 'Dijon Métropole';
/** SIREN of Dijon Métropole. */
export const DATA_OWNER_SIREN = '242100410';

/** Lineage of a record: where it came from and what touched it. */
export const Lineage = z.strictObject({
  /** Kafka topics (or `mqtt`) read to produce this record. */
  inputs: z.array(z.string()).min(1),
  /** Service or processor that produced it, with its version. */
  producer: z.string(),
  producerVersion: z.string(),
  /** For aggregates: the window covered. */
  window: z
    .strictObject({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) })
    .optional(),
  /** For aggregates: input records counted per operator. */
  countsByOperator: z.record(z.string(), z.int().min(0)).optional(),
  /** Policy field actions applied (field → action). */
  fieldActions: z.record(z.string(), z.string()).optional(),
});
/** Lineage of a record. */
export type Lineage = z.infer<typeof Lineage>;

/**
 * Every record on Kafka is a CloudEvents 1.0 event in structured JSON mode, with OnDijon extension
 * attributes for provenance and sensitivity (docs/architecture.md, "Contracts"). `lineage` is an object-valued
 * extension: allowed in structured JSON mode, where CloudEvents extensions are JSON values.
 */
export const Envelope = z.strictObject({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().regex(/^fr\.dijon\.ondijon\.[a-z0-9.-]+$/),
  subject: z.string().optional(),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal('application/json'),
  dataschema: z.string(),
  data: z.unknown(),
  /** Ingest (or production) time. */
  ingestedat: z.iso.datetime({ offset: true }),
  /** Organisation that runs the equipment (or `ondijon` for derived records). */
  operator: z.string(),
  /** Owner of the data: always Dijon Métropole. */
  owner: z.literal(DATA_OWNER),
  /** Contract under which the data was produced. */
  contractref: z.string(),
  /** INSEE code of the commune (from the registry), when the record is located. */
  commune: z
    .string()
    .regex(/^\d{5}$/)
    .optional(),
  sensitivity: Sensitivity,
  policyrevision: z.string(),
  schemaversion: z.string(),
  /** Device sequence number (telemetry) or revision (aggregates). */
  sequence: z.int().min(0).optional(),
  mqtttopic: z.string().optional(),
  lineage: Lineage,
});
/** A CloudEvents envelope with OnDijon extensions; `data` is typed by the topic. */
export type Envelope<T = unknown> = Omit<z.infer<typeof Envelope>, 'data'> & { data: T };

/** An envelope whose `data` is checked with `data`. */
export function envelopeOf<T extends z.ZodType>(data: T) {
  return Envelope.extend({ data });
}

/** CloudEvents type of telemetry of a family: `fr.dijon.ondijon.telemetry.streetlight.v1`. */
export function telemetryEventType(family: string): string {
  return `fr.dijon.ondijon.telemetry.${family}.v1`;
}

/** Kafka header names (so tools can route without parsing the value). */
export const HEADERS = {
  id: 'ce_id',
  type: 'ce_type',
  source: 'ce_source',
  sensitivity: 'ondijon_sensitivity',
  policyRevision: 'ondijon_policyrevision',
  /** Sensitivity class name with its meaning, e.g. `S1 operational`. */
  class: 'ondijon_class',
} as const;
