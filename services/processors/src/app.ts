import {
  buildProbeServer,
  Counter,
  Gauge,
  Histogram,
  type Logger,
  type Registry,
} from '@ondijon/service-kit';
import {
  createStreamRuntime,
  type AnyProcessor,
  type StreamMetrics,
  type StreamRedis,
  type StreamRuntime,
} from '@ondijon/stream';
import type { Kafka } from 'kafkajs';
import type { ProcessorsConfig } from './config';
import { processors as registered } from './processors/index';

/** What the app is built with (real clients in main.ts, test clients in tests). */
export interface ProcessorsDeps {
  kafka: Kafka;
  redis: StreamRedis;
  logger: Logger;
  registry: Registry;
  /** Processors to run (default: the registered list, filtered by PROCESSORS_ENABLED). */
  processors?: readonly AnyProcessor[];
}

/** Prometheus metrics of the stream runtime: `ondijon_processors_*`. */
export function promStreamMetrics(registry: Registry): StreamMetrics {
  const processed = new Counter({
    name: 'ondijon_processors_records_processed_total',
    help: 'Input records handled',
    labelNames: ['processor', 'topic'],
    registers: [registry],
  });
  const dead = new Counter({
    name: 'ondijon_processors_records_dead_lettered_total',
    help: 'Records sent to the dead-letter topic',
    labelNames: ['processor', 'code'],
    registers: [registry],
  });
  const late = new Counter({
    name: 'ondijon_processors_records_late_total',
    help: 'Late records, revised or routed',
    labelNames: ['processor', 'action'],
    registers: [registry],
  });
  const dup = new Counter({
    name: 'ondijon_processors_records_duplicate_total',
    help: 'Duplicate events counted once',
    labelNames: ['processor'],
    registers: [registry],
  });
  const emitted = new Counter({
    name: 'ondijon_processors_results_emitted_total',
    help: 'Aggregate results emitted (every revision)',
    labelNames: ['processor'],
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'ondijon_processors_consumer_lag_records',
    help: 'Consumer lag per partition',
    labelNames: ['processor', 'topic', 'partition'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ondijon_processors_emit_latency_seconds',
    help: 'Window close to result acknowledged by Kafka',
    labelNames: ['processor'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const watermark = new Gauge({
    name: 'ondijon_processors_watermark_seconds',
    help: 'Watermark of a windowed processor (event time, Unix seconds)',
    labelNames: ['processor'],
    registers: [registry],
  });
  return {
    processed: (processor, topic, n) => processed.inc({ processor, topic }, n),
    deadLettered: (processor, code, n) => dead.inc({ processor, code }, n),
    late: (processor, action, n) => late.inc({ processor, action }, n),
    duplicates: (processor, n) => dup.inc({ processor }, n),
    emitted: (processor, n) => emitted.inc({ processor }, n),
    lag: (processor, topic, partition, n) => lag.set({ processor, topic, partition: String(partition) }, n),
    emitLatency: (processor, ms) => latency.observe({ processor }, ms / 1000),
    watermark: (processor, eventMs) => watermark.set({ processor }, eventMs / 1000),
  };
}

/** Builds the processors service: the stream runtime over the registered processors, and its probes. */
export function buildApp(
  config: Readonly<ProcessorsConfig>,
  deps: ProcessorsDeps,
): { start(): Promise<void>; close(): Promise<void>; runtime: StreamRuntime } {
  const all = deps.processors ?? registered;
  const unknown = config.PROCESSORS_ENABLED.filter((n) => !all.some((p) => p.name === n));
  if (unknown.length > 0)
    throw new Error(`PROCESSORS_ENABLED names unknown processors: ${unknown.join(', ')}`);
  const selected =
    config.PROCESSORS_ENABLED.length > 0
      ? all.filter((p) => config.PROCESSORS_ENABLED.includes(p.name))
      : all;
  const runtime = createStreamRuntime(selected, {
    kafka: deps.kafka,
    redis: deps.redis,
    groupId: config.PROCESSORS_GROUP_ID,
    logger: deps.logger,
    metrics: promStreamMetrics(deps.registry),
    topicOverrides: config.STREAM_TOPIC_OVERRIDES,
    keyPrefix: config.STREAM_KEY_PREFIX,
    idleFlushMs: config.STREAM_IDLE_FLUSH_MS,
    emitIntervalMs: config.STREAM_EMIT_INTERVAL_MS,
    maxChunk: config.STREAM_MAX_CHUNK,
    maxQueuedRecords: config.STREAM_MAX_QUEUED,
    maxQueuedBytes: config.STREAM_MAX_QUEUED_BYTES,
    consumer: {
      sessionTimeout: config.STREAM_SESSION_TIMEOUT_MS,
      heartbeatInterval: Math.min(3_000, Math.floor(config.STREAM_SESSION_TIMEOUT_MS / 3)),
    },
  });
  const probes = buildProbeServer({
    registry: deps.registry,
    readiness: {
      stream: () => (runtime.isReady() ? null : 'stream runtime not running'),
      redis: () => (deps.redis.status === 'ready' ? null : `redis ${deps.redis.status}`),
    },
  });
  return {
    runtime,
    async start() {
      await probes.listen({ host: config.PROBE_HOST, port: config.PROBE_PORT });
      await runtime.start();
      deps.logger.info(
        { processors: selected.map((p) => p.name), port: config.PROBE_PORT },
        'processors started',
      );
    },
    async close() {
      await runtime.close();
      await probes.close();
    },
  };
}
