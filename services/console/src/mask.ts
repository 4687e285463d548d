// What the console shows of a dead letter's payload (issue 15: "the payload shown only for S0/S1 sources,
// masked otherwise"). The dead-letter topic is S3 as a whole because a rejected payload has not been
// classified yet; the console classifies it with the governance policy, field by field:
// - a field the policy classes S0/S1 is shown; any other field (S2+, or unknown to the policy) is masked;
// - a payload that is not a JSON object is shown only when every field of its family is S0/S1 (its
//   source is S0/S1), masked otherwise;
// - an excluded (S4) source's payload is never kept by ingest, so there is nothing to show.
// The governance officer may reveal a masked payload (audited, see app.ts).
import { type Family, FAMILIES, sensitivityRank, type Sensitivity } from '@ondijon/contracts';
import { type Policy, fieldPolicy } from '@ondijon/governance';

/** The text shown in place of a masked value. */
export const MASK = '•••';

/** What the console shows of a payload. */
export interface ShownPayload {
  /** `shown` (whole), `partial` (some fields masked), `masked` (nothing shown), `absent` (not kept). */
  status: 'shown' | 'partial' | 'masked' | 'absent';
  /** The text to show (fields above S1 replaced by MASK), or null. */
  text: string | null;
  /** Fields masked. */
  maskedFields: string[];
}

/** The highest class a family's raw payload may hold according to the policy (its source class). */
export function sourceClass(policy: Policy, family: Family | undefined): Sensitivity {
  if (family === undefined) return 'S3';
  const fields = policy.families[family]?.fields ?? {};
  let max = 0;
  for (const fp of Object.values(fields)) max = Math.max(max, sensitivityRank(fp.class));
  return `S${max}` as Sensitivity;
}

/** Whether `name` is a family of the pipeline. */
export function asFamily(name: string | undefined): Family | undefined {
  return name !== undefined && (FAMILIES as readonly string[]).includes(name) ? (name as Family) : undefined;
}

/** The payload of a dead letter as the console may show it (see the module comment). */
export function maskPayload(
  policy: Policy,
  family: Family | undefined,
  payloadBase64: string | null,
  sensitivity: Sensitivity,
): ShownPayload {
  if (payloadBase64 === null || sensitivity === 'S4') return { status: 'absent', text: null, maskedFields: [] };
  const text = Buffer.from(payloadBase64, 'base64').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (family !== undefined && json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const masked: string[] = [];
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
      const fp = fieldPolicy(policy, family, key);
      if (fp !== undefined && sensitivityRank(fp.class) <= 1) out[key] = value;
      else {
        out[key] = MASK;
        masked.push(key);
      }
    }
    return {
      status: masked.length === 0 ? 'shown' : 'partial',
      text: JSON.stringify(out, null, 1),
      maskedFields: masked,
    };
  }
  if (sensitivityRank(sourceClass(policy, family)) <= 1) return { status: 'shown', text, maskedFields: [] };
  return { status: 'masked', text: null, maskedFields: [] };
}
