import { z } from 'zod';
import { Sensitivity } from '@ondijon/contracts';

/** Field actions the policy can order (docs/architecture.md, "Sensitivity classes": keep / pseudonymise / generalise / drop). */
export const FieldAction = z.enum(['keep', 'pseudonymise', 'generalise', 'drop']);
/** A field action. */
export type FieldAction = z.infer<typeof FieldAction>;

/** A generalisation rule: round WGS84 coordinates to `decimals` places, or floor a number to a band of `width`. */
export const GeneraliseRule = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('round-coordinates'), decimals: z.int().min(0).max(6) }),
  z.strictObject({ kind: z.literal('band'), width: z.number().positive() }),
]);
/** A generalisation rule. */
export type GeneraliseRule = z.infer<typeof GeneraliseRule>;

/**
 * What the policy says about one field. `class` is the class of the raw field; `storedClass` (only
 * for `generalise`) is the class after an approved generalisation, defaulting to `class`.
 * Kept, pseudonymised and generalised fields name the declared use (`purpose`, an id of `uses`)
 * that justifies them; dropped fields say why (`reason`). These rules are checked after parsing.
 */
export const FieldPolicy = z.strictObject({
  class: Sensitivity,
  action: FieldAction,
  purpose: z.string().min(1).optional(),
  reason: z.string().min(1).optional(),
  rule: GeneraliseRule.optional(),
  storedClass: Sensitivity.optional(),
  note: z.string().optional(),
});
/** What the policy says about one field. */
export type FieldPolicy = z.infer<typeof FieldPolicy>;

/** The policy of one equipment family: every field of its telemetry schema. */
export const FamilyPolicy = z.strictObject({
  fields: z.record(z.string(), FieldPolicy),
});
/** The policy of one equipment family. */
export type FamilyPolicy = z.infer<typeof FamilyPolicy>;

/** Anonymisation rules of one open-data dataset, enforced by the publisher's gate. */
export const DatasetPolicy = z.strictObject({
  title: z.string().min(1),
  /** Aggregate topic the dataset is released from (a registry topic of area `agg`). */
  sourceTopic: z.string(),
  /** Whether the data derives from persons (then thresholds on persons, coarsening and noise apply). */
  personDerived: z.boolean(),
  /** Minimum distinct contributors per published cell; absent for equipment-only data. */
  threshold: z
    .strictObject({
      persons: z.int().min(2).optional(),
      organisations: z.int().min(2).optional(),
      equipment: z.int().min(1).optional(),
    })
    .optional(),
  /** (n, k) dominance on sums: a cell is suppressed when its n largest contributors exceed k of the total. */
  dominance: z
    .strictObject({
      n: z.union([z.literal(1), z.literal(2)]),
      k: z.number().gt(0).lt(1),
      fields: z.array(z.string()).min(1),
    })
    .optional(),
  /** Spatial and temporal coarsening. */
  coarsening: z.strictObject({
    spatial: z.enum(['commune', 'intersection']).optional(),
    minBinMinutes: z.int().min(1),
    publishDelayHours: z.number().min(0),
  }),
  /** Noise on person-derived counts, with its privacy budget. */
  noise: z
    .strictObject({
      mechanism: z.literal('discrete-laplace'),
      epsilonPerRelease: z.number().positive(),
      epsilonPerDay: z.number().positive(),
      fields: z.array(z.string()).min(1),
    })
    .optional(),
});
/** Anonymisation rules of one open-data dataset. */
export type DatasetPolicy = z.infer<typeof DatasetPolicy>;

/** An entry of the data uses register: who uses what data, for what purpose, on which legal basis. */
export const DataUse = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  who: z.string().min(1),
  /** Families, `family.field`, or topic names. */
  data: z.array(z.string()).min(1),
  purpose: z.string().min(1),
  legalBasis: z.string().min(1),
});
/** A data use. */
export type DataUse = z.infer<typeof DataUse>;

const perClass = <T extends z.ZodType>(t: T) => z.strictObject({ S0: t, S1: t, S2: t, S3: t, S4: t });

/** The governance policy file (`infra/governance/policy.yaml`). */
export const PolicyFile = z.strictObject({
  /** Revision id, `YYYY-MM-DD.N`; carried as `policyrevision` in every envelope. */
  revision: z.string().regex(/^\d{4}-\d{2}-\d{2}\.\d+$/, 'expected YYYY-MM-DD.N'),
  owner: z.string().min(1),
  changelog: z
    .array(
      z.strictObject({
        revision: z.string(),
        date: z.iso.date(),
        author: z.string().min(1),
        changes: z.array(z.string()).min(1),
      }),
    )
    .min(1),
  classes: perClass(z.strictObject({ description: z.string().min(1) })),
  /** Raw retention per class in days (null: while current). */
  retention: perClass(z.strictObject({ days: z.int().min(0).nullable(), basis: z.string().min(1) })),
  /** Kafka topic pattern per class, `{domain}` substituted; null for S4. */
  topics: perClass(z.string().nullable()),
  excludedSources: z.array(
    z.strictObject({ source: z.string().min(1), class: z.literal('S4'), reason: z.string().min(1) }),
  ),
  pseudonymisation: z.strictObject({
    algorithm: z.literal('HMAC-SHA-256'),
    keyDerivation: z.literal('HKDF-SHA-256'),
    epochLengthDays: z.int().min(1).max(366),
    secretEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
    prefix: z.string().regex(/^[a-z]+$/),
  }),
  uses: z.array(DataUse).min(1),
  families: z.record(z.string(), FamilyPolicy),
  datasets: z.record(z.string(), DatasetPolicy),
});
/** A validated governance policy; `source` says where it was read from. */
export type Policy = z.infer<typeof PolicyFile> & { source: string };
