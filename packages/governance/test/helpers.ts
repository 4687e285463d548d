import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { defaultPolicyPath, parsePolicy } from '../src/policy';
import type { Policy } from '../src/policy-schema';

// Variants edit arbitrary parts of the YAML document, including into invalid shapes: untyped on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** The default policy as a plain mutable object (for building variants). */
export function defaultPolicyObject(): Doc {
  return parse(readFileSync(defaultPolicyPath(), 'utf8'));
}

/** A policy variant: the default policy edited by `edit`, serialised to YAML and parsed back. */
export function policyVariant(edit: (p: Doc) => void): Policy {
  const obj = defaultPolicyObject();
  edit(obj);
  return parsePolicy(stringify(obj), 'variant');
}
