import type { Kafka } from 'kafkajs';
import type { StreamLogger } from '../engine';
import type { WindowStore } from '../window-store';
import type { Batch } from './fetch-queue';
import { retrying } from './retry';
import type { Claim } from './windowed-apply';

/**
 * The partitions this instance claimed in the store (a new epoch fences the previous owner's
 * writes). kafkajs has no rebalance listener: a new consumer generation means partitions may have
 * moved, so every claim is dropped and each partition is claimed again before its next write.
 */
export class PartitionClaims {
  private readonly claims = new Map<string, Claim>();

  constructor(
    /** Undefined for a stateless processor (no state, claims are local). */
    private readonly store: WindowStore | undefined,
    private readonly kafka: Kafka,
    private readonly fromBeginning: boolean,
    private readonly attempts: number,
    private readonly log: StreamLogger,
  ) {}

  get(tp: string): Claim | undefined {
    return this.claims.get(tp);
  }

  set(tp: string, claim: Claim): void {
    this.claims.set(tp, claim);
  }

  delete(tp: string): void {
    this.claims.delete(tp);
  }

  clear(): void {
    this.claims.clear();
  }

  /** Claims a partition in the store (retrying), without recording it. */
  claim(tp: string): Promise<Claim> {
    const store = this.store;
    return retrying('claim', this.attempts, this.log, async () =>
      store ? store.claim(tp) : { epoch: '0', offset: undefined },
    );
  }

  /**
   * The first batch after a claim: Kafka's committed offset may be past the offset stored with the
   * state when Redis lost its latest writes while the commit went through (the runtime commits only
   * what Redis acknowledged, but an acknowledged write is durable only once its AOF tail is on disk).
   * Returns the offset to read from when the batch starts after the record following the stored
   * offset (the stored offset + 1; the partition's start when nothing is stored), else undefined.
   * A false alarm (offsets taken by transaction markers) costs one fetch.
   */
  async replayFrom(batch: Batch, claim: Claim): Promise<string | undefined> {
    if (!this.store) return undefined;
    const first = batch.firstOffset();
    if (first === null) return undefined;
    if (claim.offset !== undefined)
      return BigInt(first) > claim.offset + 1n ? (claim.offset + 1n).toString() : undefined;
    if (!this.fromBeginning || BigInt(first) === 0n) return undefined;
    const low = await retrying('fetch offsets', this.attempts, this.log, () => this.lowOffset(batch));
    return BigInt(first) > BigInt(low) ? low : undefined;
  }

  /** The earliest offset still in a partition. */
  private async lowOffset(batch: Batch): Promise<string> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(batch.topic);
      const p = offsets.find((o) => o.partition === batch.partition);
      return p?.low ?? '0';
    } finally {
      await admin.disconnect();
    }
  }
}
