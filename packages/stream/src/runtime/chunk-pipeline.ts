import type { DeadLetter, TopicName } from '@ondijon/contracts';
import type { KafkaConsumer } from '@ondijon/kafka';
import type { AnyProcessor } from '../define';
import type { RawRecord, StreamLogger } from '../engine';
import { decodeItems, type Item } from '../planner';
import type { PartitionClaims } from './claims';
import type { OffsetCommitter } from './commit';
import type { Batch, FetchQueue } from './fetch-queue';
import { FencedError, StateBehindError } from './retry';
import type { StreamMetrics } from './types';
import type { Claim } from './windowed-apply';

/**
 * A queued batch being applied, with the batches of the same partition queued after it (applied in
 * the same chunks), and what its chunks need to know of them.
 */
interface BatchInHand {
  /** The first batch (rewinds read its partition again from its first offset). */
  batch: Batch;
  /** The records of `batch` and of the batches that follow it on its partition, in Kafka order. */
  messages: Batch['messages'];
  /** The last offset of the last batch taken (committed once every chunk is applied). */
  lastOffset: string;
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
export interface Chunk {
  of: BatchInHand;
  raws: RawRecord[];
  /** Windowed processors: the chunk decoded ahead (while the previous chunk's update runs). */
  decoded: { items: Item[]; letters: DeadLetter[] } | undefined;
  /** The batch's last chunk: once applied, the batch's offsets may be committed. */
  last: boolean;
}

/** What the pipeline needs of its processor unit. */
export interface PipelineDeps {
  def: AnyProcessor;
  consumer: Pick<KafkaConsumer, 'seek'>;
  queue: FetchQueue;
  claims: PartitionClaims;
  committer: OffsetCommitter;
  /** Physical topic → logical topic. */
  logical: ReadonlyMap<string, TopicName>;
  metrics: StreamMetrics;
  log: StreamLogger;
  maxChunk: number;
  /** The consumer generation (incremented at every group join). */
  generation: () => number;
  stopping: () => boolean;
  /** Starts a chunk's update (windowed or stateless). */
  apply: (chunk: Chunk) => Promise<void>;
  /** The state store went back under this instance: forget windows and watermark held in memory. */
  stateWentBack: () => void;
}

/**
 * Processes queued batches in arrival order (per partition, Kafka order), as a pipeline of chunks:
 * while one chunk's state update runs in Redis, the next chunk (of this batch or the next one) is
 * decoded. Updates are applied one at a time. A failed, fenced or lost update rewinds its partition
 * (kafkajs fetches it again; what the store already holds is skipped).
 */
export class ChunkPipeline {
  /** The batch being cut into chunks. */
  private cursor: Cursor | undefined;
  /** Rewinds per physical partition: chunks decoded before a rewind of their partition are dropped. */
  private readonly rewinds = new Map<string, number>();
  private draining: Promise<void> | undefined;

  constructor(private readonly d: PipelineDeps) {}

