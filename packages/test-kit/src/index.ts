// Helpers for integration tests (CONTRIBUTING.md rule 11): unique names per test, topics created and
// deleted, waits that poll a condition with a deadline. Depends on no package of ours, so every package
// can use it in its tests without a dependency cycle.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import kafkajs, { type Admin, Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';

/** Endpoints the integration tests use, provided by the global setup. */
export interface TestEndpoints {
  /** Kafka bootstrap brokers, `host:port`. */
  kafkaBrokers: string[];
  /** The super user's SASL credentials (local stack), or the env's; absent with an unauthenticated broker. */
  kafkaSasl?: { username: string; password: string; passwordFile?: string };
  /** MQTT broker URL. */
  mqttUrl: string;
  /** Redis URL (with the admin user's credentials on the local stack). */
  redisUrl: string;
  /** MQTT principals by login name (`admin`, `ingest`, operator codes): the local stack's, or the env's. */
  mqttUsers: Record<string, { username: string; password: string }>;
  /** Where they come from: `env`, `testcontainers`, `local-stack` or `script`. */
  source: 'env' | 'testcontainers' | 'local-stack' | 'script';
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Kafka, MQTT and Redis endpoints chosen by the vitest global setup (test/setup/global-setup.ts). */
    endpoints: TestEndpoints;
  }
}

let scriptEndpoints: TestEndpoints | undefined;

/**
 * Sets the endpoints of a script run outside vitest (a benchmark): `testEndpoints()` returns them.
 * `useLocalStackEndpoints()` of `@ondijon/acceptance` calls this with the local stack's.
 */
export function provideTestEndpoints(endpoints: TestEndpoints): void {
  scriptEndpoints = endpoints;
}

/**
 * Endpoints of the tests: the ones a script provided, else the global setup's (inject), else the
 * environment's (`KAFKA_BROKERS`, `MQTT_URL`, `REDIS_URL`, `KAFKA_SASL_USERNAME`/`KAFKA_SASL_PASSWORD[_FILE]`,
 * `MQTT_USERNAME`/`MQTT_PASSWORD`).
 */
export function testEndpoints(): TestEndpoints {
  if (scriptEndpoints !== undefined) return scriptEndpoints;
  try {
    const provided = inject('endpoints');
    if (provided !== undefined) return provided;
  } catch {
    /* outside a vitest worker: use the environment */
  }
  const env = process.env;
  if (!env.KAFKA_BROKERS || !env.MQTT_URL || !env.REDIS_URL)
    throw new Error(
      'no test endpoints: run under vitest (its global setup provides them), call provideTestEndpoints(), or set KAFKA_BROKERS, MQTT_URL and REDIS_URL',
    );
  return {
    kafkaBrokers: env.KAFKA_BROKERS.split(','),
    ...(env.KAFKA_SASL_USERNAME && (env.KAFKA_SASL_PASSWORD || env.KAFKA_SASL_PASSWORD_FILE)
      ? {
          kafkaSasl: {
            username: env.KAFKA_SASL_USERNAME,
            password:
              env.KAFKA_SASL_PASSWORD || readFileSync(env.KAFKA_SASL_PASSWORD_FILE ?? '', 'utf8').trim(),
          },
        }
      : {}),
    mqttUrl: env.MQTT_URL,
    redisUrl: env.REDIS_URL,
    mqttUsers:
      env.MQTT_USERNAME && env.MQTT_PASSWORD
        ? { admin: { username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD } }
        : {},
    source: 'env',
  };
}

/**
 * MQTT connect options of a principal of the test broker (`admin` by default: allowed everywhere;
 * `ingest`; or an operator code, allowed to publish under its own prefix only).
 */
export function mqttAuth(username = 'admin'): { username: string; password: string } {
  const users = testEndpoints().mqttUsers;
  const user = users[username] ?? users.admin;
  if (user === undefined)
    throw new Error(
      `no MQTT credentials for "${username}": start the local stack or set MQTT_USERNAME/MQTT_PASSWORD`,
    );
  return user;
}

/** A name no other test or run uses: `<prefix>-<time>-<random>`, valid as topic, group id and Redis key prefix. */
export function uniqueName(prefix: string): string {
  const safe = prefix.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${safe}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * A kafkajs client on the test brokers as the super user (silent logging; the timeouts and retries of
 * `createKafka` in `@ondijon/kafka`, which this package does not depend on).
 */
export function testKafka(clientId = uniqueName('test'), brokers = testEndpoints().kafkaBrokers): Kafka {
  const sasl = testEndpoints().kafkaSasl;
  return new Kafka({
    brokers,
    clientId,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, maxRetryTime: 5_000, retries: 10, multiplier: 2, factor: 0.2 },
    logLevel: logLevel.NOTHING,
    ...(sasl
      ? { sasl: { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password } }
      : {}),
  });
}

