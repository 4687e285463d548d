import type { Family, Sensitivity, Telemetry, TopicName } from '@ondijon/contracts';

/** Result of the policy's field actions on one message. */
export interface PolicyOutcome {
  /** Telemetry after drop / pseudonymise / generalise. */
  data: Record<string, unknown>;
  /** Class of what remains (max of the remaining fields). */
  sensitivity: Sensitivity;
  /** Field → action applied, for lineage. */
  fieldActions: Record<string, string>;
}

/** What ingest needs of the governance policy (a port, so the pipeline is testable with any policy). */
export interface IngestPolicy {
  /** Policy revision, carried as `policyrevision`. */
  readonly revision: string;
  /** True when the source (MQTT family segment) is classed S4 and never ingested. */
  isExcludedSource(source: string): boolean;
  /** Applies the field actions to telemetry already validated against its family schema; throws an `OnDijonError` when the policy cannot. */
  apply(family: Family, telemetry: Telemetry): PolicyOutcome;
  /** Kafka topic of a family's records of a class, or undefined when the policy routes them nowhere. */
  topicFor(family: Family, sensitivity: Sensitivity): TopicName | undefined;
}