  /** Starts the processing loop if it is not running. */
  kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.d.queue.length > 0 && !this.d.stopping()) this.kick();
    });
  }

  /** Drops the batch in hand (a rebalance or a stop: its chunks stop at the next boundary). */
  dropCursor(): void {
    this.cursor = undefined;
  }

  /** Resolves when the loop has stopped. */
  async idle(): Promise<void> {
    await this.draining;
  }

  private async drain(): Promise<void> {
    let inflight: { chunk: Chunk; done: Promise<void> } | undefined;
    while (!this.d.stopping()) {
      const chunk = await this.nextChunk();
      if (inflight) await this.settle(inflight.chunk, inflight.done);
      inflight = undefined;
      if (!chunk) {
        if (this.d.queue.length > 0 || this.cursor) continue; // arrived while settling
        break;
      }
      // A rewind or rebalance since it was decoded: kafkajs fetches it again.
      if (!this.isCurrent(chunk)) continue;
      inflight = { chunk, done: chunk.raws.length === 0 ? Promise.resolve() : this.d.apply(chunk) };
      // Errors are handled by settle(); this keeps Node from reporting them as unhandled meanwhile.
      inflight.done.catch(() => undefined);
    }
    if (inflight) await this.settle(inflight.chunk, inflight.done);
  }

  private isCurrent(chunk: Chunk): boolean {
    const { generation, key, rewinds } = chunk.of;
    return generation === this.d.generation() && (this.rewinds.get(key) ?? 0) === rewinds;
  }

  /** The next chunk to apply, decoded (undefined: nothing queued). */
  private async nextChunk(): Promise<Chunk | undefined> {
    while (!this.cursor) {
      const q = this.d.queue.shift();
      if (!q) return undefined;
      this.cursor = await this.open(q.batch, q.generation);
    }
    const c = this.cursor;
    const messages = c.messages;
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
        headers: m.headers,
        partition: c.batch.partition,
        offset: m.offset,
        timestamp: m.timestamp,
      });
    }
    const { def } = this.d;
    const decoded = def.kind === 'windowed' && raws.length > 0 ? decodeItems(def, c.tp, raws) : undefined;
    return { of: c, raws, decoded, last: end >= messages.length };
  }

  /**
   * Opens a queued batch for cutting: claims its partition on its first batch and checks the claim
   * against the store (a lost write rewinds the partition). Undefined: the batch is dropped.
   */
  private async open(batch: Batch, generation: number): Promise<Cursor | undefined> {
    const { claims, log } = this.d;
    if (generation !== this.d.generation()) return undefined; // a rebalance since: fetched again
    const key = `${batch.topic}:${batch.partition}`;
    const rewinds = this.rewinds.get(key) ?? 0;
    const topic = this.d.logical.get(batch.topic);
    if (!topic) return undefined;
    const tp = `${topic}:${batch.partition}`;
    this.d.metrics.lag(this.d.def.name, topic, batch.partition, Number(batch.offsetLag()));
    let claim = claims.get(tp);
    if (!claim) {
      try {
        claim = await claims.claim(tp);
      } catch (err) {
        await this.failed(batch, generation, err);
        return undefined;
      }
      if (generation !== this.d.generation()) return undefined;
      claims.set(tp, claim);
      // Per-partition events are debug: a start claims dozens of partitions (issue 14, a quiet start).
      log.debug(
        { topic, partition: batch.partition, epoch: claim.epoch, offset: claim.offset?.toString() },
        'partition claimed',
      );
    }
    if (!claim.checked) {
      let from: string | undefined;
      try {
        from = await claims.replayFrom(batch, claim);
      } catch (err) {
        await this.failed(batch, generation, err);
        return undefined;
      }
      if (generation !== this.d.generation() || (this.rewinds.get(key) ?? 0) !== rewinds) return undefined;
      claim.checked = true;
      if (from !== undefined) {
        // Windows held in memory and the in-memory watermark may be ahead of the restored state
        // (Redis went back under a running instance): read both again, as in onStateBehind.
        this.d.stateWentBack();
        log.warn(
          {
            topic,
            partition: batch.partition,
            committed: batch.firstOffset(),
            from,
            stored: claim.offset?.toString(),
          },
          'state behind the committed offset: reading the partition again from the offset stored with the state',
        );
        this.rewind(batch, generation, from);
        return undefined;
      }
    }
    // The batches of this partition queued behind it join it, up to a chunk: a paced input comes as
    // small batches, and applying each alone (one state update per batch) falls behind the input.
    const following = this.d.queue.takeFollowing(
      batch.topic,
      batch.partition,
      generation,
      batch.lastOffset(),
      batch.messages.length,
      this.d.maxChunk,
    );
    const messages =
      following.length === 0
        ? batch.messages
        : batch.messages.concat(...following.map((q) => q.batch.messages));
    const lastOffset = (following.at(-1)?.batch ?? batch).lastOffset();
    // Even chunks (a 1 200-record batch is two of 600, not 1 000 + 200: fewer, fuller updates).
    const n = messages.length;
    const size = Math.max(1, Math.ceil(n / Math.max(1, Math.ceil(n / this.d.maxChunk))));
    return { batch, messages, lastOffset, generation, key, rewinds, topic, tp, claim, next: 0, size };
  }

  /** Waits for a chunk's update; records the batch as applied after its last chunk, or rewinds. */
  private async settle(chunk: Chunk, done: Promise<void>): Promise<void> {
    try {
      await done;
    } catch (err) {
      if (err instanceof FencedError) {
        this.d.claims.delete(chunk.of.tp);
        this.d.log.warn(
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
    const next = (BigInt(chunk.of.lastOffset) + 1n).toString();
    this.d.committer.markApplied(chunk.of.key, batch.topic, batch.partition, next);
  }

  private async failed(batch: Batch, generation: number, err: unknown): Promise<void> {
    this.d.log.error(
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
  private rewind(batch: Batch, generation: number, offset?: string): void {
    const key = `${batch.topic}:${batch.partition}`;
    this.rewinds.set(key, (this.rewinds.get(key) ?? 0) + 1);
    if (this.cursor?.key === key) this.cursor = undefined;
    this.d.queue.dropPartition(batch.topic, batch.partition);
    if (generation !== this.d.generation() || this.d.stopping()) return;
    const from = offset ?? batch.firstOffset() ?? (BigInt(batch.lastOffset()) + 1n).toString();
    // kafkajs applies the seek at its next fetch; until then it marks this partition's batches stale
    // (the fetch queue drops them).
    try {
      this.d.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: from });
    } catch (err) {
      this.d.log.warn({ err, topic: batch.topic, partition: batch.partition }, 'rewind failed');
    }
  }

  /**
   * Redis lost writes this instance made (a crash before its AOF tail reached the disk): the offsets
   * stored with the state went back with the state. The offset in Redis is the source of truth, so
   * the partition is read again from the record after it and the lost updates are applied again.
   */
  private onStateBehind(chunk: Chunk, err: StateBehindError): void {
    const { batch, generation, tp } = chunk.of;
    this.d.claims.delete(tp);
    this.d.stateWentBack();
    // No stored offset: everything of this partition was lost; the claim check reads it from its start.
    const from = err.stored === undefined ? undefined : (err.stored + 1n).toString();
    this.d.log.warn(
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
}
