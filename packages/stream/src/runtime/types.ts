import type { TopicName } from '@ondijon/contracts';
import type { StreamRedis } from './redis-client';
import type { Kafka } from 'kafkajs';
import type { StreamLogger } from '../engine';

/** Counters and gauges the runtime reports; the service maps them onto Prometheus. */
export interface StreamMetrics {
  /** Input records handled (decoded or dead-lettered). */
  processed(processor: string, topic: string, n: number): void;
  /** Records sent to the dead-letter topic, by code. */
  deadLettered(processor: string, code: string, n: number): void;
  /** Late records, by what was done with them. */
  late(processor: string, action: 'revised' | 'routed', n: number): void;
  /** Duplicate events (same id) not counted again. */
  duplicates(processor: string, n: number): void;
  /** Results emitted (every revision). */
  emitted(processor: string, n: number): void;
  /** Consumer lag of a partition, records. */
  lag(processor: string, topic: string, partition: number, lag: number): void;
  /** Time from a window's close to its result acknowledged by Kafka, ms. */
  emitLatency(processor: string, ms: number): void;
  /** Watermark of a windowed processor (event time, epoch ms) after the emitter's reading of the store. */
  watermark(processor: string, eventMs: number): void;
}

/** Metrics that go nowhere. */
export const noopMetrics: StreamMetrics = {
  processed: () => undefined,
  deadLettered: () => undefined,
  late: () => undefined,
  duplicates: () => undefined,
  emitted: () => undefined,
  lag: () => undefined,
  emitLatency: () => undefined,
  watermark: () => undefined,
};

/** Options of `runProcessors`. */
export interface RuntimeOptions {
  kafka: Kafka;
  redis: StreamRedis;
  /** Consumer group prefix; each processor consumes in `<groupId>.<processor>`. */
  groupId: string;
  logger: StreamLogger;
  metrics?: StreamMetrics;
  /** Logical registry topic → physical topic (tests use their own topics). */
  topicOverrides?: Partial<Record<TopicName, string>>;
  /** Redis key prefix (default `processors:stream:`); keys are `<prefix>{<processor>}:…`. */
  keyPrefix?: string;
  /** Records per atomic state update (Lua script); bounds the time a script blocks Redis (default 1000). */
  maxChunk?: number;
  /** Records fetched ahead and queued before kafkajs is made to wait (default 10 000). */
  maxQueuedRecords?: number;
  /** Bytes (keys and values) fetched ahead and queued before kafkajs is made to wait (default 32 MiB). */
  maxQueuedBytes?: number;
  /** A partition without records for this long stops holding the watermark back; all idle flushes all windows (default 30 s). */
  idleFlushMs?: number;
  /** How often the emitter looks for closed windows besides after each chunk (default 500 ms). */
  emitIntervalMs?: number;
  /** How long window state and dedupe sets are kept after their last write, wall clock (default 7 days). */
  stateTtlMs?: number;
  /** Event-time horizon after which a late record can no longer revise its window and is routed (default 6 days; the harness's `reviseHorizonMs` too). */
  reviseHorizonMs?: number;
  /** Attempts of a Redis operation before the batch fails and is retried by the consumer (default 8). */
  redisAttempts?: number;
  /** Start from the beginning of topics when a group has no committed offset (default true). */
  fromBeginning?: boolean;
  /** Extra kafkajs consumer settings. */
  consumer?: {
    sessionTimeout?: number;
    heartbeatInterval?: number;
    maxBytesPerPartition?: number;
    maxWaitTimeInMs?: number;
  };
}

/** A running set of processors. */
export interface StreamRuntime {
  /** Connects, subscribes and starts consuming and emitting. */
  start(): Promise<void>;
  /** Stops consuming, finishes the current chunk, emits what is closed, disconnects. */
  close(): Promise<void>;
  /** True when every consumer is running and the producer is healthy. */
  isReady(): boolean;
  /** Counters since start, for benchmarks and tests. */
  stats(): RuntimeStats;
  /** Windows not yet emitted (open), emitted but not acknowledged (closing) and awaiting a revision (dirty), over all processors. */
  backlog(): Promise<{ open: number; closing: number; dirty: number }>;
}

/** Counters since start. */
export interface RuntimeStats {
  processed: number;
  emitted: number;
  deadLettered: number;
  late: number;
  duplicates: number;
  conflicts: number;
  emitLatenciesMs: number[];
}
