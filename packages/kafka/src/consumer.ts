// The one consumer of the project: every service and tool that reads Kafka (the publisher, ingest's
// reference topic, the console's feed, the stream runtime, `readAll`) goes through `createConsumer`.
// It wraps kafkajs' consumer, it does not reimplement it: kafkajs still fetches, heartbeats, rebalances
// and retries; this module fixes what every loop had to decide again (commit policy, offset resolution,
// group events, a throwaway group's deletion, a stop with a deadline, the speed-ups' installation, the
// lineage references of telemetry resolved before a batch is handed over) and hands the handler
// kafkajs' own batch payload.
import type {
  ConsumerConfig,
  Consumer as KafkajsConsumer,
  EachBatchPayload,
  Kafka,
  KafkaMessage,
  TopicPartitionOffsetAndMetadata,
  TopicPartitions,
} from 'kafkajs';
import { lineageRegistryTopicFor, structuredText } from '@ondijon/contracts';
import type { KafkaLogger } from './client';
import { installKafkajsSpeedups } from './kafkajs-speedups';
import { LineageFollower, unknownLineageRefs } from './lineage-follower';

/**
 * One fetched batch of one partition, as kafkajs hands it over: `batch` (topic, partition, messages,
 * `lastOffset()`), `resolveOffset`, `heartbeat`, `isRunning`, `isStale`, `pause`.
 */
export type ConsumedBatch = EachBatchPayload;

/** Handles one batch; a throw makes kafkajs retry the batch from its first unresolved offset. */
export type BatchHandler = (batch: ConsumedBatch) => Promise<void>;

/** Options of `createConsumer`. */
export interface ConsumerOptions {
  /** Consumer group id. */
  groupId: string;
  /** Physical topic names to read. */
  topics: string[];
  /** Where a group with no committed offset starts: earliest (true) or latest (false, the default). */
  fromBeginning?: boolean;
  /**
   * Who commits offsets: `manual` (the default: the caller, with `commitOffsets`, once what they cover
   * is done; a throwaway group never commits) or `auto` (kafkajs commits resolved offsets).
   */
  commit?: 'manual' | 'auto';
  /**
   * Who resolves offsets: `batch` (the default: every record of a batch once the handler returned) or
   * `handler` (the handler calls `resolveOffset`; what it leaves unresolved is fetched again).
   */
  resolve?: 'batch' | 'handler';
  /** Session timeout, ms (kafkajs' default 30 000). */
  sessionTimeout?: number;
  /** Heartbeat interval, ms (kafkajs' default 3 000). */
  heartbeatInterval?: number;
  /** Most bytes fetched per partition and request (kafkajs' default 1 MiB). */
  maxBytesPerPartition?: number;
  /** Most bytes per fetch, all partitions together (kafkajs' default 10 MiB). */
  maxBytes?: number;
  /** Longest a fetch waits for data, ms (kafkajs' default 5 000). */
  maxWaitTimeInMs?: number;
  /**
   * Fewest bytes a fetch waits for (up to maxWaitTimeInMs; kafkajs' default 1): a reader that can lag a
   * little makes fewer, larger fetches, each with its fixed cost (the console, services/console feed.ts).
   */
  minBytes?: number;
  /** Partitions handled at once (kafkajs' default 1). */
  partitionsConsumedConcurrently?: number;
  /**
   * A group of this process alone, deleted by `stop` (readers that hold a whole topic in every
   * process: each sees every record, and no group is left behind).
   */
  throwawayGroup?: boolean;
  /** Longest `stop` waits for the batch in hand and the disconnect, ms (default 30 000). */
  stopTimeoutMs?: number;
  /** Called at every group join: partitions may have moved (kafkajs has no rebalance listener). */
  onGroupJoin?: () => void;
  /**
   * Called after each batch was handled, with its partition's last offset in the fetched batch, which
   * may be past the last record delivered (transaction markers, compaction gaps): how a reader knows
   * it caught up with an end offset.
   */
  onBatchEnd?: (end: { topic: string; partition: number; lastOffset: string }) => void;
  /**
   * Called when kafkajs' run loop failed; `restart` says whether kafkajs restarts it (a retriable
   * error), else the consumer has stopped consuming.
   */
  onCrash?: (error: Error, restart: boolean) => void;
  /** Where the consumer's own warnings go (a failed disconnect, a group not deleted). */
  logger?: KafkaLogger;
  /**
   * Longest a batch waits for the lineage registry topic to be read to its end when it holds a lineage
   * reference this process does not know yet, ms (default 30 000; lineage-follower.ts). A reference
   * still unknown then makes its records fail to decode with ONDIJON_LINEAGE_UNKNOWN.
   */
  lineageTimeoutMs?: number;
}

/** A consumer made by `createConsumer`. */
export interface KafkaConsumer {
  /** Its group id. */
  readonly groupId: string;
  /** Connects, subscribes and starts handing batches to `handler`; resolves when consuming started. */
  start(handler: BatchHandler): Promise<void>;
  /** Commits offsets (each the next offset to read of its partition), for `commit: 'manual'`. */
  commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void>;
  /** Moves a partition's position; kafkajs applies it at its next fetch and marks older batches stale. */
  seek(target: { topic: string; partition: number; offset: string }): void;
  /** Stops fetching the given partitions (all of a topic when `partitions` is absent). */
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  /** Fetches paused partitions again. */
  resume(topics: { topic: string; partitions?: number[] }[]): void;
  /** The partitions paused now. */
  paused(): TopicPartitions[];
  /**
   * Stops: no new batch is handed over, the one in hand finishes (within `stopTimeoutMs`), the consumer
   * disconnects and a throwaway group is deleted. Never throws (failures are logged); idempotent.
   */
  stop(): Promise<void>;
}

