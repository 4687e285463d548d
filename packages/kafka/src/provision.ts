import { waitForTopicsReady } from './topics-ready';
import kafkajs, { type Admin } from 'kafkajs';

// kafkajs is CommonJS and Node's named-export detection misses ConfigResourceTypes: read it off the default export.
const { ConfigResourceTypes } = kafkajs;

/** What provisioning needs of a topic (the shape of `@ondijon/contracts`' `topicList` entries). */
export interface TopicProvisionSpec {
  /** Topic name. */
  name: string;
  /** Partition count. */
  partitions: number;
  /** retention.ms; -1 keeps forever. */
  retentionMs: number;
  /** cleanup.policy. */
  cleanupPolicy: 'delete' | 'compact';
}

/** Options of `provisionTopics`. */
export interface ProvisionOptions {
  /** Replication factor of created topics: min(3, brokers). */
  replicationFactor: number;
  /** min.insync.replicas of created topics (default 2 when replication is 3 or more, else 1). */
  minInsyncReplicas?: number;
}

/** One difference between the registry and the cluster; provisioning never fixes it by itself. */
export interface TopicDrift {
  /** Topic name. */
  topic: string;
  /** What differs: `partitions`, `retention.ms`, `cleanup.policy` or `min.insync.replicas`. */
  setting: string;
  /** The registry's value. */
  expected: string;
  /** The cluster's value. */
  actual: string;
}

/** Outcome of `provisionTopics`. */
export interface ProvisionResult {
  /** Topics created now. */
  created: string[];
  /** Topics that were already there. */
  existing: string[];
  /** Differences found on existing topics (reported, never applied: a shrink or policy change needs a human). */
  drift: TopicDrift[];
}

/**
 * The topic-level configs the registry decides (pure; exported for tests). Record timestamps are the
 * writer's (`CreateTime`, whatever the broker's default): a telemetry record's timestamp is its
 * `ingestedat`, which has no header then (packages/contracts cloudevents-binary.ts), so a broker that
 * overwrote it with its append time would change the event.
 */
export function topicConfigs(spec: TopicProvisionSpec, options: ProvisionOptions): Record<string, string> {
  return {
    'retention.ms': String(spec.retentionMs),
    'cleanup.policy': spec.cleanupPolicy,
    'min.insync.replicas': String(options.minInsyncReplicas ?? (options.replicationFactor >= 3 ? 2 : 1)),
    'message.timestamp.type': 'CreateTime',
  };
}

/** Differences between a spec and what the cluster has (pure; exported for tests). */
export function diffTopic(
  spec: TopicProvisionSpec,
  actual: { partitions: number; configs: Record<string, string | undefined> },
  options: ProvisionOptions,
): TopicDrift[] {
  const drift: TopicDrift[] = [];
  if (actual.partitions !== spec.partitions) {
    drift.push({
      topic: spec.name,
      setting: 'partitions',
      expected: String(spec.partitions),
      actual: String(actual.partitions),
    });
  }
  for (const [setting, expected] of Object.entries(topicConfigs(spec, options))) {
    const value = actual.configs[setting];
    if (value !== undefined && value !== expected)
      drift.push({ topic: spec.name, setting, expected, actual: value });
  }
  return drift;
}

/**
 * Creates the missing topics of `specs` and reports drift of existing ones (partitions, retention.ms,
 * cleanup.policy, min.insync.replicas, message.timestamp.type) without changing or deleting anything;
 * idempotent.
 */
export async function provisionTopics(
  admin: Admin,
  specs: readonly TopicProvisionSpec[],
  options: ProvisionOptions,
): Promise<ProvisionResult> {
  const present = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !present.has(s.name));
  const existing = specs.filter((s) => present.has(s.name));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: false,
      topics: missing.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        replicationFactor: options.replicationFactor,
        configEntries: Object.entries(topicConfigs(spec, options)).map(([name, value]) => ({ name, value })),
      })),
    });
    await waitForTopicsReady(
      admin,
      missing.map((s) => s.name),
    );
  }
  const drift: TopicDrift[] = [];
  if (existing.length > 0) {
    const metadata = await admin.fetchTopicMetadata({ topics: existing.map((s) => s.name) });
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: existing.map((s) => ({
        type: ConfigResourceTypes.TOPIC,
        name: s.name,
        configNames: ['retention.ms', 'cleanup.policy', 'min.insync.replicas', 'message.timestamp.type'],
      })),
    });
    for (const spec of existing) {
      const partitions = metadata.topics.find((t) => t.name === spec.name)?.partitions.length ?? 0;
      const entries = described.resources.find((r) => r.resourceName === spec.name)?.configEntries ?? [];
      const configs = Object.fromEntries(entries.map((e) => [e.configName, e.configValue]));
      drift.push(...diffTopic(spec, { partitions, configs }, options));
    }
  }
  return { created: missing.map((s) => s.name), existing: existing.map((s) => s.name), drift };
}
