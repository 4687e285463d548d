import { describe, expect, it } from 'vitest';
import { isOnDijonError } from '@ondijon/contracts';
import { PrivacyBudgetLedger } from '../../src/anonymisation/index';

const limits = { epsilonPerRelease: 0.5, epsilonPerDay: 1.0 };

describe('PrivacyBudgetLedger', () => {
  it('adds up releases of the same dataset and day and refuses beyond the daily budget', () => {
    const ledger = new PrivacyBudgetLedger();
    ledger.charge(
      { datasetId: 'winter-commune-day', day: '2026-01-10', releaseId: 'r1', epsilon: 0.5 },
      limits,
    );
    ledger.charge(
      { datasetId: 'winter-commune-day', day: '2026-01-10', releaseId: 'r2', epsilon: 0.5 },
      limits,
    );
    expect(ledger.spent('winter-commune-day', '2026-01-10')).toBeCloseTo(1.0);
    let error: unknown;
    try {
      ledger.charge(
        { datasetId: 'winter-commune-day', day: '2026-01-10', releaseId: 'r3', epsilon: 0.1 },
        limits,
      );
    } catch (e) {
      error = e;
    }
    expect(isOnDijonError(error, 'ONDIJON_BUDGET_EXHAUSTED')).toBe(true);
    expect(ledger.entries()).toHaveLength(2); // a refused spend is not recorded
    // Other days and datasets have their own budget.
    ledger.charge(
      { datasetId: 'winter-commune-day', day: '2026-01-11', releaseId: 'r4', epsilon: 0.5 },
      limits,
    );
    ledger.charge({ datasetId: 'other', day: '2026-01-10', releaseId: 'r5', epsilon: 0.5 }, limits);
  });

  it('refuses a release spending more than ε per release', () => {
    const ledger = new PrivacyBudgetLedger();
    expect(() =>
      ledger.charge({ datasetId: 'd', day: '2026-01-10', releaseId: 'r', epsilon: 0.6 }, limits),
    ).toThrow(/at most/);
  });

  it('accepts a spend exactly at the limit despite binary fractions', () => {
    const ledger = new PrivacyBudgetLedger();
    const l = { epsilonPerRelease: 0.1, epsilonPerDay: 0.3 };
    for (const r of ['a', 'b', 'c'])
      ledger.charge({ datasetId: 'd', day: 'x', releaseId: r, epsilon: 0.1 }, l);
    expect(ledger.remaining('d', 'x', l)).toBeCloseTo(0);
    expect(() => ledger.check('d', 'x', 0.01, l)).toThrow();
  });

  it('is rebuilt from stored entries', () => {
    const ledger = new PrivacyBudgetLedger([
      { datasetId: 'd', day: 'x', releaseId: 'r', epsilon: 1, spentAt: '2026-01-11T00:00:00Z' },
    ]);
    expect(() => ledger.check('d', 'x', 0.5, limits)).toThrow();
    expect(() => ledger.check('d', 'x', 0, limits)).not.toThrow();
  });
});