/** True when kafkajs marks the error as retriable (a broker moving, a coordinator loading, a timeout). */
export function isRetriableKafkaError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}

/** A record's key, value or header as UTF-8 text (null when absent). */
export function recordText(value: Buffer | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : value.toString('utf8');
}

/**
 * A record's event as structured-mode JSON text, whether it was written in CloudEvents binary mode (a
 * `ce_specversion` header: packages/contracts/src/cloudevents-binary.ts) or structured; the raw value
 * when a binary record cannot be decoded. `topic` is the registry name, for its constants.
 */
export function eventText(
  message: Pick<KafkaMessage, 'headers' | 'value'> & Partial<Pick<KafkaMessage, 'key' | 'timestamp'>>,
  topic?: string,
): string | null {
  const value = recordText(message.value);
  try {
    return structuredText(message.headers, value, topic, message);
  } catch {
    return value;
  }
}

/**
 * Creates the consumer every Kafka reader of the project uses (see the top of this file). Installs the
 * kafkajs speed-ups first (kafkajs-speedups/index.ts; idempotent, `ONDIJON_KAFKAJS_SPEEDUPS=off` skips).
 */
export function createConsumer(
  kafka: Pick<Kafka, 'consumer' | 'admin'>,
  options: ConsumerOptions,
): KafkaConsumer {
  installKafkajsSpeedups();
  const config: ConsumerConfig = { groupId: options.groupId, allowAutoTopicCreation: false };
  if (options.sessionTimeout !== undefined) config.sessionTimeout = options.sessionTimeout;
  if (options.heartbeatInterval !== undefined) config.heartbeatInterval = options.heartbeatInterval;
  if (options.maxBytesPerPartition !== undefined) config.maxBytesPerPartition = options.maxBytesPerPartition;
  if (options.maxWaitTimeInMs !== undefined) config.maxWaitTimeInMs = options.maxWaitTimeInMs;
  if (options.maxBytes !== undefined) config.maxBytes = options.maxBytes;
  if (options.minBytes !== undefined) config.minBytes = options.minBytes;
  const consumer: KafkajsConsumer = kafka.consumer(config);
  const { onGroupJoin, onBatchEnd, onCrash, logger } = options;
  if (onGroupJoin) consumer.on(consumer.events.GROUP_JOIN, () => onGroupJoin());
  if (onBatchEnd)
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      onBatchEnd({ topic: payload.topic, partition: payload.partition, lastOffset: payload.lastOffset }),
    );
  if (onCrash) consumer.on(consumer.events.CRASH, ({ payload }) => onCrash(payload.error, payload.restart));

  let started = false;
  let stopping: Promise<void> | undefined;
  /** Lineage registry followers by physical registry topic, started at the first unknown reference. */
  const followers = new Map<string, LineageFollower>();
  /**
   * Makes the batch's lineage references known before the handler decodes it (lineage-follower.ts).
   * A reference still unknown is logged here and fails its records' decoding with a coded error, which
   * each reader handles as it handles a record it cannot decode (the stream runtime dead-letters it):
   * the batch is handed over, never held.
   */
  const withLineages =
    (handler: BatchHandler): BatchHandler =>
    async (payload) => {
      const unknown = unknownLineageRefs(payload.batch.messages);
      if (unknown.length > 0) {
        const registry = lineageRegistryTopicFor(payload.batch.topic);
        let follower = followers.get(registry);
        if (follower === undefined) {
          follower = new LineageFollower(kafka, registry, {
            groupPrefix: options.groupId,
            timeoutMs: options.lineageTimeoutMs ?? 30_000,
            logger,
          });
          followers.set(registry, follower);
        }
        const missing = await follower.resolve(unknown, () => payload.heartbeat());
        if (missing.length > 0)
          logger?.error(
            {
              code: 'ONDIJON_LINEAGE_UNKNOWN',
              topic: payload.batch.topic,
              partition: payload.batch.partition,
              registry,
              lineageRefs: missing,
            },
            'lineage references not in the registry topic: their records cannot be decoded',
          );
      }
      return handler(payload);
    };
  const stop = async (): Promise<void> => {
    const deadline = options.stopTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), deadline);
    });
    try {
      const outcome = await Promise.race([consumer.disconnect(), late]);
      if (outcome === 'late')
        logger?.warn(
          { groupId: options.groupId, deadlineMs: deadline },
          'kafka consumer stop past its deadline',
        );
    } catch (err) {
      logger?.warn({ err, groupId: options.groupId }, 'kafka consumer disconnect failed');
    } finally {
      clearTimeout(timer);
    }
    await Promise.all([...followers.values()].map((f) => f.stop()));
    if (!options.throwawayGroup || !started) return;
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([options.groupId]);
    } catch (err) {
      logger?.warn({ err, groupId: options.groupId }, 'kafka consumer group not deleted');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  return {
    groupId: options.groupId,
    async start(handler) {
      started = true;
      await consumer.connect();
      await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? false });
      await consumer.run({
        autoCommit: options.commit === 'auto',
        eachBatchAutoResolve: options.resolve !== 'handler',
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: withLineages(handler),
      });
    },
    commitOffsets: (offsets) => consumer.commitOffsets(offsets),
    seek: (target) => consumer.seek(target),
    pause: (topics) => consumer.pause(topics),
    resume: (topics) => consumer.resume(topics),
    paused: () => consumer.paused(),
    stop: () => (stopping ??= stop()),
  };
}
