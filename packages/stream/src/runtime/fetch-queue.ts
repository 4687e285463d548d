import type { EachBatchPayload } from 'kafkajs';

/** A Kafka batch as kafkajs hands it over. */
export type Batch = EachBatchPayload['batch'];

/** A batch queued for processing, with the consumer generation it was fetched in. */
export interface QueuedBatch {
  batch: Batch;
  generation: number;
  bytes: number;
}

/**
 * Fetch-ahead: kafkajs fetches a partition again only after eachBatch returns, so a consumer that
 * processes inside eachBatch idles for every fetch round trip (~17 % of bench:stream's time). Here
 * eachBatch only queues the batch and resolves its offsets in kafkajs (which then fetches the next
 * batch while this one is processed), and waits only when too many records or bytes are queued.
 * Kafka offsets are committed by the runtime, and only up to what was applied (commit.ts).
 */
export class FetchQueue {
  private items: QueuedBatch[] = [];
  private records = 0;
  private bytes = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly maxRecords: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /**
   * Queues a batch (eachBatch's work), resolves its offsets so kafkajs fetches ahead, then waits while
   * the queue is over its bounds (heartbeating, so a long wait does not cost the group membership).
   */
  async accept(
    payload: EachBatchPayload,
    generation: number,
    queued: () => void,
    stopping: () => boolean,
  ): Promise<void> {
    const { batch } = payload;
    let bytes = 0;
    for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
    this.items.push({ batch, generation, bytes });
    this.records += batch.messages.length;
    this.bytes += bytes;
    payload.resolveOffset(batch.lastOffset());
    queued();
    let waited = 0;
    while (this.overQueued() && !stopping() && payload.isRunning()) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1_000);
      });
      // A long wait (Redis retrying) must not cost the group membership.
      if (++waited % 3 === 0) await payload.heartbeat().catch(() => undefined);
    }
  }

  /** The oldest queued batch (undefined: none). */
  shift(): QueuedBatch | undefined {
    const q = this.items.shift();
    if (!q) return undefined;
    this.records -= q.batch.messages.length;
    this.bytes -= q.bytes;
    this.wake();
    return q;
  }

  /**
   * Takes the queued batches that follow on a partition, in Kafka order (each starting after the
   * last offset before it), while their records (with `have` already taken) fit in `maxRecords`:
   * a paced input arrives as many small batches, and each chunk costs a state update, so batches of
   * one partition are applied together.
   */
  takeFollowing(
    topic: string,
    partition: number,
    generation: number,
    /** The last offset of the batch they follow. */
    after: string,
    have: number,
    maxRecords: number,
  ): QueuedBatch[] {
    const taken: QueuedBatch[] = [];
    let n = have;
    let last = BigInt(after);
    for (let i = 0; i < this.items.length; i++) {
      const q = this.items[i]!;
      if (q.batch.topic !== topic || q.batch.partition !== partition) continue;
      if (q.generation !== generation || n + q.batch.messages.length > maxRecords) break;
      // Only batches that continue the partition (a batch fetched again after a rewind starts anew).
      const first = q.batch.messages[0]?.offset;
      if (first === undefined || BigInt(first) <= last) break;
      last = BigInt(q.batch.lastOffset());
      n += q.batch.messages.length;
      taken.push(q);
      this.items.splice(i--, 1);
      this.records -= q.batch.messages.length;
      this.bytes -= q.bytes;
    }
    if (taken.length > 0) this.wake();
    return taken;
  }

  /** Drops the queued batches of one physical partition (a rewind: kafkajs fetches them again). */
  dropPartition(topic: string, partition: number): void {
    this.items = this.items.filter((q) => {
      const drop = q.batch.topic === topic && q.batch.partition === partition;
      if (drop) {
        this.records -= q.batch.messages.length;
        this.bytes -= q.bytes;
      }
      return !drop;
    });
    this.wake();
  }

  /** Drops everything queued (a rebalance or a stop). */
  clear(): void {
    this.items = [];
    this.records = 0;
    this.bytes = 0;
    this.wake();
  }

  private overQueued(): boolean {
    return this.records > this.maxRecords || this.bytes > this.maxBytes;
  }

  private wake(): void {
    if (this.overQueued()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
