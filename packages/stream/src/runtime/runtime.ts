import { randomUUID } from 'node:crypto';
import {
  HEADERS,
  isOnDijonError,
  OnDijonError,
  SENSITIVITY_DESCRIPTIONS,
  TOPICS,
  type DeadLetter,
  type Envelope,
  type TopicName,
} from '@ondijon/contracts';
import { createBatchingProducer, type BatchingProducer } from '@ondijon/kafka';
import type { Redis } from 'ioredis';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { AnyProcessor, AnyStatelessProcessor, AnyWindowedAggregation } from '../define';
import {
  buildAggregate,
  decode,
  deadLetterFor,
  fold,
  groupKey,
  groupsOf,
  initState,
  isLate,
  lateRecordFor,
  processorContext,
  validateOutput,
  type RawRecord,
  type StreamLogger,
  type WindowState,
} from '../engine';
import { windowsFor, type TimeWindow } from '../windows';
import { RedisWindowStore, type StoredWindow, type WindowWrite } from './redis-store';

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
};

/** Options of `runProcessors`. */
export interface RuntimeOptions {
  kafka: Kafka;
  redis: Redis;
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
  /** Event-time horizon after which a late record can no longer revise its window and is routed (default 6 days). */
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

/** Creates a runtime for `processors` and starts it. */
export async function runProcessors(
  processors: readonly AnyProcessor[],
  options: RuntimeOptions,
): Promise<StreamRuntime> {
  const runtime = createStreamRuntime(processors, options);
  await runtime.start();
  return runtime;
}

/** Exponential backoff with jitter for retryable operations. */
async function retrying<T>(
  what: string,
  attempts: number,
  log: StreamLogger,
  fn: () => Promise<T>,
): Promise<T> {
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || (isOnDijonError(err) && !err.retryable)) throw err;
      log.warn({ what, attempt, err }, 'retrying after error');
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

class FencedError extends OnDijonError {
  constructor(tp: string) {
    super('ONDIJON_STATE_FENCED', `partition ${tp} was claimed by another instance`, { details: { tp } });
  }
}

/**
 * Redis holds an older offset for a partition than this instance applied: it lost its latest writes
 * (killed before its AOF tail reached the disk). Handled inside the runtime: the partition is read
 * again from the offset after the stored one (never escapes `settle`).
 */
class StateBehindError extends Error {
  constructor(
    readonly tp: string,
    readonly stored: bigint | undefined,
  ) {
    super(`state of ${tp} is behind what was applied`);
  }
}

/** Creates (without starting) a runtime for `processors`. */
export function createStreamRuntime(
  processors: readonly AnyProcessor[],
  options: RuntimeOptions,
): StreamRuntime {
  const names = new Set<string>();
  for (const p of processors) {
    if (names.has(p.name)) throw new Error(`processor ${p.name} is registered twice`);
    names.add(p.name);
  }
  const physical = (t: TopicName) => options.topicOverrides?.[t] ?? t;
  const producer = createBatchingProducer(options.kafka, { lingerMs: 2 });
  const stats: RuntimeStats = {
    processed: 0,
    emitted: 0,
    deadLettered: 0,
    late: 0,
    duplicates: 0,
    conflicts: 0,
    emitLatenciesMs: [],
  };
  const units = processors.map((p) => new ProcessorUnit(p, options, producer, physical, stats));
  let started = false;
  return {
    async start() {
      await producer.connect();
      await Promise.all(units.map((u) => u.start()));
      started = true;
    },
    async close() {
      await Promise.allSettled(units.map((u) => u.stop()));
      await producer.disconnect().catch(() => undefined);
      started = false;
    },
    isReady: () => started && producer.isHealthy() && units.every((u) => u.running),
    stats: () => stats,
    async backlog() {
      const all = await Promise.all(units.map((u) => u.backlog()));
      return all.reduce(
        (a, b) => ({ open: a.open + b.open, closing: a.closing + b.closing, dirty: a.dirty + b.dirty }),
        { open: 0, closing: 0, dirty: 0 },
      );
    },
  };
}

interface CachedWindow {
  version: number;
  state: WindowState | undefined;
  closed: boolean;
  group: unknown;
  start: number;
  end: number;
}

interface Claim {
  epoch: string;
  offset: bigint | undefined;
  /** The first batch after the claim was checked against the stored offset (see replayFrom). */
  checked?: boolean;
}

/** A queued batch being applied, with what its chunks need to know of it. */
interface BatchInHand {
  batch: EachBatchPayload['batch'];
  generation: number;
  /** `<physical topic>:<partition>`. */
  key: string;
  rewinds: number;
  topic: TopicName;
  /** `<logical topic>:<partition>`. */
  tp: string;
  claim: Claim;
}

/** The batch being cut into chunks. */
interface Cursor extends BatchInHand {
  /** Index of the next message to cut. */
  next: number;
  size: number;
}

/** A decoded chunk of one batch, ready to apply. */
interface Chunk {
  of: BatchInHand;
  raws: RawRecord[];
  decoded: { items: Item[]; letters: DeadLetter[] } | undefined;
  /** The batch's last chunk: once applied, the batch's offsets may be committed. */
  last: boolean;
}

interface Item {
  raw: RawRecord;
  record: ReturnType<typeof decode> & { ok: true };
  eventId: string;
  /** The record's groups × windows, computed once (by ensureCached, reused by every plan). */
  targets?: Target[];
}

interface Target {
  group: unknown;
  window: TimeWindow;
  /** `windowStart|groupKey`. */
  wk: string;
}

/**
 * Shared target lists for the common case, one group per record: per windows list (windowsFor reuses
 * its result for consecutive records of a tumbling window), per group key. Read-only once built.
 */
const sharedTargets = new WeakMap<readonly TimeWindow[], Map<string, Target[]>>();

/** The groups × windows of a decoded record, memoised on the item (throws when the processor's `key` throws). */
function targetsOf(def: AnyWindowedAggregation, it: Item): Target[] {
  if (it.targets) return it.targets;
  const windows = windowsFor(def.window, it.record.eventTime);
  const g = def.key(it.record.record);
  if (g === undefined || g === null) return (it.targets = []);
  if (!Array.isArray(g)) {
    // Hot path: no allocation per record once the window and group were seen.
    const gk = groupKey(g);
    let byGroup = sharedTargets.get(windows);
    if (!byGroup) sharedTargets.set(windows, (byGroup = new Map()));
    let targets = byGroup.get(gk);
    if (!targets) {
      targets = windows.map((window) => ({ group: g, window, wk: `${window.start}|${gk}` }));
      if (byGroup.size < 10_000) byGroup.set(gk, targets);
    }
    return (it.targets = targets);
  }
  const targets: Target[] = [];
  for (const group of groupsOf(def, it.record.record)) {
    const gk = groupKey(group);
    for (const window of windows) targets.push({ group, window, wk: `${window.start}|${gk}` });
  }
  it.targets = targets;
  return targets;
}

/** One processor's consumer, state store and emitter. */
class ProcessorUnit {
  running = false;
  private readonly consumer: Consumer;
  private readonly store: RedisWindowStore | undefined;
  private readonly log: StreamLogger;
  private readonly metrics: StreamMetrics;
  private readonly claims = new Map<string, Claim>();
  private readonly cache = new Map<string, CachedWindow>();
  private readonly logical = new Map<string, TopicName>();
  private readonly owner = randomUUID();
  private readonly maxChunk: number;
  private readonly idleFlushMs: number;
  private readonly ttlMs: number;
  private readonly reviseHorizonMs: number;
  private readonly attempts: number;
  private emitTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private lastSweep = 0;
  private watermark = Number.NEGATIVE_INFINITY;
  private stopping = false;
  /** Batches handed over by kafkajs, not yet processed (fetch-ahead, see onBatch). */
  private queue: { batch: EachBatchPayload['batch']; generation: number; bytes: number }[] = [];
  private queuedRecords = 0;
  private queuedBytes = 0;
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  private waiters: (() => void)[] = [];
  private draining: Promise<void> | undefined;
  /** Incremented at every group join: batches queued before it are dropped (kafkajs fetches them again). */
  private generation = 0;
  /** Next offset to commit per partition, applied since the last commit. */
  private readonly applied = new Map<string, { topic: string; partition: number; offset: string }>();
  private commitTimer: NodeJS.Timeout | undefined;
  /** The batch being cut into chunks. */
  private cursor: Cursor | undefined;
  /** Rewinds per physical partition: chunks decoded before a rewind of their partition are dropped. */
  private readonly rewinds = new Map<string, number>();

