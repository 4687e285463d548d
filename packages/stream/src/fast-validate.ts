import {
  compileValidator,
  Envelope,
  storedTelemetrySchemas,
  TOPICS,
  type TopicName,
} from '@ondijon/contracts';
import { z } from 'zod';
import { familyOf } from './telemetry';

// Decoding is the hot path of every processor (bench:stream: zod parse of the whole envelope ≈ half
// of the decode cost). One compiled validator (compileValidator, in @ondijon/contracts) decides for
// the envelope's attributes and, separately, for `data` (the family's schema when `type` names one
// of the topic's families).
//
// Soundness rule: `fastParse` may only ACCEPT what the topic's zod schema accepts, with the same
// value. Whenever the compiled predicate is not sure, it returns `undefined` and the caller runs the
// full zod parse, which also builds the dead letter's issues (so a rejected record gets exactly the
// same reason and field paths). test/fast-validate.test.ts compares both on valid and mutated
// envelopes; packages/contracts/test/compile-validator.test.ts fuzzes the compiler against zod.

/**
 * The envelope's attributes, compiled from the `Envelope` schema itself (its `data` is `unknown`:
 * checked apart). True only if zod accepts the envelope's attributes unchanged (same keys, in schema
 * order). Undefined if the schema uses a construct the compiler does not model: every record then
 * takes the full zod parse.
 */
export const envelopeCheck = compileValidator(Envelope, { fromJson: true });

/** A schema of `data`, with its compiled predicate when it has one. */
interface DataCheck {
  schema: z.ZodType;
  /** True only if zod would accept `data` and output an equal value; undefined: always ask zod. */
  keeps: ((v: unknown) => boolean) | undefined;
}

interface TopicPlan {
  /** Schema of `data` when no family schema applies. */
  data: DataCheck;
  /** Family → the union member of `data` for that family (telemetry topics). */
  byFamily: Map<string, DataCheck>;
}

// `json` comes from JSON.parse (engine.ts decode).
const dataCheck = (schema: z.ZodType): DataCheck => ({
  schema,
  keeps: compileValidator(schema, { fromJson: true }),
});

const plans = new Map<TopicName, TopicPlan | null>();

function planFor(topic: TopicName): TopicPlan | null {
  let plan = plans.get(topic);
  if (plan !== undefined) return plan;
  plan = null;
  const schema = TOPICS[topic].schema as unknown as z.ZodType;
  if (envelopeCheck && schema instanceof z.ZodObject) {
    const shape = schema.shape as Record<string, z.ZodType>;
    const env = Envelope.shape as Record<string, z.ZodType>;
    const keys = Object.keys(shape);
    // Only envelopes built with envelopeOf(): the same attribute schemas (same objects), strict.
    const same =
      keys.length === Object.keys(env).length &&
      keys.every((k) => k === 'data' || shape[k] === env[k]) &&
      'data' in shape &&
      (schema._zod.def.catchall as z.ZodType | undefined)?._zod.def.type === 'never';
    if (same) {
      const data = shape.data!;
      const byFamily = new Map<string, DataCheck>();
      if (data instanceof z.ZodUnion) {
        const options = data.options as readonly z.ZodType[];
        for (const [family, s] of Object.entries(storedTelemetrySchemas))
          if (options.includes(s)) byFamily.set(family, dataCheck(s));
      }
      plan = { data: dataCheck(data), byFamily };
    }
  }
  plans.set(topic, plan);
  return plan;
}

/**
 * Validates a parsed JSON value against the schema of `topic` on the fast path. Returns the
 * validated value, or `undefined` when the caller must run the full zod parse (invalid, or not
 * sure). The returned value is `json` itself, with `data` kept when the compiled predicate of its
 * schema accepts it (zod's output would equal it) and replaced by zod's output otherwise.
 */
export function fastParse(topic: TopicName, json: unknown): { success: true; data: unknown } | undefined {
  const plan = planFor(topic);
  if (!plan || !envelopeCheck!(json)) return undefined;
  const envelope = json as Record<string, unknown> & { type: string };
  const family = familyOf(envelope);
  // A member of the union accepting `data` means the union accepts it; for these schemas (no
  // transforms or defaults) its output equals the union's.
  const check = (family !== undefined && plan.byFamily.get(family)) || plan.data;
  // The compiled predicate accepts only what zod accepts unchanged: `data` is kept, no zod call
  // and no copy (zod's safeParse of `data` was ≈1.5–2 µs and a copy per record in bench:stream).
  if (check.keeps?.(envelope.data)) return { success: true, data: json };
  const parsed = check.schema.safeParse(envelope.data);
  if (!parsed.success) return undefined;
  if (parsed.data !== undefined || 'data' in envelope) envelope.data = parsed.data;
  return { success: true, data: json };
}
