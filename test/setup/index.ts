// Helpers for integration tests (CONTRIBUTING.md rule 11): unique names per test, topics created and deleted,
// waits that poll a condition with a deadline. Import from '@ondijon/acceptance' (other packages) or
// relatively (tests under test/).
import { randomBytes } from 'node:crypto';
import { createKafka, waitForTopicsReady } from '@ondijon/kafka';
import { kafkaSecret, redisSecret, resolveConfig, endpoints as stackEndpoints } from '@ondijon/stack';
import type { Kafka } from 'kafkajs';
import { inject } from 'vitest';
import type { TestEndpoints } from './endpoints';
import './endpoints';

export type { TestEndpoints } from './endpoints';

/** Endpoints provided by the global setup (falls back to env, then the local stack's defaults). */
export function testEndpoints(): TestEndpoints {
  try {
    const provided = inject('endpoints');
    if (provided !== undefined) return provided;
  } catch {
    /* outside a vitest worker (a script): use the environment */
  }
  // The env's endpoints when set, else the local stack's (with its super user's credentials).
  return {
    ...stackEndpoints(),
    mqttUsers:
      process.env.MQTT_USERNAME && process.env.MQTT_PASSWORD
        ? { admin: { username: process.env.MQTT_USERNAME, password: process.env.MQTT_PASSWORD } }
        : {},
    source: 'env',
  };
}

/**
 * True when the test endpoints are the local stack whose secrets are in `.stack/secrets` (its super users
 * match): only then can tests act as each service's principal and Redis user.
 */
export function usesStackSecrets(ep: TestEndpoints = testEndpoints()): boolean {
  const config = resolveConfig({ externalKafka: undefined, externalRedis: undefined });
  let redisPassword = '';
  try {
    redisPassword = decodeURIComponent(new URL(ep.redisUrl).password);
  } catch {
    return false;
  }
  return (
    ep.kafkaSasl?.username === 'admin' &&
    ep.kafkaSasl.password === kafkaSecret(config, 'admin').value &&
    redisPassword === redisSecret(config, 'admin').value
  );
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

/** A kafkajs client on the test brokers as the super user (silent logging). */
export function testKafka(clientId = uniqueName('test'), brokers = testEndpoints().kafkaBrokers): Kafka {
  const sasl = testEndpoints().kafkaSasl;
  return createKafka({
    brokers,
    clientId,
    ...(sasl ? { security: { sasl: { username: sasl.username, password: sasl.password } } } : {}),
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
    await waitForTopicsReady(admin, [topic]);
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
