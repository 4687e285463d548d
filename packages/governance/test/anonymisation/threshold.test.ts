import { describe, expect, it } from 'vitest';
import {
  coarseningFailures,
  dominatedFields,
  effectiveCoarsening,
  frequencyFailures,
  isDominated,
} from '../../src/anonymisation/index';

describe('frequency threshold', () => {
  const rule = { persons: 11, organisations: 3 };
  it('passes a cell with enough persons and organisations', () => {
    expect(frequencyFailures({ equipment: 20, operators: 3, persons: 11 }, rule)).toEqual([]);
  });
  it('fails a cell below either bound', () => {
    expect(frequencyFailures({ equipment: 20, operators: 3, persons: 10 }, rule)).toEqual([
      'threshold-persons',
    ]);
    expect(frequencyFailures({ equipment: 20, operators: 2, persons: 30 }, rule)).toEqual([
      'threshold-organisations',
    ]);
  });
  it('fails closed when the person count is absent', () => {
    expect(frequencyFailures({ equipment: 50, operators: 5 }, rule)).toEqual(['threshold-persons']);
  });
  it('checks equipment only when asked, and nothing without a rule', () => {
    expect(frequencyFailures({ equipment: 1, operators: 1 }, { equipment: 2 })).toEqual([
      'threshold-equipment',
    ]);
    expect(frequencyFailures({ equipment: 2, operators: 1 }, { equipment: 2 })).toEqual([]);
    expect(frequencyFailures({ equipment: 0, operators: 0 }, undefined)).toEqual([]);
  });
});

describe('dominance (n, k)', () => {
  it('flags a cell whose largest contributor exceeds 85 % (n=1)', () => {
    expect(isDominated(100, { top1: 86, top2: 5 }, 1, 0.85)).toBe(true);
    expect(isDominated(100, { top1: 85, top2: 10 }, 1, 0.85)).toBe(false);
  });
  it('adds the two largest for n=2', () => {
    expect(isDominated(100, { top1: 50, top2: 36 }, 2, 0.85)).toBe(true);
    expect(isDominated(100, { top1: 50, top2: 35 }, 2, 0.85)).toBe(false);
  });
  it('has nothing to reveal in a zero total', () => {
    expect(isDominated(0, { top1: 0, top2: 0 }, 1, 0.85)).toBe(false);
  });
  it('lists failing fields and fails closed when the top contributions are missing', () => {
    const rule = { n: 1 as const, k: 0.85, fields: ['saltKg', 'kmSalting', 'kmPatrol'] };
    expect(
      dominatedFields(
        { saltKg: 1000, kmSalting: 10, kmPatrol: 0 },
        { saltKg: { top1: 900, top2: 50 } },
        rule,
      ),
    ).toEqual(['saltKg', 'kmSalting']);
    expect(dominatedFields({ saltKg: 1000 }, { saltKg: { top1: 100, top2: 50 } }, undefined)).toEqual([]);
  });
});

describe('coarsening', () => {
  const rule = effectiveCoarsening({ minBinMinutes: 15, publishDelayHours: 1 }, true);
  it('raises person-derived data to ≥ 1 h bins and ≥ 24 h delay', () => {
    expect(rule).toEqual({ minBinMinutes: 60, publishDelayHours: 24 });
    expect(effectiveCoarsening({ minBinMinutes: 15, publishDelayHours: 1 }, false)).toEqual({
      minBinMinutes: 15,
      publishDelayHours: 1,
    });
  });
  it('refuses fine bins and windows that ended less than the delay ago', () => {
    const start = new Date('2026-01-10T07:00:00Z');
    expect(
      coarseningFailures(start, new Date('2026-01-10T07:15:00Z'), new Date('2026-01-12T00:00:00Z'), rule),
    ).toEqual(['bin-too-fine']);
    expect(
      coarseningFailures(start, new Date('2026-01-10T08:00:00Z'), new Date('2026-01-11T07:59:59Z'), rule),
    ).toEqual(['too-recent']);
    expect(
      coarseningFailures(start, new Date('2026-01-10T08:00:00Z'), new Date('2026-01-11T08:00:00Z'), rule),
    ).toEqual([]);
  });
  it('takes a calendar day as a day bin on a 23-hour daylight-saving day when told its nominal length', () => {
    const daily = { minBinMinutes: 1440, publishDelayHours: 24 };
    const [start, end] = [new Date('2026-03-28T23:00:00Z'), new Date('2026-03-29T22:00:00Z')];
    const now = new Date('2026-04-01T00:00:00Z');
    expect(coarseningFailures(start, end, now, daily)).toEqual(['bin-too-fine']);
    expect(coarseningFailures(start, end, now, daily, 1440)).toEqual([]);
  });
});
