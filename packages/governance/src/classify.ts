import {
  FAMILY_DOMAIN,
  type Family,
  OnDijonError,
  type Sensitivity,
  type StoredTelemetry,
  type Telemetry,
  type TopicName,
  maxSensitivity,
  storedTelemetrySchemas,
  telemetryTopicFor,
  toFieldIssues,
  formatIssues,
} from '@ondijon/contracts';
import { fieldPolicy, storedFieldClass } from './policy';
import type { FieldAction, GeneraliseRule, Policy } from './policy-schema';
import { type Keyring, pseudonymise } from './pseudonymise';

/** Result of applying the policy to one telemetry payload. */
export interface PolicyApplication<F extends Family = Family> {
  /** The data as stored on Kafka (parses with `storedTelemetrySchemas[family]`). */
  data: StoredTelemetry<F>;
  /** Class of the record: the maximum class of the fields that remain after the actions. */
  sensitivity: Sensitivity;
  /** Field → action actually applied (fields absent from the payload are not listed), for lineage. */
  fieldActions: Record<string, FieldAction>;
}

/** Options of `applyPolicy`. */
export interface ApplyPolicyOptions {
  /** Needed when the policy pseudonymises a field of the family. */
  keyring?: Keyring;
  /**
   * The caller already parsed `telemetry` with `telemetrySchemas[family]` (ingest does, to name the
   * bad field). Then, when every applied action is keep or drop, the output is a subset of that
   * validated input and the policy's load check guarantees the dropped fields are optional in the
   * stored schema, so the second zod parse is skipped (measured: it was half of ingest's validation
   * time). Any pseudonymise or generalise still re-validates the output. Default false.
   */
  inputValidated?: boolean;
}

/**
 * Applies the policy's field actions to a validated telemetry payload. Pseudonyms use the key epoch
 * of the observation time (not the wall clock), so a redelivered message gets the same pseudonym and
 * downstream stays idempotent. Throws ONDIJON_POLICY_UNKNOWN_FIELD for a field the policy does not
 * cover (a schema newer than the policy).
 */
export function applyPolicy<F extends Family>(
  policy: Policy,
  family: F,
  telemetry: Telemetry<F>,
  options: ApplyPolicyOptions = {},
): PolicyApplication<F> {
  const out: Record<string, unknown> = {};
  const fieldActions: Record<string, FieldAction> = {};
  const classes: Sensitivity[] = [];
  // Set by an action that computes a new value: its output is re-validated whatever the caller says.
  let transformed = false;
  for (const [field, value] of Object.entries(telemetry)) {
    if (value === undefined) continue;
    const fp = fieldPolicy(policy, family, field);
    if (!fp) {
      throw new OnDijonError(
        'ONDIJON_POLICY_UNKNOWN_FIELD',
        `policy ${policy.revision} has no class and action for ${family}.${field}`,
        {
          details: { family, field, policyRevision: policy.revision },
        },
      );
    }
    fieldActions[field] = fp.action;
    switch (fp.action) {
      case 'drop':
        continue;
      case 'keep':
        out[field] = value;
        break;
      case 'pseudonymise': {
        if (!options.keyring) {
          throw new OnDijonError(
            'ONDIJON_CONFIG_INVALID',
            `policy pseudonymises ${family}.${field} but no keyring was given`,
          );
        }
        // The key epoch is the keyring clock's (ingest's), never one chosen by the device through
        // `observedAt`: an old observation time cannot select a past epoch's key (and so link an agent
        // across epochs); a redelivery within the epoch still gets the same pseudonym.
        out[field] = pseudonymise(String(value), options.keyring, options.keyring.currentEpoch());
        transformed = true;
        break;
      }
      case 'generalise':
        out[field] = generalise(value, fp.rule!);
        transformed = true;
        break;
    }
    classes.push(storedFieldClass(fp)!);
  }
  if (options.inputValidated === true && !transformed) {
    return { data: out as StoredTelemetry<F>, sensitivity: maxSensitivity(...classes), fieldActions };
  }
  const parsed = storedTelemetrySchemas[family].safeParse(out);
  if (!parsed.success) {
    // The policy was validated against the same contracts, so this is a bug, not bad input.
    throw new OnDijonError(
      'ONDIJON_POLICY_INVALID',
      `policy ${policy.revision} produced invalid stored ${family} data: ${formatIssues(toFieldIssues(parsed.error))}`,
    );
  }
  return { data: parsed.data as StoredTelemetry<F>, sensitivity: maxSensitivity(...classes), fieldActions };
}

/** Applies a generalisation rule to a value. */
export function generalise(value: unknown, rule: GeneraliseRule): unknown {
  if (rule.kind === 'band') {
    if (typeof value !== 'number') return value;
    return Math.floor(value / rule.width) * rule.width;
  }
  const p = value as { lat: number; lon: number };
  const f = 10 ** rule.decimals;
  return { ...p, lat: Math.round(p.lat * f) / f, lon: Math.round(p.lon * f) / f };
}

/** True when the policy classes `source` (an MQTT family segment) S4: never ingested. */
export function isExcludedSource(policy: Policy, source: string): boolean {
  return policy.excludedSources.some((e) => e.source === source);
}

/** Class of an output: the maximum of the classes of its inputs (unless an approved anonymisation lowers it). */
export function classOfOutput(...inputs: Sensitivity[]): Sensitivity {
  return maxSensitivity(...inputs);
}

/**
 * The Kafka topic for telemetry of a family at a class (the registry's `telemetryTopicFor`, whose
 * names the policy's topic patterns were checked against at load); undefined for S4 or when no topic
 * is registered for that domain and class.
 */
export function topicFor(policy: Policy, family: Family, sensitivity: Sensitivity): TopicName | undefined {
  if (sensitivity === 'S4' || policy.topics[sensitivity] === null) return undefined;
  return telemetryTopicFor(FAMILY_DOMAIN[family], sensitivity);
}
