import { randomUUID } from 'node:crypto';
import type { TopicName } from '@ondijon/contracts';
import {
  createConsumer,
  type BatchingProducer,
  type ConsumedBatch,
  type KafkaConsumer,
} from '@ondijon/kafka';
import type { AnyProcessor } from '../define';
import type { StreamLogger } from '../engine';
import { DEFAULT_REVISE_HORIZON_MS } from '../planner';
import { PartitionClaims } from './claims';
import { ChunkPipeline } from './chunk-pipeline';
import { OffsetCommitter } from './commit';
import { Emitter } from './emitter';
import { FetchQueue } from './fetch-queue';
import { ProcessorOutput } from './output';
import { RedisWindowStore } from './redis-store';
import { applyStateless } from './stateless-apply';
import { noopMetrics, type RuntimeOptions, type RuntimeStats } from './types';
import { WindowedApply } from './windowed-apply';

/** One processor's consumer, state store and emitter, wired together. */
export class ProcessorUnit {
  running = false;
  private readonly consumer: KafkaConsumer;
  private readonly store: RedisWindowStore | undefined;
  private readonly log: StreamLogger;
  /** Physical topic → logical topic. */
  private readonly logical: Map<string, TopicName>;
  private readonly queue: FetchQueue;
  private readonly claims: PartitionClaims;
  private readonly committer: OffsetCommitter;
  private readonly pipeline: ChunkPipeline;
  private readonly windows: WindowedApply | undefined;
  private readonly emitter: Emitter | undefined;
  private stopping = false;
  /** The admin client that reads the input partitions' offsets (logEnds), once connected. */
  private admin: ReturnType<RuntimeOptions['kafka']['admin']> | undefined;
  private ends: { at: number; map: ReadonlyMap<string, bigint> } | undefined;
  /** Incremented at every group join: batches queued before it are dropped (kafkajs fetches them again). */
  private generation = 0;

  constructor(
    private readonly def: AnyProcessor,
    private readonly options: RuntimeOptions,
    producer: BatchingProducer,
    private readonly physical: (t: TopicName) => string,
    stats: RuntimeStats,
  ) {
    const log = (this.log = options.logger.child({ processor: def.name }));
    const metrics = options.metrics ?? noopMetrics;
    const attempts = options.redisAttempts ?? 8;
    const logical = (this.logical = new Map<string, TopicName>());
    for (const t of def.inputs) logical.set(physical(t), t);
    this.consumer = createConsumer(options.kafka, {
      groupId: `${options.groupId}.${def.name}`,
      topics: def.inputs.map((t) => physical(t)),
      fromBeginning: options.fromBeginning ?? true,
      sessionTimeout: options.consumer?.sessionTimeout ?? 30_000,
      heartbeatInterval: options.consumer?.heartbeatInterval ?? 3_000,
      maxBytesPerPartition: options.consumer?.maxBytesPerPartition ?? 1_048_576,
      maxWaitTimeInMs: options.consumer?.maxWaitTimeInMs ?? 250,
      // Offsets are resolved when a batch is queued (so kafkajs fetches ahead) and committed by the
      // runtime once applied (commit.ts), never by kafkajs.
      resolve: 'handler',
      commit: 'manual',
      partitionsConsumedConcurrently: 1,
      logger: log,
      // kafkajs has no rebalance listener: a new generation means partitions may have moved, so every
      // partition is claimed again (new epoch) before its next write.
      onGroupJoin: () => {
        this.generation += 1;
        this.claims.clear();
        this.windows?.clearCache();
        // kafkajs starts the new generation from the committed offsets: what is queued is fetched again.
        this.queue.clear();
        this.pipeline.dropCursor();
        this.committer.clear();
      },
      onCrash: (err, restart) => this.log.error({ err, restart }, 'consumer crashed'),
    });
    const output = new ProcessorOutput(def.name, producer, physical, metrics, stats, log);
    this.queue = new FetchQueue(options.maxQueuedRecords ?? 10_000, options.maxQueuedBytes ?? 32 * 1_048_576);
    this.committer = new OffsetCommitter(this.consumer, log);
    if (def.kind === 'windowed') {
      const store = new RedisWindowStore(options.redis, options.keyPrefix ?? 'processors:stream:', def.name);
      const windows = new WindowedApply(def, store, output, stats, metrics, log, {
        attempts,
        ttlMs: options.stateTtlMs ?? 7 * 86_400_000,
        reviseHorizonMs: options.reviseHorizonMs ?? DEFAULT_REVISE_HORIZON_MS,
        applied: () => this.emitter?.request(),
      });
      this.store = store;
      this.windows = windows;
      this.emitter = new Emitter(def, store, output, windows, stats, metrics, log, {
        owner: randomUUID(),
        idleFlushMs: options.idleFlushMs ?? 30_000,
        emitIntervalMs: options.emitIntervalMs ?? 500,
        logEnds: () => this.logEnds(),
      });
    }
    this.claims = new PartitionClaims(
      this.store,
      options.kafka,
      options.fromBeginning ?? true,
      attempts,
      log,
    );
    this.pipeline = new ChunkPipeline({
      def,
      consumer: this.consumer,
      queue: this.queue,
      claims: this.claims,
      committer: this.committer,
      logical,
      metrics,
      log,
      maxChunk: options.maxChunk ?? 1000,
      generation: () => this.generation,
      stopping: () => this.stopping,
      apply: (chunk) =>
        def.kind === 'stateless'
          ? applyStateless(def, chunk.raws, output, stats, metrics, log)
          : this.windows!.apply(chunk.of.tp, chunk.of.claim, chunk.raws, chunk.decoded!),
      stateWentBack: () => this.windows?.reset(),
    });
  }