  constructor(
    private readonly def: AnyProcessor,
    private readonly options: RuntimeOptions,
    private readonly producer: BatchingProducer,
    private readonly physical: (t: TopicName) => string,
    private readonly stats: RuntimeStats,
  ) {
    this.log = options.logger.child({ processor: def.name });
    this.metrics = options.metrics ?? noopMetrics;
    this.maxChunk = options.maxChunk ?? 1000;
    this.idleFlushMs = options.idleFlushMs ?? 30_000;
    this.ttlMs = options.stateTtlMs ?? 7 * 86_400_000;
    this.reviseHorizonMs = options.reviseHorizonMs ?? 6 * 86_400_000;
    this.attempts = options.redisAttempts ?? 8;
    this.maxQueued = options.maxQueuedRecords ?? 10_000;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1_048_576;
    for (const t of def.inputs) this.logical.set(physical(t), t);
    this.consumer = options.kafka.consumer({
      groupId: `${options.groupId}.${def.name}`,
      allowAutoTopicCreation: false,
      sessionTimeout: options.consumer?.sessionTimeout ?? 30_000,
      heartbeatInterval: options.consumer?.heartbeatInterval ?? 3_000,
      maxBytesPerPartition: options.consumer?.maxBytesPerPartition ?? 1_048_576,
      maxWaitTimeInMs: options.consumer?.maxWaitTimeInMs ?? 250,
    });
    this.store =
      def.kind === 'windowed'
        ? new RedisWindowStore(options.redis, options.keyPrefix ?? 'processors:stream:', def.name)
        : undefined;
    // kafkajs has no rebalance listener: a new generation means partitions may have moved, so every
    // partition is claimed again (new epoch) before its next write (INFRA-NOTES.md "kafkajs").
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.generation += 1;
      this.claims.clear();
      this.cache.clear();
      // kafkajs starts the new generation from the committed offsets: what is queued is fetched again.
      this.queue = [];
      this.queuedRecords = 0;
      this.queuedBytes = 0;
      this.cursor = undefined;
      this.applied.clear();
      this.wake();
    });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: this.def.inputs.map((t) => this.physical(t)),
      fromBeginning: this.options.fromBeginning ?? true,
    });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      // Offsets are resolved when a batch is queued (so kafkajs fetches ahead) and committed by the
      // runtime once applied (commitApplied), never by kafkajs.
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.running = true;
    if (this.store) {
      const tick = () => {
        this.emitTimer = setTimeout(() => {
          void this.sweep().finally(() => {
            if (!this.stopping) tick();
          });
        }, this.options.emitIntervalMs ?? 500);
      };
      tick();
    }
    this.log.info({ inputs: this.def.inputs }, 'processor started');
  }

  async backlog(): Promise<{ open: number; closing: number; dirty: number }> {
    return this.store ? this.store.backlog() : { open: 0, closing: 0, dirty: 0 };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.emitTimer) clearTimeout(this.emitTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    // Finish the batch in hand (its chunks stop at the next boundary), then commit what was applied.
    this.queue = [];
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.cursor = undefined;
    this.wake();
    await this.draining;
    await this.commitApplied();
    await this.consumer
      .disconnect()
      .catch((err: unknown) => this.log.warn({ err }, 'consumer disconnect failed'));
    this.running = false;
    if (this.store) {
      await this.sweeping;
      await this.store.unlock(this.owner).catch(() => undefined);
    }
  }

  // Fetch-ahead: kafkajs fetches a partition again only after eachBatch returns, so a consumer that
  // processes inside eachBatch idles for every fetch round trip (~17 % of bench:stream's time). Here
  // eachBatch only queues the batch and resolves its offsets in kafkajs (which then fetches the next
  // batch while this one is processed), and waits only when too many records are queued. Kafka offsets
  // are committed by the runtime, and only up to what was applied (Redis holds the exact offset with
  // the state): a crash, a rebalance or a failed batch makes kafkajs fetch again from the committed or
  // rewound offset, and what Redis already holds is skipped.
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.stopping || !payload.isRunning() || payload.isStale()) return;
    let bytes = 0;
    for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
    this.queue.push({ batch, generation: this.generation, bytes });
    this.queuedRecords += batch.messages.length;
    this.queuedBytes += bytes;
    payload.resolveOffset(batch.lastOffset());
    this.kick();
    let waited = 0;
    while (this.overQueued() && !this.stopping && payload.isRunning()) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1_000);
      });
      // A long wait (Redis retrying) must not cost the group membership.
      if (++waited % 3 === 0) await payload.heartbeat().catch(() => undefined);
    }
  }

  /** Starts the processing loop if it is not running. */
  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0 && !this.stopping) this.kick();
    });
  }

  private overQueued(): boolean {
    return this.queuedRecords > this.maxQueued || this.queuedBytes > this.maxQueuedBytes;
  }

  private wake(): void {
    if (this.overQueued()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /**
   * Processes queued batches in arrival order (per partition, Kafka order), as a pipeline of chunks:
   * while one chunk's state update runs in Redis, the next chunk (of this batch or the next one) is
   * decoded. Updates are applied one at a time.
   */
  private async drain(): Promise<void> {
    let inflight: { chunk: Chunk; done: Promise<void> } | undefined;
    while (!this.stopping) {
      const chunk = await this.nextChunk();
      if (inflight) await this.settle(inflight.chunk, inflight.done);
      inflight = undefined;
      if (!chunk) {
        if (this.queue.length > 0 || this.cursor) continue; // arrived while settling
        break;
      }
      // A rewind or rebalance since it was decoded: kafkajs fetches it again.
      if (!this.isCurrent(chunk)) continue;
      inflight = { chunk, done: this.applyChunk(chunk) };
      // Errors are handled by settle(); this keeps Node from reporting them as unhandled meanwhile.
      inflight.done.catch(() => undefined);
    }
    if (inflight) await this.settle(inflight.chunk, inflight.done);
  }

  private isCurrent(chunk: Chunk): boolean {
    const { generation, key, rewinds } = chunk.of;
    return generation === this.generation && (this.rewinds.get(key) ?? 0) === rewinds;
  }

  /** The next chunk to apply, decoded (undefined: nothing queued). Claims a partition on its first batch. */
  private async nextChunk(): Promise<Chunk | undefined> {
    for (;;) {
      if (!this.cursor) {
        const q = this.queue.shift();
        if (!q) return undefined;
        this.queuedRecords -= q.batch.messages.length;
        this.queuedBytes -= q.bytes;
        this.wake();
        if (q.generation !== this.generation) continue; // a rebalance since: kafkajs fetches it again
        const { batch } = q;
        const key = `${batch.topic}:${batch.partition}`;
        const rewinds = this.rewinds.get(key) ?? 0;
        const topic = this.logical.get(batch.topic);
        if (!topic) continue;
        const tp = `${topic}:${batch.partition}`;
        this.metrics.lag(this.def.name, topic, batch.partition, Number(batch.offsetLag()));
        let claim = this.claims.get(tp);
        if (!claim) {
          try {
            claim = await retrying('claim', this.attempts, this.log, () =>
              this.store ? this.store.claim(tp) : Promise.resolve({ epoch: '0', offset: undefined }),
            );
          } catch (err) {
            await this.failed(batch, q.generation, err);
            continue;
          }
          if (q.generation !== this.generation) continue;
          this.claims.set(tp, claim);
          this.log.info(
            { topic, partition: batch.partition, epoch: claim.epoch, offset: claim.offset?.toString() },
            'partition claimed',
          );
        }
        if (!claim.checked) {
          let from: string | undefined;
          try {
            from = await this.replayFrom(batch, claim);
          } catch (err) {
            await this.failed(batch, q.generation, err);
            continue;
          }
          if (q.generation !== this.generation || (this.rewinds.get(key) ?? 0) !== rewinds) continue;
          claim.checked = true;
          if (from !== undefined) {
            // Windows held in memory and the in-memory watermark may be ahead of the restored state
            // (Redis went back under a running instance): read both again, as in onStateBehind.
            this.cache.clear();
            this.watermark = Number.NEGATIVE_INFINITY;
            this.log.warn(
              {
                topic,
                partition: batch.partition,
                committed: batch.firstOffset(),
                from,
                stored: claim.offset?.toString(),
              },
              'state behind the committed offset: reading the partition again from the offset stored with the state',
            );
            this.rewind(batch, q.generation, from);
            continue;
          }
        }
        // Even chunks (a 1 200-record batch is two of 600, not 1 000 + 200: fewer, fuller updates).
        const n = batch.messages.length;
        const size = Math.max(1, Math.ceil(n / Math.max(1, Math.ceil(n / this.maxChunk))));
        this.cursor = { batch, generation: q.generation, key, rewinds, topic, tp, claim, next: 0, size };
      }
      const c = this.cursor;
      const messages = c.batch.messages;
      const from = c.next;
      const end = Math.min(messages.length, from + c.size);
      c.next = end;
      if (end >= messages.length) this.cursor = undefined;
      const raws: RawRecord[] = [];
      // Offsets at or below the one stored with the state were applied before a crash or rebalance
      // (offsets grow within a chunk: one comparison when its first record is past the stored one).
      const stored = c.claim.offset;
      const check = stored !== undefined && from < end && BigInt(messages[from]!.offset) <= stored;
      for (let j = from; j < end; j++) {
        const m = messages[j]!;
        if (check && BigInt(m.offset) <= stored) continue;
        raws.push({
          topic: c.topic,
          key: m.key ? m.key.toString() : null,
          value: m.value,
          partition: c.batch.partition,
          offset: m.offset,
        });
      }
      const decoded =
        this.def.kind === 'windowed' && raws.length > 0 ? this.decodeChunk(this.def, c.tp, raws) : undefined;
      return {
        of: c,
        raws,
        decoded,
        last: end >= messages.length,
      };
    }
  }

  /** Starts a chunk's update (the Redis script is sent before this returns when nothing must be read first). */
  private async applyChunk(chunk: Chunk): Promise<void> {
    if (chunk.raws.length === 0) return;
    if (this.def.kind === 'stateless') await this.runStateless(this.def, chunk.raws);
    else if (chunk.decoded)
      await this.runWindowed(this.def, chunk.of.tp, chunk.of.claim, chunk.raws, chunk.decoded);
  }

  /** Waits for a chunk's update; records the batch as applied after its last chunk, or rewinds. */
  private async settle(chunk: Chunk, done: Promise<void>): Promise<void> {
    try {
      await done;
    } catch (err) {
      if (err instanceof FencedError) {
        this.claims.delete(chunk.of.tp);
        this.log.warn(
          { topic: chunk.of.batch.topic, partition: chunk.of.batch.partition },
          'partition fenced: another instance owns it',
        );
        this.rewind(chunk.of.batch, chunk.of.generation);
        return;
      }
      if (err instanceof StateBehindError) {
        this.onStateBehind(chunk, err);
        return;
      }
      await this.failed(chunk.of.batch, chunk.of.generation, err);
      return;
    }
    if (!chunk.last || !this.isCurrent(chunk)) return;
    const { batch } = chunk.of;
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    this.applied.set(chunk.of.key, { topic: batch.topic, partition: batch.partition, offset: next });
    this.scheduleCommit();
  }

  private async failed(batch: EachBatchPayload['batch'], generation: number, err: unknown): Promise<void> {
    this.log.error(
      { err, topic: batch.topic, partition: batch.partition, offset: batch.firstOffset() },
      'batch failed; fetching it again',
    );
    this.rewind(batch, generation);
    await new Promise((r) => setTimeout(r, 1_000));
  }

  /**
   * Drops the queued batches of a partition and makes kafkajs fetch it again from `batch`'s first
   * offset (what was applied of it is skipped by the offset stored in Redis).
   */
  private rewind(batch: EachBatchPayload['batch'], generation: number, offset?: string): void {
    const key = `${batch.topic}:${batch.partition}`;
    this.rewinds.set(key, (this.rewinds.get(key) ?? 0) + 1);
    if (this.cursor?.key === key) this.cursor = undefined;
    this.queue = this.queue.filter((q) => {
      const drop = q.batch.topic === batch.topic && q.batch.partition === batch.partition;
      if (drop) {
        this.queuedRecords -= q.batch.messages.length;
        this.queuedBytes -= q.bytes;
      }
      return !drop;
    });
    this.wake();
    if (generation !== this.generation || this.stopping) return;
    const from = offset ?? batch.firstOffset() ?? (BigInt(batch.lastOffset()) + 1n).toString();
    // kafkajs applies the seek at its next fetch; until then it marks this partition's batches stale
    // (onBatch drops them).
    try {
      this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: from });
    } catch (err) {
      this.log.warn({ err, topic: batch.topic, partition: batch.partition }, 'rewind failed');
    }
  }

  /**
   * Redis lost writes this instance made (a crash before its AOF tail reached the disk): the offsets
   * stored with the state went back with the state. The offset in Redis is the source of truth, so
   * the partition is read again from the record after it and the lost updates are applied again.
   * Windows held in memory and the in-memory watermark may be ahead of Redis: both are dropped and
   * read again (a replayed record is judged late against the restored watermark, as it was before).
   */
  private onStateBehind(chunk: Chunk, err: StateBehindError): void {
    const { batch, generation, tp } = chunk.of;
    this.claims.delete(tp);
    this.cache.clear();
    this.watermark = Number.NEGATIVE_INFINITY;
    // No stored offset: everything of this partition was lost; the claim check reads it from its start.
    const from = err.stored === undefined ? undefined : (err.stored + 1n).toString();
    this.log.warn(
      {
        topic: batch.topic,
        partition: batch.partition,
        applied: chunk.of.claim.offset?.toString(),
        stored: err.stored?.toString(),
      },
      'state behind what was applied (Redis lost writes): reading the partition again',
    );
    this.rewind(batch, generation, from);
  }

  /**
   * The first batch after a claim: Kafka's committed offset may be past the offset stored with the
   * state when Redis lost its latest writes while the commit went through (the runtime commits only
   * what Redis acknowledged, but an acknowledged write is durable only once its AOF tail is on disk).
   * Returns the offset to read from when the batch starts after the record following the stored
   * offset (the stored offset + 1; the partition's start when nothing is stored), else undefined.
   * A false alarm (offsets taken by transaction markers) costs one fetch.
   */
  private async replayFrom(batch: EachBatchPayload['batch'], claim: Claim): Promise<string | undefined> {
    if (this.def.kind !== 'windowed') return undefined;
    const first = batch.firstOffset();
    if (first === null) return undefined;
    if (claim.offset !== undefined)
      return BigInt(first) > claim.offset + 1n ? (claim.offset + 1n).toString() : undefined;
    if (this.options.fromBeginning === false || BigInt(first) === 0n) return undefined;
    const low = await retrying('fetch offsets', this.attempts, this.log, () => this.lowOffset(batch));
    return BigInt(first) > BigInt(low) ? low : undefined;
  }

  /** The earliest offset still in a partition. */
  private async lowOffset(batch: EachBatchPayload['batch']): Promise<string> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(batch.topic);
      const p = offsets.find((o) => o.partition === batch.partition);
      return p?.low ?? '0';
    } finally {
      await admin.disconnect();
    }
  }

  private scheduleCommit(): void {
    if (this.commitTimer || this.stopping) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      void this.commitApplied();
    }, 1_000);
  }

  /** Commits to Kafka the offsets applied since the last commit (never beyond what Redis holds). */
  private async commitApplied(): Promise<void> {
    const offsets = [...this.applied.values()];
    if (offsets.length === 0) return;
    this.applied.clear();
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (err) {
      // Harmless: the next commit or a re-fetch after a restart covers it (Redis skips applied records).
      this.log.debug({ err }, 'offset commit failed');
    }
  }

  /** Decodes and validates a chunk; poison records become dead letters. */
  private decodeChunk(
    def: AnyWindowedAggregation,
    tp: string,
    raws: RawRecord[],
  ): { items: Item[]; letters: DeadLetter[] } {
    const letters: DeadLetter[] = [];
    const items: Item[] = [];
    for (const raw of raws) {
      const d = decode(def, raw);
      if (!d.ok) letters.push(d.deadLetter);
      else items.push({ raw, record: d, eventId: d.envelope?.id ?? `${tp}:${raw.offset}` });
    }
    return { items, letters };
  }

  private headersFor(topic: TopicName, value: unknown): Record<string, string> {
    const cls = TOPICS[topic].class;
    const env = value as Partial<Envelope<unknown>>;
    const sensitivity = env.sensitivity ?? cls;
    return {
      ...(env.id ? { [HEADERS.id]: env.id } : {}),
      ...(env.type ? { [HEADERS.type]: env.type } : {}),
      ...(env.source ? { [HEADERS.source]: env.source } : {}),
      [HEADERS.sensitivity]: sensitivity,
      ...(env.policyrevision ? { [HEADERS.policyRevision]: env.policyrevision } : {}),
      [HEADERS.class]: `${sensitivity} ${SENSITIVITY_DESCRIPTIONS[sensitivity].split(' (')[0]}`,
    };
  }

  private send(topic: TopicName, key: string | null, value: unknown): Promise<void> {
    return this.producer.send(this.physical(topic), {
      key,
      value: JSON.stringify(value),
      headers: this.headersFor(topic, value),
    });
  }

  private async deadLetter(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await Promise.all(letters.map((d) => this.send('dlq.s3.stream.v1', d.kafkaTopic ?? null, d)));
    for (const d of letters) this.metrics.deadLettered(this.def.name, d.code, 1);
    this.stats.deadLettered += letters.length;
    this.log.warn(
      { count: letters.length, codes: [...new Set(letters.map((d) => d.code))] },
      'records dead-lettered',
    );
  }

  // Stateless: outputs are produced and acknowledged before the offset is resolved (at least once);
  // output ids derive from input ids, so a replay produces the same records for downstream dedupe.
  private async runStateless(def: AnyStatelessProcessor, raws: RawRecord[]): Promise<void> {
    const sends: Promise<void>[] = [];
    const letters: DeadLetter[] = [];
    for (const raw of raws) {
      const d = decode(def, raw);
      if (!d.ok) {
        letters.push(d.deadLetter);
        continue;
      }
      const log = (fields: Record<string, unknown>, msg: string) =>
        this.log.info({ ...fields, topic: raw.topic, partition: raw.partition, offset: raw.offset }, msg);
      try {
        const out = def.process(d.record, processorContext(def, log, raw.topic));
        const list = (out === undefined || out === null ? [] : Array.isArray(out) ? out : [out]) as {
          topic: TopicName;
          key?: string;
          value: unknown;
        }[];
        for (const o of list)
          sends.push(this.send(o.topic, o.key ?? raw.key, validateOutput(def, o.topic, o.value)));
      } catch (err) {
        letters.push(
          deadLetterFor(
            def.name,
            raw,
            isOnDijonError(err) ? err.code : 'ONDIJON_PROCESSOR_FAILED',
            err instanceof Error ? err.message : String(err),
          ),
        );
      }
    }
    await Promise.all([...sends, this.deadLetter(letters)]);
    this.stats.processed += raws.length;
    this.metrics.processed(def.name, raws[0]!.topic, raws.length);
  }

  private async runWindowed(
    def: AnyWindowedAggregation,
    tp: string,
    claim: Claim,
    raws: RawRecord[],
    decoded: { items: Item[]; letters: DeadLetter[] },
  ): Promise<void> {
    const store = this.store!;
    const letters = decoded.letters;
    let items = decoded.items;
    // Dead letters go first: if we crash before the state update, the replay sends them again (same id).
    // No await when there is nothing to send or read: the state update is then sent to Redis before
    // this call returns, so the caller decodes the next chunk while Redis runs the script.
    if (letters.length > 0) await this.deadLetter(letters);
    const skip = new Set<string>();
    const failed = new Set<string>();
    let routedSent = false;
    for (let attempt = 1; ; attempt++) {
      const reading = this.ensureCached(def, items);
      if (reading) await reading;
      const plan = this.plan(def, items, skip, failed);
      if (plan.failed.length > 0) {
        // A processor threw on these records: dead-letter them and plan again without them.
        for (const f of plan.failed) failed.add(f.item.raw.offset);
        await this.deadLetter(
          plan.failed.map((f) => deadLetterFor(def.name, f.item.raw, 'ONDIJON_PROCESSOR_FAILED', f.message)),
        );
        continue;
      }
      // Routed late records are produced before the offset is stored (at least once, same eventId).
      if (!routedSent && plan.routed.length > 0) {
        await Promise.all(plan.routed.map((l) => this.send('late.s2.stream.v1', def.name, l)));
        routedSent = true;
      }
      const first = raws[0]!.offset;
      const last = raws[raws.length - 1]!.offset;
      const maxEventTime = items.reduce(
        (m, it) => Math.max(m, it.record.eventTime),
        Number.NEGATIVE_INFINITY,
      );
      const wallNow = Date.now();
      const outcome = await retrying('apply', this.attempts, this.log, () =>
        plan.writes.length === 0
          ? store.advance({
              tp,
              epoch: claim.epoch,
              firstOffset: first,
              lastOffset: last,
              prevOffset: claim.offset,
              maxEventTime: items.length > 0 ? maxEventTime : undefined,
              wallNow,
            })
          : store.apply({
              tp,
              epoch: claim.epoch,
              firstOffset: first,
              lastOffset: last,
              prevOffset: claim.offset,
              maxEventTime,
              wallNow,
              ttlMs: this.ttlMs,
              graceMs: def.graceMs,
              windows: plan.writes,
            }),
      );
      if (outcome.status === 'ok') {
        claim.offset = BigInt(last);
        for (const w of plan.writes) {
          const c = this.cache.get(w.wk);
          this.cache.set(w.wk, {
            version: w.expectedVersion + 1,
            state: w.state,
            closed: c?.closed ?? false,
            group: w.group,
            start: w.start,
            end: w.end,
          });
        }
        this.trimCache();
        this.stats.processed += raws.length;
        this.stats.late += plan.lateRevised + plan.routed.length;
        this.stats.duplicates += plan.duplicates;
        this.metrics.processed(def.name, raws[0]!.topic, raws.length);
        if (plan.lateRevised > 0) this.metrics.late(def.name, 'revised', plan.lateRevised);
        if (plan.routed.length > 0) this.metrics.late(def.name, 'routed', plan.routed.length);
        if (plan.duplicates > 0) this.metrics.duplicates(def.name, plan.duplicates);
        this.requestSweep();
        return;
      }
      if (outcome.status === 'fenced') throw new FencedError(tp);
      if (outcome.status === 'behind')
        throw new StateBehindError(tp, outcome.offset === '' ? undefined : BigInt(outcome.offset));
      if (outcome.status === 'stale') {
        // Another owner applied part of this chunk (rebalance): drop what it already applied.
        const stored = BigInt(outcome.offset);
        claim.offset = stored;
        items = items.filter((it) => BigInt(it.raw.offset) > stored);
        raws = raws.filter((r) => BigInt(r.offset) > stored);
        if (raws.length === 0) return;
        continue;
      }
      this.stats.conflicts += 1;
      for (const wk of outcome.windows) this.cache.delete(wk);
      for (const d of outcome.duplicates) skip.add(`${d.wk}\n${d.id}`);
      if (attempt > 50)
        throw new OnDijonError('ONDIJON_REDIS_UNAVAILABLE', `state update of ${tp} kept conflicting`, {
          details: { tp },
        });
      if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }

  /** Reads into the cache the windows this chunk touches that it does not hold (undefined: nothing to read). */
  private ensureCached(def: AnyWindowedAggregation, items: Item[]): Promise<void> | undefined {
    const missing = new Set<string>();
    for (const it of items) {
      let targets: Target[];
      try {
        targets = targetsOf(def, it);
      } catch {
        continue; // planned (and dead-lettered) by plan()
      }
      for (const t of targets) if (!this.cache.has(t.wk)) missing.add(t.wk);
    }
    if (missing.size === 0) return undefined;
    return retrying('read', this.attempts, this.log, () => this.store!.read([...missing])).then(
      (rows: StoredWindow[]) => {
        for (const r of rows)
          this.cache.set(r.wk, {
            version: r.version,
            state: r.state,
            closed: r.closed,
            group: r.group,
            start: r.start,
            end: r.end,
          });
      },
    );
  }

  private plan(def: AnyWindowedAggregation, items: Item[], skip: Set<string>, failed: Set<string>) {
    const work = new Map<string, WindowWrite & { closed: boolean; seen: Set<string> }>();
    const routed: ReturnType<typeof lateRecordFor>[] = [];
    const failures: { item: Item; message: string }[] = [];
    let lateRevised = 0;
    let duplicates = 0;
    for (const it of items) {
      if (failed.size > 0 && failed.has(it.raw.offset)) continue;
      const rec = it.record;
      try {
        for (const { group, window, wk } of targetsOf(def, it)) {
          const cached = this.cache.get(wk);
          let w = work.get(wk);
          const closed = w?.closed ?? cached?.closed ?? false;
          const late = isLate(def, window, closed, this.watermark);
          const tooOld = window.end + def.graceMs + this.reviseHorizonMs <= this.watermark;
          if (late && (def.late === 'route' || tooOld)) {
            routed.push(
              lateRecordFor(def.name, rec.record, it.eventId, rec.eventTime, window, this.watermark),
            );
            continue;
          }
          if (w?.seen.has(it.eventId) || (skip.size > 0 && skip.has(`${wk}\n${it.eventId}`))) {
            duplicates += 1;
            continue;
          }
          if (!w) {
            w = {
              wk,
              expectedVersion: cached?.version ?? 0,
              state: cached?.state ? structuredClone(cached.state) : initState(def),
              group,
              start: window.start,
              end: window.end,
              ids: [],
              closed,
              seen: new Set(),
            };
            work.set(wk, w);
          }
          w.seen.add(it.eventId);
          w.ids.push(it.eventId);
          fold(def, w.state, rec.record, rec.envelope, group, late);
          if (late) lateRevised += 1;
        }
      } catch (err) {
        failures.push({ item: it, message: err instanceof Error ? err.message : String(err) });
      }
    }
    return { writes: [...work.values()], routed, failed: failures, lateRevised, duplicates };
  }

  private trimCache(): void {
    // Bound memory: drop the oldest windows; a dropped window is simply read again when touched.
    const max = 20_000;
    if (this.cache.size <= max) return;
    const excess = this.cache.size - max;
    let i = 0;
    for (const k of this.cache.keys()) {
      if (i++ >= excess) break;
      this.cache.delete(k);
    }
  }

  private requestSweep(): void {
    // At most one sweep per 50 ms from the consume path: each costs a few Redis round trips, and the
    // p99 of window close → result is still well under a second (bench:stream).
    if (this.sweepTimer) return;
    const wait = Math.max(0, this.lastSweep + 50 - Date.now());
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.sweep();
    }, wait);
  }

  /** Closes due windows and emits results and revisions; one instance per processor at a time (lock). */
  private async sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    this.sweeping = (async () => {
      try {
        do {
          this.sweepAgain = false;
          this.lastSweep = Date.now();
          await this.sweepOnce();
        } while (this.sweepAgain && !this.stopping);
      } catch (err) {
        this.log.error({ err }, 'emitter sweep failed; retrying on the next tick');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const def = this.def as AnyWindowedAggregation;
    const store = this.store!;
    const wm = await store.watermark(Date.now(), this.idleFlushMs);
    if (Number.isFinite(wm.value)) this.watermark = Math.max(this.watermark, wm.value);
    else if (wm.value === Number.POSITIVE_INFINITY) this.watermark = Math.max(this.watermark, wm.max);
    if (!(await store.lock(this.owner, Math.max(3 * (this.options.emitIntervalMs ?? 500), 3_000)))) return;
    const limit = 500;
    const closed = wm.partitions === 0 ? 0 : await store.close(wm.value, limit);
    const closedAt = Date.now();
    const wks = await store.pending(limit);
    if (wks.length === 0) return;
    for (const wk of wks) this.cache.delete(wk);
    const rows = await store.read(wks);
    const acks: { wk: string; version: number; revision: number }[] = [];
    const sends: Promise<void>[] = [];
    const letters: DeadLetter[] = [];
    for (const row of rows) {
      if (!row.state) {
        acks.push({ wk: row.wk, version: row.version, revision: row.revision });
        continue;
      }
      const revision = row.revision + 1;
      try {
        const out = buildAggregate(def, row.state, row.group, { start: row.start, end: row.end }, revision);
        sends.push(this.send(out.topic, out.key, out.value));
      } catch (err) {
        const raw: RawRecord = {
          topic: def.inputs[0]!,
          key: row.wk,
          value: JSON.stringify(row.state.meta),
          partition: -1,
          offset: '-1',
        };
        letters.push(
          deadLetterFor(
            def.name,
            raw,
            'ONDIJON_PROCESSOR_FAILED',
            err instanceof Error ? err.message : String(err),
          ),
        );
      }
      acks.push({ wk: row.wk, version: row.version, revision });
    }
    // The window is marked emitted only after Kafka acknowledged its result: a crash in between
    // re-emits the same key and revision (an idempotent upsert downstream).
    await Promise.all([...sends, this.deadLetter(letters)]);
    const ackedAt = Date.now();
    await store.ack(acks);
    this.stats.emitted += sends.length;
    this.metrics.emitted(def.name, sends.length);
    if (closed > 0) {
      const ms = ackedAt - closedAt;
      for (let i = 0; i < closed; i++) {
        this.stats.emitLatenciesMs.push(ms);
        this.metrics.emitLatency(def.name, ms);
      }
    }
    if (wks.length >= limit || closed >= limit) this.sweepAgain = true;
  }
}
