/**
 * The simulator's own deterministic randomness (no Math.random): mulberry32, a 32-bit generator that
 * is fast, small and good enough for synthetic telemetry. Every stream is derived from the seed and
 * a label, so adding one equipment or fault kind does not shift the draws of the others.
 */

/** A deterministic random source. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Normal draw (Box–Muller). */
  normal(mean: number, sd: number): number;
  /** Poisson draw (Knuth below 30, normal approximation above). */
  poisson(lambda: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/** 32-bit FNV-1a hash of a string: turns labels into seeds. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32 as a class: one object per stream (cheaper than a bag of closures on hot paths). */
class Mulberry32 implements Rng {
  private a: number;

  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  normal(mean: number, sd: number): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(this.normal(lambda, Math.sqrt(lambda))));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= this.next();
    } while (p > l);
    return k - 1;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty array');
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** A random source from a numeric seed and labels (`rngFor(42, 'fault', 'SL-0001')`). */
export function rngFor(seed: number, ...labels: (string | number)[]): Rng {
  return new Mulberry32(hash32(`${seed}|${labels.join('|')}`));
}

/** A uniform value in [0, 1) that depends only on the labels (stateless noise). */
export function noise01(seed: number, ...labels: (string | number)[]): number {
  return new Mulberry32(hash32(`${seed}|${labels.join('|')}`)).next();
}
