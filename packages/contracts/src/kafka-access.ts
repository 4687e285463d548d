// Who may read and write each Kafka topic, derived from the topic registry (area and class), and the
// ACL bindings that make it true on the broker (issue 12, item 3). Pure: provisioning lives in
// @ondijon/kafka, the broker settings in infra/stack.
import { type TopicSpec, topicList } from './kafka-topics';

/** The Kafka principals of the pipeline (SASL/SCRAM user names). */
export const KAFKA_PRINCIPALS = {
  admin: {
    description: 'Super user: the stack provisioning (topics, ACLs), operators by hand, tests’ admin checks.',
    groupPrefix: null,
  },
  ingest: {
    description: 'Ingest service: writes telemetry, PII, its dead letters and the equipment reference.',
    groupPrefix: 'ondijon-ingest',
  },
  processors: {
    description: 'Stream processors: read S1/S2 telemetry, write aggregates, late records, dead letters.',
    groupPrefix: 'ondijon-processors',
  },
  publisher: {
    description: 'Publisher (anonymisation gate): reads aggregates only; writes its dead letters.',
    groupPrefix: 'ondijon-publisher',
  },
  governance: {
    description: 'Governance officer’s tools: the only reader of pii.* (S3 records with pseudonyms).',
    groupPrefix: 'ondijon-governance',
  },
  replay: {
    description:
      'Dead-letter replay CLI: reads dead letters and the reference, writes tel.* and pii.* again.',
    groupPrefix: 'ondijon-replay',
  },
  console: {
    description:
      'Control-centre console (issue 15): reads S1 telemetry, the reference and dead letters; it shows a dead letter’s payload only for S0/S1 sources (masked otherwise, docs/console.md).',
    groupPrefix: 'ondijon-console',
  },
} as const;

/** A Kafka principal of the pipeline. */
export type KafkaPrincipal = keyof typeof KAFKA_PRINCIPALS;
/** The principals that are confined by ACLs (all but the super user). */
export type ServicePrincipal = Exclude<KafkaPrincipal, 'admin'>;

/** The super user (`super.users` of the broker). */
export const KAFKA_SUPER_USER = 'admin' satisfies KafkaPrincipal;

/** All principals, super user first. */
export const kafkaPrincipals = Object.keys(KAFKA_PRINCIPALS) as KafkaPrincipal[];
/** The principals confined by ACLs. */
export const servicePrincipals = kafkaPrincipals.filter((p): p is ServicePrincipal => p !== 'admin');

/** Who reads and who writes one topic. */
export interface TopicAccess {
  read: ServicePrincipal[];
  write: ServicePrincipal[];
}

/**
 * Writers of a dead-letter topic by its entity (`dlq.<class>.<entity>.v<N>`): ingest's own, and the stream's,
 * which the processors and the publisher write. A new dead-letter entity must be added here (the unit test
 * fails on a topic nobody writes).
 */
const DEAD_LETTER_WRITERS: Record<string, ServicePrincipal[]> = {
  // The replay tool writes a dead letter again when a replay is rejected (it supersedes the original).
  ingest: ['ingest', 'replay'],
  stream: ['processors', 'publisher'],
};

/**
 * The access rule of the pipeline, by area and class:
 * - `ref`: ingest publishes the equipment reference and follows it; the replay tool and the console follow it.
 *   The lineage registry (`ref.s0.lineage.v1`) is read by every reader of telemetry and written by its writers.
 * - `tel` (S1/S2): ingest and the replay tool write; the processors read; the console reads S1 only.
 * - `pii` (S3): ingest and the replay tool write; only governance reads.
 * - `dlq`: the service that rejected writes (see `DEAD_LETTER_WRITERS`); the replay tool reads, and the
 *   console, which operators need to see their rejections: the topic is S3 only because a payload not yet
 *   classified is treated as possibly personal, and the console masks every field above S1 (docs/console.md).
 * - `late`: processors write; nobody reads (kept for inspection by the super user).
 * - `agg`: processors write; only the publisher reads, and only classes up to S2.
 */
export function topicAccess(spec: Pick<TopicSpec, 'name' | 'area' | 'class'>): TopicAccess {
  switch (spec.area) {
    case 'ref':
      // The lineage registry: whoever reads telemetry resolves its `ce_lineageref` there (the processors,
      // the console, governance for pii.*); ingest and the replay tool write telemetry, so its lineages.
      if (spec.name.split('.')[2] === 'lineage')
        return {
          read: ['ingest', 'processors', 'governance', 'replay', 'console'],
          write: ['ingest', 'replay'],
        };
      return { read: ['ingest', 'replay', 'console'], write: ['ingest'] };
    case 'tel':
      return {
        read: spec.class === 'S1' ? ['processors', 'console'] : spec.class === 'S2' ? ['processors'] : [],
        write: ['ingest', 'replay'],
      };
    case 'pii':
      return { read: ['governance'], write: ['ingest', 'replay'] };
    case 'dlq': {
      const entity = spec.name.split('.')[2] ?? '';
      return { read: ['replay', 'console'], write: DEAD_LETTER_WRITERS[entity] ?? [] };
    }
    case 'late':
      return { read: [], write: ['processors'] };
    case 'agg':
      return {
        read: spec.class === 'S1' || spec.class === 'S2' ? ['publisher'] : [],
        write: ['processors'],
      };
  }
}

