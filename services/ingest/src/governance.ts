import {
  applyPolicy,
  defaultPolicyPath,
  isExcludedSource,
  keyringFromEnv,
  loadPolicy,
  topicFor,
  type Keyring,
  type Policy,
} from '@ondijon/governance';
import type { IngestPolicy } from './policy';

/** Adapts a loaded governance policy and keyring to what ingest needs. */
export function ingestPolicyOf(policy: Policy, keyring: Keyring): IngestPolicy {
  return {
    revision: policy.revision,
    isExcludedSource: (source) => isExcludedSource(policy, source),
    // The pipeline calls apply only with telemetry validateTelemetry accepted: the second parse is skipped
    // when only keep/drop applied (about half of ingest's zod time, services/ingest/bench).
    apply: (family, telemetry) => applyPolicy(policy, family, telemetry, { keyring, inputValidated: true }),
    topicFor: (family, sensitivity) => topicFor(policy, family, sensitivity),
  };
}

/**
 * Loads the governance policy (`POLICY_FILE`, or the default infra/governance/policy.yaml) and the
 * pseudonymisation keyring from the environment; `usingDevSecret` tells main.ts to warn.
 */
export function loadIngestPolicy(
  policyFile: string,
  env: NodeJS.ProcessEnv = process.env,
): { policy: IngestPolicy; usingDevSecret: boolean } {
  const policy = loadPolicy(policyFile === '' ? defaultPolicyPath() : policyFile);
  const keyring = keyringFromEnv(env, {
    epochLengthDays: policy.pseudonymisation.epochLengthDays,
    secretEnv: policy.pseudonymisation.secretEnv,
  });
  return { policy: ingestPolicyOf(policy, keyring), usingDevSecret: keyring.usingDevSecret };
}
