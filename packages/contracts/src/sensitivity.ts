import { z } from 'zod';

/**
 * Sensitivity classes (docs/architecture.md, "Sensitivity classes"). The governance policy is the authority on
 * which field has which class; this module only defines the scale and its order.
 */
export const Sensitivity = z.enum(['S0', 'S1', 'S2', 'S3', 'S4']);
/** A sensitivity class, S0 (public reference) to S4 (excluded, never ingested). */
export type Sensitivity = z.infer<typeof Sensitivity>;

/** Rank of a class on the S0 < S1 < … < S4 scale. */
export function sensitivityRank(s: Sensitivity): number {
  return Number(s.slice(1));
}

/** The highest class among `classes` (S0 when empty): an output is as sensitive as its most sensitive input. */
export function maxSensitivity(...classes: Sensitivity[]): Sensitivity {
  let max: Sensitivity = 'S0';
  for (const c of classes) if (sensitivityRank(c) > sensitivityRank(max)) max = c;
  return max;
}

/** Human description of each class, used in the register and in release notes. */
export const SENSITIVITY_DESCRIPTIONS: Record<Sensitivity, string> = {
  S0: 'public reference (equipment inventory and locations)',
  S1: 'operational (equipment state, energy, faults, counts)',
  S2: 'quasi-personal (positions without identity, presence, fine counts)',
  S3: 'personal (agent ids, pseudonyms, citizen reports)',
  S4: 'excluded (video, plate reads, police data): never ingested',
};
