import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import {
  EXCLUDED_SOURCE_FAMILIES,
  FAMILIES,
  FAMILY_DOMAIN,
  type Family,
  OnDijonError,
  POLICY_MUTABLE_FIELDS,
  type Sensitivity,
  TOPICS,
  type TopicName,
  maxSensitivity,
  sensitivityRank,
  storedTelemetrySchemas,
  telemetrySchemas,
  telemetryTopicFor,
} from '@ondijon/contracts';
import { type DatasetPolicy, type FieldPolicy, type Policy, PolicyFile } from './policy-schema';

/** The open-data datasets the publisher releases; the policy must give rules for each. */
export const DATASET_IDS = [
  'lighting-commune-hour',
  'traffic-flow',
  'signal-status',
  'winter-commune-day',
] as const;
/** An open-data dataset id. */
export type DatasetId = (typeof DATASET_IDS)[number];

const DAY_MS = 86_400_000;

/** One problem of a policy file, named by its path (`families.winter-vehicle.fields.agentId.action`). */
export interface PolicyProblem {
  path: string;
  message: string;
}

/** Absolute path of `infra/governance/policy.yaml`, resolved from this module (not from the cwd). */
export function defaultPolicyPath(): string {
  return fileURLToPath(new URL('../../../infra/governance/policy.yaml', import.meta.url));
}

/** Reads and validates a policy file; throws ONDIJON_POLICY_INVALID listing every problem. */
export function loadPolicy(path: string = defaultPolicyPath()): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new OnDijonError('ONDIJON_POLICY_INVALID', `cannot read governance policy ${path}`, {
      cause,
      details: { source: path },
    });
  }
  return parsePolicy(text, path);
}

/** Parses and validates a policy from YAML text; throws ONDIJON_POLICY_INVALID listing every problem by path. */
export function parsePolicy(yamlText: string, source = '(inline)'): Policy {
  const doc = parseDocument(yamlText, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({
      path: e.linePos?.[0] ? `(yaml line ${e.linePos[0].line}:${e.linePos[0].col})` : '(yaml)',
      message: e.message.split('\n')[0] ?? e.message,
    }));
    throw policyError(source, problems);
  }
  return validatePolicy(doc.toJS(), source);
}

/** Validates an already-parsed policy object (schema and cross-checks); throws ONDIJON_POLICY_INVALID listing every problem. */
export function validatePolicy(value: unknown, source = '(inline)'): Policy {
  const parsed = PolicyFile.safeParse(value);
  if (!parsed.success) {
    // Also run the cross-checks on the raw document (best effort) so one run lists every problem,
    // not the schema problems first and the completeness problems after they are fixed.
    const schemaProblems = zodProblems(parsed.error);
    let more: PolicyProblem[] = [];
    try {
      more = checkPolicy(value as z.infer<typeof PolicyFile>);
    } catch {
      // The document is too broken for the cross-checks; the schema problems say why.
    }
    // Skip cross-check findings about an entry the schema already rejected (e.g. the purpose of a
    // field whose action is not a valid action).
    const covered = schemaProblems.map((x) =>
      x.path.includes('.') ? x.path.slice(0, x.path.lastIndexOf('.')) : x.path,
    );
    const extra = more.filter(
      (m) => !covered.some((c) => m.path === c || m.path.startsWith(`${c}.`) || c.startsWith(`${m.path}.`)),
    );
    throw policyError(source, [...schemaProblems, ...extra]);
  }
  const problems = checkPolicy(parsed.data);
  if (problems.length > 0) throw policyError(source, problems);
  return deepFreeze({ ...parsed.data, source });
}

/** The policy of one field, or undefined when the policy does not know it. */
export function fieldPolicy(policy: Policy, family: Family, field: string): FieldPolicy | undefined {
  const fields = policy.families[family]?.fields;
  return fields && Object.hasOwn(fields, field) ? fields[field] : undefined;
}

/** The class a field has once stored (after its action); undefined when dropped. */
export function storedFieldClass(fp: FieldPolicy): Sensitivity | undefined {
  if (fp.action === 'drop') return undefined;
  return fp.action === 'generalise' ? (fp.storedClass ?? fp.class) : fp.class;
}

/** Raw retention of a class in days (null: while current), from the policy. */
export function retentionDays(policy: Policy, cls: Sensitivity): number | null {
  return policy.retention[cls].days;
}

function policyError(source: string, problems: PolicyProblem[]): OnDijonError {
  const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
  return new OnDijonError(
    'ONDIJON_POLICY_INVALID',
    `invalid governance policy ${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${lines.join('\n')}`,
    { details: { source, problems } },
  );
}

/** zod issues as problems; an unrecognized key is named in the path (zod puts it in `keys`). */
function zodProblems(error: z.ZodError): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...base, key].join('.'), message: 'unknown key' });
    } else {
      out.push({ path: base.length ? base.join('.') : '(root)', message: issue.message });
    }
  }
  return out;
}

type Shape = Record<string, z.ZodType>;

