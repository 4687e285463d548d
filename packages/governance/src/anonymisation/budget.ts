import { OnDijonError } from '@ondijon/contracts';

/** One spend of privacy budget: a release of a dataset for a period day. */
export interface BudgetEntry {
  datasetId: string;
  /** The period day the released data covers, `YYYY-MM-DD`: the persons exposed are that day's. */
  day: string;
  /** Release that spent it. */
  releaseId: string;
  epsilon: number;
  /** When it was spent, ISO 8601. */
  spentAt: string;
}

/** Limits of a dataset's budget (from the policy's `noise` rule). */
export interface BudgetLimits {
  epsilonPerRelease: number;
  epsilonPerDay: number;
}

// Sums of binary fractions such as 0.1 + 0.2 must not refuse a spend that is exactly at the limit.
const TOLERANCE = 1e-9;

/**
 * The privacy budget ledger: every ε spent per dataset and period day. Sequential composition: the ε
 * of all releases of the same day add up and must stay within `epsilonPerDay`.
 */
export class PrivacyBudgetLedger {
  readonly #entries: BudgetEntry[];

  /** A ledger holding `entries` (e.g. rebuilt from the release notes in the store). */
  constructor(entries: Iterable<BudgetEntry> = []) {
    this.#entries = [...entries];
  }

  /** ε already spent for a dataset and day. */
  spent(datasetId: string, day: string): number {
    return this.#entries
      .filter((e) => e.datasetId === datasetId && e.day === day)
      .reduce((s, e) => s + e.epsilon, 0);
  }

  /** ε left for a dataset and day. */
  remaining(datasetId: string, day: string, limits: BudgetLimits): number {
    return Math.max(0, limits.epsilonPerDay - this.spent(datasetId, day));
  }

  /** Throws `ONDIJON_BUDGET_EXHAUSTED` if spending `epsilon` would exceed the per-release or per-day limit. */
  check(datasetId: string, day: string, epsilon: number, limits: BudgetLimits): void {
    if (!(epsilon >= 0) || !Number.isFinite(epsilon))
      throw new RangeError('epsilon must be a finite number ≥ 0');
    if (epsilon > limits.epsilonPerRelease + TOLERANCE) {
      throw new OnDijonError(
        'ONDIJON_BUDGET_EXHAUSTED',
        `a release may spend at most ε=${limits.epsilonPerRelease}`,
        {
          details: { datasetId, day, epsilon, epsilonPerRelease: limits.epsilonPerRelease },
        },
      );
    }
    const spent = this.spent(datasetId, day);
    if (spent + epsilon > limits.epsilonPerDay + TOLERANCE) {
      throw new OnDijonError(
        'ONDIJON_BUDGET_EXHAUSTED',
        `the privacy budget of ${datasetId} for ${day} is spent`,
        {
          details: { datasetId, day, epsilon, spent, epsilonPerDay: limits.epsilonPerDay },
        },
      );
    }
  }

  /** Checks, then records a spend; returns the entry. A spend of 0 is recorded too (it is part of the public register). */
  charge(entry: Omit<BudgetEntry, 'spentAt'> & { spentAt?: string }, limits: BudgetLimits): BudgetEntry {
    this.check(entry.datasetId, entry.day, entry.epsilon, limits);
    const full: BudgetEntry = { ...entry, spentAt: entry.spentAt ?? new Date().toISOString() };
    this.#entries.push(full);
    return full;
  }

  /** Every entry, oldest first (the public register of budget spent). */
  entries(): readonly BudgetEntry[] {
    return [...this.#entries];
  }
}
