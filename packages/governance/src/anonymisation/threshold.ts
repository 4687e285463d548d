/** Distinct contributors of a cell (the `contributors` of an aggregate record). */
export interface CellContributors {
  equipment: number;
  operators: number;
  persons?: number | undefined;
}

/** Minimum distinct contributors per published cell; an absent bound is not checked. */
export interface ThresholdRule {
  persons?: number | undefined;
  organisations?: number | undefined;
  equipment?: number | undefined;
}

/** Why a cell failed a rule (reported in release notes; never values). */
export type SensitivityReason =
  'threshold-persons' | 'threshold-organisations' | 'threshold-equipment' | 'dominance';

/**
 * Frequency threshold: the reasons a cell has too few distinct contributors (empty when it passes).
 * Every declared bound must hold. A person bound with no person count is a failure: the gate fails
 * closed when a processor did not say how many persons are behind a cell.
 */
export function frequencyFailures(
  contributors: CellContributors,
  rule: ThresholdRule | undefined,
): SensitivityReason[] {
  if (!rule) return [];
  const failures: SensitivityReason[] = [];
  if (
    rule.persons !== undefined &&
    (contributors.persons === undefined || contributors.persons < rule.persons)
  )
    failures.push('threshold-persons');
  if (rule.organisations !== undefined && contributors.operators < rule.organisations)
    failures.push('threshold-organisations');
  if (rule.equipment !== undefined && contributors.equipment < rule.equipment)
    failures.push('threshold-equipment');
  return failures;
}
