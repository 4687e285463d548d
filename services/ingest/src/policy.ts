import {
  FAMILY_DOMAIN,
  EXCLUDED_SOURCE_FAMILIES,
  maxSensitivity,
  telemetryTopicFor,
  type Family,
  type Sensitivity,
  type Telemetry,
  type TopicName,
} from '@ondijon/contracts';

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

/**
 * A fixed policy equal to the defaults of infra/governance/policy.yaml (drop agentId and
 * presenceDetections, positions S2): for unit tests of the pipeline only; services load the real file.
 */
export function fixedTestPolicy(revision = 'test.1'): IngestPolicy {
  const drops: Partial<Record<Family, string[]>> = {
    streetlight: ['presenceDetections'],
    'winter-vehicle': ['agentId'],
  };
  const s2: Partial<Record<Family, string[]>> = { 'winter-vehicle': ['position'] };
  return {
    revision,
    isExcludedSource: (source) => (EXCLUDED_SOURCE_FAMILIES as readonly string[]).includes(source),
    apply(family, telemetry) {
      const data: Record<string, unknown> = { ...telemetry };
      const fieldActions: Record<string, string> = {};
      let sensitivity: Sensitivity = 'S1';
      for (const field of Object.keys(data)) {
        if (drops[family]?.includes(field)) {
          delete data[field];
          fieldActions[field] = 'drop';
        } else {
          fieldActions[field] = 'keep';
          if (s2[family]?.includes(field)) sensitivity = maxSensitivity(sensitivity, 'S2');
        }
      }
      return { data, sensitivity, fieldActions };
    },
    topicFor: (family, sensitivity) => telemetryTopicFor(FAMILY_DOMAIN[family], sensitivity),
  };
}
