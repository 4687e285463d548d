import { describe, expect, it } from 'vitest';
import {
  createNoiseMemory,
  cryptoRng,
  discreteLaplaceVariance,
  noiseCount,
  sampleDiscreteLaplace,
  seededRng,
} from '../../src/anonymisation/index';

describe('discrete Laplace noise', () => {
  for (const epsilon of [0.25, 0.5, 1, 2]) {
    it(`has mean ≈ 0 and variance ≈ 2e^-ε/(1-e^-ε)² for ε=${epsilon} (seeded, 200 000 draws)`, () => {
      const rng = seededRng(`noise-${epsilon}`);
      const n = 200_000;
      let sum = 0;
      let sumSq = 0;
      let nonIntegers = 0;
      for (let i = 0; i < n; i++) {
        const x = sampleDiscreteLaplace(epsilon, rng);
        if (!Number.isInteger(x)) nonIntegers++;
        sum += x;
        sumSq += x * x;
      }
      expect(nonIntegers).toBe(0);
      const mean = sum / n;
      const variance = sumSq / n - mean * mean;
      const expected = discreteLaplaceVariance(epsilon);
      // Standard error of the mean is sqrt(var/n); 5 of them is a generous but meaningful bound.
      expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(expected / n));
      expect(variance / expected).toBeGreaterThan(0.95);
      expect(variance / expected).toBeLessThan(1.05);
    });
  }

  it('matches the probability mass P(0) = (1-p)/(1+p)', () => {
    const epsilon = 1;
    const p = Math.exp(-epsilon);
    const rng = seededRng('pmf');
    const n = 100_000;
    let zeros = 0;
    for (let i = 0; i < n; i++) if (sampleDiscreteLaplace(epsilon, rng) === 0) zeros++;
    expect(zeros / n).toBeCloseTo((1 - p) / (1 + p), 2);
  });

  it('is deterministic with a seeded generator and differs between seeds', () => {
    const draw = (seed: string) =>
      Array.from(
        { length: 50 },
        (
          (rng) => () =>
            sampleDiscreteLaplace(0.5, rng)
        )(seededRng(seed)),
      );
    expect(draw('a')).toEqual(draw('a'));
    expect(draw('a')).not.toEqual(draw('b'));
  });

  it('draws crypto-quality uniforms in [0, 1)', () => {
    const rng = cryptoRng();
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 10_000; i++) {
      const u = rng.next();
      if (u < 0 || u >= 1) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    expect(sum / 10_000).toBeGreaterThan(0.45);
    expect(sum / 10_000).toBeLessThan(0.55);
  });

  it('refuses a non-positive ε', () => {
    expect(() => sampleDiscreteLaplace(0, seededRng(1))).toThrow(RangeError);
    expect(() => sampleDiscreteLaplace(-1, seededRng(1))).toThrow(RangeError);
  });
});

describe('noiseCount', () => {
  it('never re-noises a value: the same cell revision and field reuse the remembered draw', () => {
    const memory = createNoiseMemory();
    const rng = seededRng('memory');
    const key = { cellId: '21231|2026-01-10', revision: 0, field: 'vehiclesActive' };
    const first = noiseCount(20, key, 0.1, rng, memory);
    expect(first.fresh).toBe(true);
    for (let i = 0; i < 20; i++)
      expect(noiseCount(20, key, 0.1, rng, memory)).toEqual({ value: first.value, fresh: false });
    // A new revision is a new value: fresh noise (and budget) is needed.
    expect(noiseCount(21, { ...key, revision: 1 }, 0.1, rng, memory).fresh).toBe(true);
    expect(memory.size).toBe(2);
  });

  it('clamps at zero so counts stay counts', () => {
    const memory = createNoiseMemory();
    const rng = seededRng('clamp');
    for (let i = 0; i < 500; i++)
      expect(
        noiseCount(0, { cellId: `c${i}`, revision: 0, field: 'n' }, 0.2, rng, memory).value,
      ).toBeGreaterThanOrEqual(0);
  });
});