/** The zod def type of a schema with optional/nullable/default wrappers removed, and whether it was optional. */
function kindOf(schema: z.ZodType): { type: string; optional: boolean; inner: z.ZodType } {
  let s = schema as z.ZodType & { def: { type: string; innerType?: z.ZodType } };
  let optional = false;
  while (['optional', 'nullable', 'default'].includes(s.def.type) && s.def.innerType) {
    if (s.def.type !== 'nullable') optional = true;
    s = s.def.innerType;
  }
  return { type: s.def.type, optional, inner: s };
}

function isGeoPoint(schema: z.ZodType): boolean {
  const k = kindOf(schema);
  if (k.type !== 'object') return false;
  const shape = (k.inner as unknown as { shape: Shape }).shape;
  return 'lat' in shape && 'lon' in shape;
}

/** The semantic checks zod cannot express: completeness against the contracts and consistency. */
function checkPolicy(p: z.infer<typeof PolicyFile>): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const useIds = new Set<string>();
  p.uses.forEach((u, i) => {
    if (useIds.has(u.id)) add(`uses.${i}.id`, `duplicate use id "${u.id}"`);
    useIds.add(u.id);
  });

  if (!p.changelog.some((c) => c.revision === p.revision))
    add('changelog', `no entry for the current revision ${p.revision}`);
  if (p.topics.S4 !== null) add('topics.S4', 'S4 data is never ingested: its topic must be null');
  for (const cls of ['S1', 'S2', 'S3'] as const)
    if (p.topics[cls] === null) add(`topics.${cls}`, 'a topic pattern is required');

  // Families and fields: every field of every contracts schema has a class and an action.
  for (const key of Object.keys(p.families)) {
    if (!(FAMILIES as readonly string[]).includes(key))
      add(`families.${key}`, `unknown family (expected one of ${FAMILIES.join(', ')})`);
  }
  for (const family of FAMILIES) {
    const fp = p.families[family];
    if (!fp) {
      add(`families.${family}`, 'missing: every family of the contracts needs a policy');
      continue;
    }
    const shape = telemetrySchemas[family].shape as Shape;
    const storedShape = storedTelemetrySchemas[family].shape as Shape;
    const mutable = POLICY_MUTABLE_FIELDS[family] as readonly string[];
    for (const field of Object.keys(shape)) {
      if (!Object.hasOwn(fp.fields, field))
        add(`families.${family}.fields.${field}`, 'missing: every field needs a class and an action');
    }
    for (const [field, f] of Object.entries(fp.fields)) {
      const at = `families.${family}.fields.${field}`;
      const raw = shape[field];
      if (!raw) {
        add(at, `not a field of the ${family} telemetry schema`);
        continue;
      }
      if (f.action === 'drop') {
        if (!f.reason) add(`${at}.reason`, 'a dropped field must say why');
      } else if (!f.purpose) {
        add(`${at}.purpose`, `a field with action ${f.action} must name the declared use that justifies it`);
      } else if (!useIds.has(f.purpose)) {
        add(`${at}.purpose`, `"${f.purpose}" is not a declared use (uses[].id)`);
      }
      if (f.class === 'S4' && f.action !== 'drop')
        add(`${at}.action`, 'an S4 field is never stored: action must be drop');
      if (f.action !== 'generalise' && f.rule) add(`${at}.rule`, 'a rule is only for action generalise');
      if (f.action !== 'generalise' && f.storedClass)
        add(`${at}.storedClass`, 'storedClass is only for action generalise');
      if (f.storedClass && sensitivityRank(f.storedClass) > sensitivityRank(f.class))
        add(`${at}.storedClass`, 'a generalisation cannot raise the class');
      const stored = storedShape[field];
      const storedOptional = stored ? kindOf(stored).optional : false;
      if (f.action === 'drop' && !storedOptional) {
        add(
          `${at}.action`,
          `cannot drop: ${field} is required by the stored ${family} schema (a contracts change is needed)`,
        );
      }
      if (f.action === 'pseudonymise') {
        if (!mutable.includes(field) || !stored || kindOf(stored).type !== 'string') {
          add(
            `${at}.action`,
            `cannot pseudonymise: ${field} is not a policy-mutable string field of ${family}`,
          );
        }
        if (sensitivityRank(f.class) < 3)
          add(`${at}.class`, 'a pseudonymised field is personal data: class must be S3');
      }
      if (f.action === 'generalise') {
        if (!f.rule) add(`${at}.rule`, 'action generalise needs a rule');
        else if (f.rule.kind === 'round-coordinates' && !isGeoPoint(raw))
          add(`${at}.rule`, 'round-coordinates applies only to a position');
        else if (f.rule.kind === 'band' && kindOf(raw).type !== 'number')
          add(`${at}.rule`, 'band applies only to a number');
      }
    }
    // Routing: the class a record of this family can take must resolve to a registered topic.
    const keptClasses = Object.entries(fp.fields)
      .filter(([field]) => shape[field])
      .map(([, f]) => storedFieldClass(f))
      .filter((c): c is Sensitivity => c !== undefined);
    const requiredClasses = Object.entries(fp.fields)
      .filter(([field]) => shape[field] && !kindOf(shape[field]).optional)
      .map(([, f]) => storedFieldClass(f))
      .filter((c): c is Sensitivity => c !== undefined);
    for (const cls of new Set([maxSensitivity(...keptClasses), maxSensitivity(...requiredClasses)])) {
      const pattern = p.topics[cls];
      if (cls === 'S4' || cls === 'S0' || pattern === null) continue;
      const domain = FAMILY_DOMAIN[family];
      const resolved = pattern.replaceAll('{domain}', domain);
      const registered = telemetryTopicFor(domain, cls);
      if (!registered)
        add(
          `topics.${cls}`,
          `${family} records are ${cls} but the contracts registry has no ${cls} topic for domain ${domain} (resolved "${resolved}")`,
        );
      else if (registered !== resolved)
        add(
          `topics.${cls}`,
          `resolves to "${resolved}" for ${family}, but the registry topic is "${registered}"`,
        );
    }
  }

  // Retention is of raw data: no raw telemetry topic may keep a class longer than the policy allows
  // (aggregates, dead letters and late records have their own retention in the registry).
  for (const spec of Object.values(TOPICS)) {
    const days = p.retention[spec.class].days;
    if (days === null || (spec.area !== 'tel' && spec.area !== 'pii')) continue;
    if (spec.retentionMs > days * DAY_MS) {
      add(
        `retention.${spec.class}.days`,
        `topic ${spec.name} keeps ${spec.retentionMs / DAY_MS} d, more than the ${days} d allowed for ${spec.class}`,
      );
    }
  }

  // Excluded sources: the contracts reject these topics at parse time; the policy must agree.
  const excluded = new Set(p.excludedSources.map((e) => e.source));
  for (const src of EXCLUDED_SOURCE_FAMILIES)
    if (!excluded.has(src)) add('excludedSources', `missing ${src} (the contracts classify it S4)`);
  p.excludedSources.forEach((e, i) => {
    if ((FAMILIES as readonly string[]).includes(e.source))
      add(`excludedSources.${i}.source`, `${e.source} is an ingested family`);
  });

  // Datasets.
  for (const id of DATASET_IDS)
    if (!Object.hasOwn(p.datasets, id))
      add(`datasets.${id}`, 'missing: the publisher needs rules for this dataset');
  for (const [id, d] of Object.entries(p.datasets)) {
    const at = `datasets.${id}`;
    const spec = (TOPICS as Record<string, (typeof TOPICS)[TopicName]>)[d.sourceTopic];
    let valueFields: string[] | undefined;
    if (!spec || spec.area !== 'agg')
      add(`${at}.sourceTopic`, `"${d.sourceTopic}" is not an aggregate topic of the registry`);
    else valueFields = aggregateValueFields(spec.schema);
    for (const [name, list] of [
      ['dominance', d.dominance?.fields],
      ['noise', d.noise?.fields],
    ] as const) {
      list?.forEach((f, i) => {
        if (valueFields && !valueFields.includes(f))
          add(`${at}.${name}.fields.${i}`, `"${f}" is not a value of ${d.sourceTopic}`);
      });
    }
    if (d.personDerived) {
      if (d.threshold?.persons === undefined)
        add(`${at}.threshold.persons`, 'person-derived data needs a threshold on persons');
      if (d.coarsening.minBinMinutes < 60)
        add(`${at}.coarsening.minBinMinutes`, 'person-derived data needs bins of at least 60 min');
      if (d.coarsening.publishDelayHours < 24)
        add(`${at}.coarsening.publishDelayHours`, 'person-derived data needs a delay of at least 24 h');
      if (!d.noise) add(`${at}.noise`, 'person-derived counts need noise');
    } else if (d.threshold?.persons !== undefined) {
      add(`${at}.threshold.persons`, 'a threshold on persons needs personDerived: true');
    }
    if (d.noise && d.noise.epsilonPerRelease > d.noise.epsilonPerDay)
      add(`${at}.noise.epsilonPerRelease`, 'exceeds epsilonPerDay');
  }
  return problems;
}

/** Field names of `values` in an aggregate topic's envelope schema. */
function aggregateValueFields(envelope: z.ZodType): string[] | undefined {
  const data = (envelope as unknown as { shape?: Shape }).shape?.data;
  const values = (data as unknown as { shape?: Shape } | undefined)?.shape?.values;
  const shape = (values as unknown as { shape?: Shape } | undefined)?.shape;
  return shape ? Object.keys(shape) : undefined;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** The anonymisation rules of an open-data dataset; throws ONDIJON_POLICY_INVALID when the policy has none. */
export function datasetPolicy(policy: Policy, id: string): DatasetPolicy {
  const d = Object.hasOwn(policy.datasets, id) ? policy.datasets[id] : undefined;
  if (!d)
    throw new OnDijonError(
      'ONDIJON_POLICY_INVALID',
      `policy ${policy.revision} has no rules for dataset ${id}`,
      { details: { dataset: id } },
    );
  return d;
}
