/** Temporal coarsening and publication delay of a dataset (the policy's `coarsening`). */
export interface CoarseningRule {
  minBinMinutes: number;
  publishDelayHours: number;
}

/** Floors for person-derived data (docs/architecture.md, "Open data"), whatever a policy says: ≥ 1 h bins, ≥ 24 h delay. */
export const PERSON_DERIVED_FLOOR: CoarseningRule = { minBinMinutes: 60, publishDelayHours: 24 };

/** The rule in force: the policy's, raised to the person-derived floor when the data derives from persons. */
export function effectiveCoarsening(rule: CoarseningRule, personDerived: boolean): CoarseningRule {
  if (!personDerived) return rule;
  return {
    minBinMinutes: Math.max(rule.minBinMinutes, PERSON_DERIVED_FLOOR.minBinMinutes),
    publishDelayHours: Math.max(rule.publishDelayHours, PERSON_DERIVED_FLOOR.publishDelayHours),
  };
}

/** Why a window may not be published now (empty when it may). */
export type CoarseningFailure = 'bin-too-fine' | 'too-recent';

/**
 * Checks a window against the rule: its bin is at least `minBinMinutes` and it ended at least
 * `publishDelayHours` before `now`. `binMinutes` is the bin's nominal length when it differs from
 * its duration: a local calendar day is a 1 440-minute bin though it lasts 23 or 25 hours on
 * daylight-saving days (default: the window's duration).
 */
export function coarseningFailures(
  windowStart: Date,
  windowEnd: Date,
  now: Date,
  rule: CoarseningRule,
  binMinutes: number = (windowEnd.getTime() - windowStart.getTime()) / 60_000,
): CoarseningFailure[] {
  const failures: CoarseningFailure[] = [];
  if (binMinutes < rule.minBinMinutes) failures.push('bin-too-fine');
  if (windowEnd.getTime() > now.getTime() - rule.publishDelayHours * 3_600_000) failures.push('too-recent');
  return failures;
}

/** The earliest instant a window ending at `windowEnd` may be published. */
export function publishableAt(windowEnd: Date, rule: CoarseningRule): Date {
  return new Date(windowEnd.getTime() + rule.publishDelayHours * 3_600_000);
}