/** Options of `createTestTopic`. */
export interface TestTopicOptions {
  /** Partition count (default 1). */
  partitions?: number;
  /** Replication factor (default 1; 3 on the 3-node cluster). */
  replicationFactor?: number;
  /** Extra topic configs, e.g. `{ 'min.insync.replicas': '2' }`. */
  configs?: Record<string, string>;
  /** Brokers (default the provided endpoints). */
  brokers?: string[];
}

/** Creates a fresh topic named from `prefix` and returns its name; delete it with `deleteTopics`. */
export async function createTestTopic(prefix: string, options: TestTopicOptions = {}): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = testKafka(uniqueName('admin'), options.brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic,
          numPartitions: options.partitions ?? 1,
          replicationFactor: options.replicationFactor ?? 1,
          configEntries: Object.entries(options.configs ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    await waitForTopicReady(admin, topic);
  } finally {
    await admin.disconnect();
  }
  return topic;
}

/** Deletes test topics (ignores ones already gone). */
export async function deleteTopics(topics: string[], brokers?: string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = testKafka(uniqueName('admin'), brokers).admin();
  await admin.connect();
  try {
    const present = new Set(await admin.listTopics());
    const existing = topics.filter((t) => present.has(t));
    if (existing.length > 0) await admin.deleteTopics({ topics: existing, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/** Deletes consumer groups (ignores unknown or still-active ones). */
export async function deleteGroups(groupIds: string[], brokers?: string[]): Promise<void> {
  if (groupIds.length === 0) return;
  const admin = testKafka(uniqueName('admin'), brokers).admin();
  await admin.connect();
  try {
    await admin.deleteGroups(groupIds).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** The Redis calls `deleteRedisKeys` needs (an ioredis client fits). */
export interface RedisScanDel {
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[string, string[]]>;
  del(...keys: string[]): Promise<number>;
}

/** Deletes every Redis key starting with `prefix` (SCAN, not KEYS); returns how many. */
export async function deleteRedisKeys(redis: RedisScanDel, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Options of `waitFor`. */
export interface WaitForOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Time between two checks (default 100 ms). */
  intervalMs?: number;
  /** Said in the timeout error. */
  message?: string;
}

/**
 * Polls `condition` until it returns a truthy value (returned) or the deadline passes (throws with the
 * last error or value seen); a thrown error counts as "not yet".
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${options.message ?? 'condition not met'} within ${timeoutMs} ms (last: ${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Collects cleanup callbacks and runs them all (in reverse order, errors collected) — call `run()` in afterAll. */
export class Cleanup {
  private readonly tasks: (() => unknown)[] = [];

  /** Registers a cleanup callback. */
  add(task: () => unknown): void {
    this.tasks.push(task);
  }

  /** Runs every registered callback, last first, then throws the first error if any failed. */
  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const task of this.tasks.splice(0).reverse()) {
      try {
        await task();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
  }
}

/**
 * Waits until every partition of a new topic has a leader that answers ListOffsets. The same checks as
 * `waitForTopicsReady` of `@ondijon/kafka` (packages/kafka/src/topics-ready.ts says why kafkajs'
 * `waitForLeaders` is not enough), written here because this package depends on none of ours.
 */
async function waitForTopicReady(admin: Admin, topic: string): Promise<void> {
  await waitFor(
    async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const ready =
        topics.length === 1 &&
        topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (!ready) return false;
      await admin.fetchTopicOffsets(topic);
      return true;
    },
    { timeoutMs: 30_000, message: `topic ${topic} not ready` },
  );
}

export * from './independent';
export * from './metrics';

/**
 * Has the broker stamp the records of `topics` with their append time (`message.timestamp.type`
 * `LogAppendTime`), the other topic configs kept (AlterConfigs replaces a topic's whole set). For benches
 * that time "reached Kafka" from record timestamps: ingest stamps telemetry with its receive time (the
 * record timestamp is `ingestedat`, packages/contracts cloudevents-binary.ts), so on these topics a
 * telemetry record decodes with the append time as its `ingestedat`. Never on a pipeline's real topics.
 */
export async function stampAppendTime(admin: Admin, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  // kafkajs is CommonJS and Node's named-export detection misses ConfigResourceTypes.
  const { ConfigResourceTypes } = kafkajs;
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  await admin.alterConfigs({
    validateOnly: false,
    resources: described.resources.map((r) => ({
      type: ConfigResourceTypes.TOPIC,
      name: r.resourceName,
      configEntries: [
        ...r.configEntries
          .filter((e) => !e.isDefault && !e.readOnly && e.configName !== 'message.timestamp.type')
          .map((e) => ({ name: e.configName, value: e.configValue })),
        { name: 'message.timestamp.type', value: 'LogAppendTime' },
      ],
    })),
  });
}
