import { randomFillSync } from 'node:crypto';

/** A source of uniform numbers in [0, 1): crypto-quality in production, seeded in tests. */
export interface Rng {
  /** A uniform number in [0, 1) with 53 bits of precision. */
  next(): number;
}

const TWO_POW_53 = 2 ** 53;

/**
 * Crypto-quality uniform numbers (node:crypto), for noise that is published: a seeded generator
 * would let anyone who guessed the seed subtract the noise.
 */
export function cryptoRng(): Rng {
  // Bytes are drawn 4 KiB at a time: one syscall per 512 numbers instead of one per number.
  const pool = Buffer.alloc(4096);
  let pos = pool.length;
  return {
    next() {
      if (pos + 8 > pool.length) {
        randomFillSync(pool);
        pos = 0;
      }
      const hi = pool.readUInt32BE(pos) >>> 11; // 21 bits
      const lo = pool.readUInt32BE(pos + 4); // 32 bits
      pos += 8;
      return (hi * 2 ** 32 + lo) / TWO_POW_53;
    },
  };
}

/** 128-bit seed from a string or number (cyrb128), so any test label can seed a generator. */
function seedWords(seed: string | number): [number, number, number, number] {
  const str = String(seed);
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

/** A deterministic generator (sfc32) for tests and reproducible simulations; never for published noise. */
export function seededRng(seed: string | number): Rng {
  let [a, b, c, d] = seedWords(seed);
  const next32 = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) next32(); // sfc32 needs a few rounds to mix a seed
  return {
    next() {
      const hi = next32() >>> 11;
      const lo = next32();
      return (hi * 2 ** 32 + lo) / TWO_POW_53;
    },
  };
}