  /**
   * Each input partition's end offset in Kafka (logical `topic:partition`), read at most once a second by
   * one admin client; undefined when Kafka does not answer (the watermark then goes by the store alone).
   */
  private async logEnds(): Promise<ReadonlyMap<string, bigint> | undefined> {
    const now = Date.now();
    if (this.ends && now - this.ends.at < 1_000) return this.ends.map;
    try {
      if (!this.admin) {
        const admin = this.options.kafka.admin();
        await admin.connect();
        this.admin = admin;
      }
      const map = new Map<string, bigint>();
      for (const [physical, logical] of this.logical)
        for (const p of await this.admin.fetchTopicOffsets(physical))
          map.set(`${logical}:${p.partition}`, BigInt(p.high));
      this.ends = { at: now, map };
      return map;
    } catch (err) {
      this.log.warn({ err }, "could not read the input partitions' offsets; watermark from the store alone");
      return undefined;
    }
  }

  async start(): Promise<void> {
    await this.consumer.start((payload) => this.onBatch(payload));
    this.running = true;
    this.emitter?.start();
    this.log.info({ inputs: this.def.inputs }, 'processor started');
  }

  async backlog(): Promise<{ open: number; closing: number; dirty: number }> {
    return this.store ? this.store.backlog() : { open: 0, closing: 0, dirty: 0 };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.emitter?.halt();
    this.committer.halt();
    // Finish the batch in hand (its chunks stop at the next boundary), then commit what was applied.
    this.queue.clear();
    this.pipeline.dropCursor();
    await this.pipeline.idle();
    await this.committer.commit();
    // Never throws: a failed disconnect is logged by the consumer.
    await this.consumer.stop();
    this.running = false;
    await this.emitter?.stop();
    await this.admin?.disconnect().catch(() => undefined);
  }

  private async onBatch(payload: ConsumedBatch): Promise<void> {
    if (this.stopping || !payload.isRunning() || payload.isStale()) return;
    const { topic, partition } = payload.batch;
    const logical = this.logical.get(topic);
    // Queued records hold the watermark until applied (window-store.ts, watermarkOf): a fetch of one
    // partition can span hours of event time (bench:stream with gzip input), and a partition waiting
    // behind the others' batches is not idle. Not awaited: ioredis sends it before this batch's
    // claim and updates, on the same connection, so Redis sees it first.
    const last = payload.batch.messages.at(-1)?.offset;
    if (this.store && logical && last !== undefined)
      this.store.announce(`${logical}:${partition}`, last).catch((err: unknown) => {
        this.log.warn({ err, topic: logical, partition }, 'could not announce a queued partition');
      });
    await this.queue.accept(
      payload,
      this.generation,
      () => this.pipeline.kick(),
      () => this.stopping,
    );
  }
}
