import type { Rng } from './rng';

/**
 * One draw of discrete Laplace (two-sided geometric) noise with parameter ε: P(X = x) ∝ e^{-ε|x|}.
 * For a count whose sensitivity is 1 this is ε-differentially private. Drawn as the difference of
 * two geometric variables by inversion, which stays in integers (no floating-point Laplace leak of
 * the low-order bits, Mironov 2012).
 */
export function sampleDiscreteLaplace(epsilon: number, rng: Rng): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon))
    throw new RangeError('epsilon must be a positive finite number');
  return sampleGeometric(epsilon, rng) - sampleGeometric(epsilon, rng);
}

/** Geometric on {0, 1, …} with P(G ≥ k) = e^{-εk}. */
function sampleGeometric(epsilon: number, rng: Rng): number {
  const u = 1 - rng.next(); // (0, 1]: ln(0) never happens
  return Math.floor(-Math.log(u) / epsilon);
}

/** Variance of discrete Laplace noise with parameter ε: 2e^{-ε} / (1 − e^{-ε})². */
export function discreteLaplaceVariance(epsilon: number): number {
  const p = Math.exp(-epsilon);
  return (2 * p) / (1 - p) ** 2;
}

/** Where published noised values are remembered, so a value is never noised twice (averaging attack). */
export interface NoiseMemory {
  /** The noised value already drawn for this cell revision and field, if any. */
  get(key: NoiseKey): number | undefined;
  /** Remembers a drawn value. */
  set(key: NoiseKey, value: number): void;
}

/** Identity of one noised value: a cell, the revision of its input, and the field. */
export interface NoiseKey {
  cellId: string;
  revision: string | number;
  field: string;
}

function keyString(k: NoiseKey): string {
  return `${k.cellId}\u0000${k.revision}\u0000${k.field}`;
}

/** An in-memory noise memory (tests; the publisher seeds one from the previous releases in the store). */
export function createNoiseMemory(
  initial: Iterable<[NoiseKey, number]> = [],
): NoiseMemory & { readonly size: number } {
  const map = new Map<string, number>();
  for (const [k, v] of initial) map.set(keyString(k), v);
  return {
    get: (k) => map.get(keyString(k)),
    set: (k, v) => void map.set(keyString(k), v),
    get size() {
      return map.size;
    },
  };
}

/** Result of noising one value: the published value and whether fresh noise was drawn (which spends budget). */
export interface NoisedValue {
  value: number;
  fresh: boolean;
}

/**
 * Noises a count, or reuses the value already published for the same cell revision and field.
 * Negative results are clamped to 0: post-processing, so it costs no privacy, and counts stay counts.
 */
export function noiseCount(
  trueValue: number,
  key: NoiseKey,
  epsilon: number,
  rng: Rng,
  memory: NoiseMemory,
): NoisedValue {
  const remembered = memory.get(key);
  if (remembered !== undefined) return { value: remembered, fresh: false };
  const value = Math.max(0, Math.round(trueValue) + sampleDiscreteLaplace(epsilon, rng));
  memory.set(key, value);
  return { value, fresh: true };
}
