import { createHash } from 'node:crypto';
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
// of the decode cost). The fixed CloudEvents/OnDijon attributes are checked here by hand and only
// `data` goes through zod (the family's schema when `type` names one of the topic's families).
//
// Soundness rule: `fastParse` may only ACCEPT what the topic's zod schema accepts. Whenever it is
// not sure, it returns `undefined` and the caller runs the full zod parse, which also builds the
// dead letter's issues (so a rejected record gets exactly the same reason and field paths as
// before). Being stricter than zod is harmless (slow path); being looser is a bug, and
// test/fast-validate.test.ts compares both on valid and mutated envelopes.

/**
 * Fingerprint (sha256 of the JSON Schema) of the envelope attributes the hand-written check was
 * written against. If `Envelope` in @ondijon/contracts changes, the fast path switches itself off
 * (every record takes the full zod parse) until this check is reviewed and the fingerprint updated;
 * a unit test fails meanwhile.
 */
export const ENVELOPE_FINGERPRINT = '68e76f6675ebc8c6614e03b62c6a8d95566f4073d83c34740db05efb735a2ec0';

const envelopeJsonSchema = z.toJSONSchema(Envelope.omit({ data: true }), { unrepresentable: 'any' }) as {
  properties: Record<string, { pattern?: string }>;
};

/** The current fingerprint of `Envelope` (without `data`). */
export function envelopeFingerprint(): string {
  return createHash('sha256').update(JSON.stringify(envelopeJsonSchema)).digest('hex');
}

/** True when the hand-written envelope check matches the current `Envelope` schema. */
export const fastEnvelopeEnabled = envelopeFingerprint() === ENVELOPE_FINGERPRINT;

// Patterns taken from the schema itself (so they are zod's own regular expressions).
const DATETIME = new RegExp(envelopeJsonSchema.properties.time!.pattern!);
const TYPE = new RegExp(envelopeJsonSchema.properties.type!.pattern!);
const COMMUNE = new RegExp(envelopeJsonSchema.properties.commune!.pattern!);
const SENSITIVITIES = new Set<unknown>(['S0', 'S1', 'S2', 'S3', 'S4']);

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const isNatural = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function lineageOk(l: unknown): boolean {
  if (!isPlain(l)) return false;
  let required = 0;
  for (const k in l) {
    if (!Object.prototype.hasOwnProperty.call(l, k)) return false;
    const v = l[k];
    switch (k) {
      case 'inputs': {
        if (!Array.isArray(v) || v.length === 0) return false;
        for (const s of v) if (!isStr(s)) return false;
        required++;
        break;
      }
      case 'producer':
      case 'producerVersion':
        if (!isStr(v)) return false;
        required++;
        break;
      case 'window': {
        if (!isPlain(v)) return false;
        const keys = Object.keys(v);
        if (keys.length !== 2 || !('start' in v) || !('end' in v)) return false;
        if (!isStr(v.start) || !DATETIME.test(v.start) || !isStr(v.end) || !DATETIME.test(v.end))
          return false;
        break;
      }
      case 'countsByOperator':
        if (!isPlain(v)) return false;
        for (const c of Object.keys(v)) if (!isNatural(v[c])) return false;
        break;
      case 'fieldActions':
        if (!isPlain(v)) return false;
        for (const c of Object.keys(v)) if (!isStr(v[c])) return false;
        break;
      default:
        return false;
    }
  }
  return required === 3;
}

/** Hand-written check of every envelope attribute except `data` (strict: unknown keys fail). */
export function envelopeAttributesOk(e: unknown): e is Record<string, unknown> {
  if (!isPlain(e)) return false;
  let required = 0;
  let hasData = false;
  for (const k in e) {
    if (!Object.prototype.hasOwnProperty.call(e, k)) return false;
    const v = e[k];
    switch (k) {
      case 'specversion':
        if (v !== '1.0') return false;
        required++;
        break;
      case 'id':
      case 'source':
        if (!isNonEmpty(v)) return false;
        required++;
        break;
      case 'type':
        if (!isStr(v) || !TYPE.test(v)) return false;
        required++;
        break;
      case 'time':
      case 'ingestedat':
        if (!isStr(v) || !DATETIME.test(v)) return false;
        required++;
        break;
      case 'datacontenttype':
        if (v !== 'application/json') return false;
        required++;
        break;
      case 'owner':
        if (v !== 'Dijon Métropole') return false;
        required++;
        break;
      case 'dataschema':
      case 'operator':
      case 'contractref':
      case 'policyrevision':
      case 'schemaversion':
        if (!isStr(v)) return false;
        required++;
        break;
      case 'sensitivity':
        if (!SENSITIVITIES.has(v)) return false;
        required++;
        break;
      case 'subject':
      case 'mqtttopic':
        if (!isStr(v)) return false;
        break;
      case 'commune':
        if (!isStr(v) || !COMMUNE.test(v)) return false;
        break;
      case 'sequence':
        if (!isNatural(v)) return false;
        break;
      case 'lineage':
        if (!lineageOk(v)) return false;
        required++;
        break;
      case 'data':
        hasData = true;
        break;
      default:
        return false;
    }
  }
  // 15 required attributes besides `data` (`data` is z.unknown(): it may be absent).
  void hasData;
  return required === 15;
}

/** A schema of `data`, with its compiled predicate (see compile-validator.ts) when it has one. */
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
  if (fastEnvelopeEnabled && schema instanceof z.ZodObject) {
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
  if (!plan || !envelopeAttributesOk(json)) return undefined;
  const family = familyOf(json as { type: string });
  // A member of the union accepting `data` means the union accepts it; for these schemas (no
  // transforms or defaults) its output equals the union's.
  const check = (family !== undefined && plan.byFamily.get(family)) || plan.data;
  // The compiled predicate accepts only what zod accepts unchanged: `data` is kept, no zod call
  // and no copy (zod's safeParse of `data` was ≈1.5–2 µs and a copy per record in bench:stream).
  if (check.keeps?.(json.data)) return { success: true, data: json };
  const parsed = check.schema.safeParse(json.data);
  if (!parsed.success) return undefined;
  if (parsed.data !== undefined || 'data' in json) json.data = parsed.data;
  return { success: true, data: json };
}
