import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { createConsumer, isRetriableKafkaError, recordText, type KafkaConsumer } from '@ondijon/kafka';
import { OnDijonError, TOPICS, type Equipment } from '@ondijon/contracts';
import { silentLogger, type Logger } from '@ondijon/service-kit';
import type { IngestConfig } from './config';
import type { EquipmentIndex } from './registry';

const RefEnvelope = TOPICS['ref.s0.equipment.v1'].schema;

/** One record of the reference topic as the index applies it. */
export interface RefRecord {
  partition: number;
  offset: string;
  key: string | null;
  /** UTF-8 value; null is a tombstone (the equipment was removed). */
  value: string | null;
}

/** What applying one record did. */
export type RefApplyResult = 'upserted' | 'removed' | 'invalid';

/** An equipment index fed record by record from the compacted reference topic. */
export interface TopicEquipmentIndex extends EquipmentIndex {
  /** Applies one record: an entry replaces the one of its id, a tombstone removes it, anything else is skipped. */
  apply(record: RefRecord): RefApplyResult;
}

/**
 * Builds an empty index named after its topic. Invalid records are reported to `onInvalid` and change
 * nothing: they are our own reference data, so a bad one is a bug to fix upstream, not a reason to stop.
 */
export function createTopicIndex(
  topic: string,
  onInvalid: (record: RefRecord, reason: string) => void = () => undefined,
): TopicEquipmentIndex {
  const byId = new Map<string, Equipment>();
  return {
    revision: `topic:${topic}`,
    get size() {
      return byId.size;
    },
    get: (id) => byId.get(id),
    entries: () => byId.values(),
    apply(record) {
      if (record.key === null || record.key === '') {
        onInvalid(record, 'record has no key');
        return 'invalid';
      }
      if (record.value === null) {
        byId.delete(record.key);
        return 'removed';
      }
      let raw: unknown;
      try {
        raw = JSON.parse(record.value);
      } catch {
        onInvalid(record, 'value is not JSON');
        return 'invalid';
      }
      const parsed = RefEnvelope.safeParse(raw);
      if (!parsed.success) {
        const first = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`);
        onInvalid(record, `value is not an equipment envelope: ${first.join('; ')}`);
        return 'invalid';
      }
      const entry = parsed.data.data;
      if (entry.equipmentId !== record.key) {
        onInvalid(record, `key differs from data.equipmentId ${entry.equipmentId}`);
        return 'invalid';
      }
      byId.set(entry.equipmentId, entry);
      return 'upserted';
    },
  };
}

/** Options of `followRegistryTopic`. */
export interface FollowOptions {
  /** Physical topic name (with any test prefix). */
  topic: string;
  /** Consumer group id prefix; a unique suffix is added so every process reads the whole topic. */
  groupPrefix: string;
  /** Give up the initial load after this long, ms. */
  loadTimeoutMs: number;
  logger?: Logger;
}

/** A running follower of the reference topic. */
export interface RegistryFollower {
  /** The index: complete up to the end offsets seen at start once `start()` resolved, then kept current. */
  readonly index: TopicEquipmentIndex;
  /** Reads the topic from the beginning to its end offsets at call time, then keeps following it. */
  start(): Promise<void>;
  /** Stops following and deletes the throwaway group. */
  close(): Promise<void>;
}

/**
 * The follower of the equipment reference topic named by ingest's configuration (`role` tells the
 * throwaway groups of ingest and its tools apart).
 */
export function followEquipmentTopic(
  kafka: Kafka,
  config: Pick<IngestConfig, 'KAFKA_TOPIC_PREFIX' | 'KAFKA_CLIENT_ID' | 'REGISTRY_LOAD_TIMEOUT_MS'>,
  role: string,
  logger?: Logger,
): RegistryFollower {
  return followRegistryTopic(kafka, {
    topic: `${config.KAFKA_TOPIC_PREFIX}${TOPICS['ref.s0.equipment.v1'].name}`,
    groupPrefix: `${config.KAFKA_CLIENT_ID}-${role}`,
    loadTimeoutMs: config.REGISTRY_LOAD_TIMEOUT_MS,
    logger,
  });
}

/**
 * Follows the compacted equipment topic with a consumer group of its own (unique per process, never
 * committed), so every ingest instance holds the full index, and updates apply as they arrive.
 */
export function followRegistryTopic(kafka: Kafka, options: FollowOptions): RegistryFollower {
  const log = options.logger ?? silentLogger();
  const { topic } = options;
  const index = createTopicIndex(topic, (record, reason) =>
    log.warn(
      { topic, partition: record.partition, offset: record.offset, reason },
      'invalid equipment reference record skipped',
    ),
  );
  const groupId = `${options.groupPrefix}-${randomUUID()}`;
  let consumer: KafkaConsumer | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    stopped = true;
    const c = consumer;
    consumer = undefined;
    // Disconnects and deletes the throwaway group.
    await c?.stop();
  };

  return {
    index,
    async start() {
      let timer: NodeJS.Timeout | undefined;
      let behind = 'all';
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new OnDijonError(
                'ONDIJON_KAFKA_UNAVAILABLE',
                `equipment reference topic ${topic} not read to its end within ${options.loadTimeoutMs} ms (partitions behind: ${behind})`,
              ),
            ),
          options.loadTimeoutMs,
        );
      });
      const load = async (): Promise<void> => {
        const admin = kafka.admin();
        let ends: { partition: number; high: string; low: string }[];
        try {
          await admin.connect();
          // A partition's leader can answer NOT_LEADER_OR_FOLLOWER for a moment after the topic is created
          // or leadership moves, which kafkajs does not retry here: retry retriable errors (the load
          // timeout bounds it).
          for (;;) {
            try {
              ends = await admin.fetchTopicOffsets(topic);
              break;
            } catch (error) {
              if (stopped || !isRetriableKafkaError(error)) throw error;
              log.debug({ topic, err: (error as Error).message }, 'equipment reference offsets: retrying');
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
          }
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
        if (stopped) return;
        const target = new Map(ends.map((p) => [p.partition, BigInt(p.high)]));
        const pending = new Set(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => p.partition));
        behind = [...pending].join(',') || 'none';
        let loaded: () => void = () => undefined;
        let failed: (error: Error) => void = () => undefined;
        const done = new Promise<void>((resolve, reject) => {
          loaded = resolve;
          failed = reject;
        });
        if (pending.size === 0) loaded();
        const c = createConsumer(kafka, {
          groupId,
          topics: [topic],
          fromBeginning: true,
          throwawayGroup: true,
          logger: log,
          // Caught up is judged per fetched batch, as readAll does: compaction leaves offset gaps, so the
          // last delivered record can sit below high - 1.
          onBatchEnd: ({ partition, lastOffset }) => {
            const high = target.get(partition);
            if (high !== undefined && BigInt(lastOffset) + 1n >= high) pending.delete(partition);
            behind = [...pending].join(',') || 'none';
            if (pending.size === 0) loaded();
          },
          onCrash: (error, restart) => {
            log.error({ topic, err: error.message, restart }, 'equipment reference consumer crashed');
            if (!restart) failed(error);
          },
        });
        consumer = c;
        await c.start(async (payload) => {
          const { batch } = payload;
          for (const message of batch.messages) {
            if (!payload.isRunning() || payload.isStale()) break;
            const result = index.apply({
              partition: batch.partition,
              offset: message.offset,
              key: recordText(message.key),
              value: recordText(message.value),
            });
            if (pending.size === 0 && result !== 'invalid')
              log.info(
                { topic, partition: batch.partition, offset: message.offset, result },
                'equipment reference updated',
              );
          }
        });
        await done;
      };
      const loading = load();
      // The race may be lost to the timeout: the load's own failure is then already reported.
      loading.catch(() => undefined);
      try {
        await Promise.race([loading, timeout]);
      } catch (cause) {
        await stop();
        if (cause instanceof OnDijonError) throw cause;
        throw new OnDijonError(
          'ONDIJON_KAFKA_UNAVAILABLE',
          `equipment reference topic ${topic} cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        );
      } finally {
        clearTimeout(timer);
      }
      log.info({ topic, entries: index.size }, 'equipment reference loaded');
    },
    close: stop,
  };
}