/** One row of the access matrix: a registered topic and who may do what. */
export interface AccessMatrixRow extends TopicAccess {
  topic: string;
  area: TopicSpec['area'];
  class: TopicSpec['class'];
}

/** The access matrix of the registry (one row per registered topic, in registry order). */
export function accessMatrix(
  specs: readonly Pick<TopicSpec, 'name' | 'area' | 'class'>[] = topicList,
): AccessMatrixRow[] {
  return specs.map((s) => ({ topic: s.name, area: s.area, class: s.class, ...topicAccess(s) }));
}

/** A Kafka ACL binding (ALLOW only: nothing is allowed without one, `allow.everyone.if.no.acl.found=false`). */
export interface KafkaAclBinding {
  /** `User:<name>`. */
  principal: string;
  resourceType: 'TOPIC' | 'GROUP';
  /** LITERAL for topics (exact registered names), PREFIXED for consumer groups. */
  patternType: 'LITERAL' | 'PREFIXED';
  resourceName: string;
  operation: 'READ' | 'WRITE' | 'DELETE';
}

/** `User:<name>` of a principal. */
export function principalName(principal: KafkaPrincipal): string {
  return `User:${principal}`;
}

/**
 * The ACL bindings of a topic namespace (`''` in production, `<run>.` for a run or a test: every topic
 * name carries it). Topics are LITERAL names of the registry with the namespace, so a run's principals
 * reach exactly that run's registered topics and nothing created by hand beside them; consumer groups are
 * PREFIXED with each service's group prefix (group ids end in a run or instance suffix).
 */
export function kafkaAclBindings(
  namespace = '',
  specs: readonly Pick<TopicSpec, 'name' | 'area' | 'class'>[] = topicList,
): KafkaAclBinding[] {
  const bindings: KafkaAclBinding[] = [];
  for (const row of accessMatrix(specs)) {
    for (const op of ['read', 'write'] as const) {
      for (const p of row[op]) {
        bindings.push({
          principal: principalName(p),
          resourceType: 'TOPIC',
          patternType: 'LITERAL',
          resourceName: `${namespace}${row.topic}`,
          operation: op === 'read' ? 'READ' : 'WRITE',
        });
      }
    }
  }
  bindings.push(...groupAclBindings());
  return bindings;
}

/** The consumer-group bindings: each service joins (READ) and removes its throwaway groups (DELETE) under its prefix. */
export function groupAclBindings(): KafkaAclBinding[] {
  return servicePrincipals.flatMap((p) =>
    (['READ', 'DELETE'] as const).map((operation) => ({
      principal: principalName(p),
      resourceType: 'GROUP' as const,
      patternType: 'PREFIXED' as const,
      resourceName: KAFKA_PRINCIPALS[p].groupPrefix,
      operation,
    })),
  );
}

/** A stable key of a binding (for set comparisons in provisioning and tests). */
export function aclKey(b: KafkaAclBinding): string {
  return `${b.principal} ${b.operation} ${b.resourceType}:${b.patternType}:${b.resourceName}`;
}

/** The access matrix as a Markdown table (docs/security.md is generated from it). */
export function accessMatrixMarkdown(rows: AccessMatrixRow[] = accessMatrix()): string {
  const cell = (row: AccessMatrixRow, p: ServicePrincipal) => {
    const r = row.read.includes(p);
    const w = row.write.includes(p);
    return r && w ? 'read, write' : r ? 'read' : w ? 'write' : '—';
  };
  const lines = [
    `| topic | class | ${servicePrincipals.join(' | ')} |`,
    `|---|---|${servicePrincipals.map(() => '---').join('|')}|`,
    ...rows.map(
      (row) =>
        `| \`${row.topic}\` | ${row.class} | ${servicePrincipals.map((p) => cell(row, p)).join(' | ')} |`,
    ),
    '',
    '| principal | consumer groups (PREFIXED: read, delete) |',
    '|---|---|',
    ...servicePrincipals.map((p) => `| ${p} | \`${KAFKA_PRINCIPALS[p].groupPrefix}\`… |`),
  ];
  return lines.join('\n');
}

const AREA_PREFIX = /^(ref|tel|pii|dlq|late|agg)\./;

/**
 * Whether an ACL the cluster holds belongs to the provisioning of `namespace` (drift is reported only
 * there): topic ACLs on names of that namespace that look like registry topics, a PREFIXED topic pattern
 * or `*` that covers them, and every non-topic ACL of a service principal (groups, cluster, transactional ids).
 */
export function aclInScope(
  namespace: string,
  acl: { principal: string; resourceType: string; patternType: string; resourceName: string },
): boolean {
  if (acl.resourceType !== 'TOPIC') return servicePrincipals.some((p) => acl.principal === principalName(p));
  if (acl.resourceName === '*') return true;
  if (acl.patternType === 'PREFIXED' && namespace.startsWith(acl.resourceName)) return true;
  if (!acl.resourceName.startsWith(namespace)) return false;
  const rest = acl.resourceName.slice(namespace.length);
  return (
    AREA_PREFIX.test(rest) || (acl.patternType === 'PREFIXED' && /^(ref|tel|pii|dlq|late|agg)?$/.test(rest))
  );
}
