// The reader's half of the lineage registry (packages/contracts cloudevents-binary.ts): telemetry records
// carry their lineage as a key (`ce_lineageref`) of the compacted registry topic `ref.s0.lineage.v1`,
// which ingest writes, and waits for, before any record that references it. `createConsumer` asks
// `unknownLineageRefs` of every batch and, when a key is not yet known to this process's decoder, has a
// follower read the registry topic up to its end offsets before the handler gets the batch; decoding
// then stays synchronous (`fromBinary` reads the in-memory map that `registerLineage` fills).
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { CE_LINEAGEREF_HEADER, isLineageKnown, registerLineage } from '@ondijon/contracts';
import type { KafkaLogger } from './client';
import { createConsumer, isRetriableKafkaError, recordText, type KafkaConsumer } from './consumer';

/**
 * The lineage keys of the messages that this process's decoder does not know yet (none for records
 * written with `ce_lineage` or in structured mode). One header lookup per message; the text of a key
 * is decoded once per run of messages with the same bytes.
 */
export function unknownLineageRefs(messages: readonly Pick<KafkaMessage, 'headers'>[]): string[] {
  let unknown: Set<string> | undefined;
  let last: Buffer | string | undefined;
  for (const m of messages) {
    const h = m.headers?.[CE_LINEAGEREF_HEADER];
    const v = Array.isArray(h) ? h[0] : h;
    if (v === undefined || v === null) continue;
    if (
      last !== undefined &&
      (typeof v === 'string' || typeof last === 'string' ? v === last : v.equals(last))
    )
      continue;
    const ref = typeof v === 'string' ? v : v.toString('utf8');
    if (isLineageKnown(ref)) last = v;
    else (unknown ??= new Set()).add(ref);
  }
  return unknown === undefined ? [] : [...unknown];
}

/** Options of a `LineageFollower`. */
export interface LineageFollowerOptions {
  /** Prefix of its throwaway consumer group (a principal may only join groups under its own prefix). */
  groupPrefix: string;
  /** Longest `resolve` waits for the registry topic to be read to its end, ms. */
  timeoutMs: number;
  /** After the registry topic could not be read, how long `resolve` answers at once without trying, ms. */
  retryAfterMs?: number;
  logger?: KafkaLogger | undefined;
}

/**
 * Follows one lineage registry topic (physical name) with a throwaway group of this process, started
 * at the first unknown key and kept until `stop`, so later entries arrive as they are written.
 */
export class LineageFollower {
  readonly #kafka: Pick<Kafka, 'consumer' | 'admin'>;
  readonly #topic: string;
  readonly #options: LineageFollowerOptions;
  #consumer: KafkaConsumer | undefined;
  /** Next offset to read per partition, from the batches handled so far. */
  readonly #position = new Map<number, bigint>();
  readonly #waiters = new Set<() => void>();
  /** Why the registry could not be read, and when (the follower restarts after `retryAfterMs`). */
  #failure: { error: Error; at: number } | undefined;
  #stopped = false;

  constructor(kafka: Pick<Kafka, 'consumer' | 'admin'>, topic: string, options: LineageFollowerOptions) {
    this.#kafka = kafka;
    this.#topic = topic;
    this.#options = options;
  }

  /** The physical registry topic it follows. */
  get topic(): string {
    return this.#topic;
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  #fail(error: Error): void {
    this.#failure = { error, at: Date.now() };
    const c = this.#consumer;
    this.#consumer = undefined;
    this.#position.clear();
    void c?.stop();
    this.#notify();
  }

  async #start(): Promise<void> {
    if (this.#consumer !== undefined) return;
    const log = this.#options.logger;
    const consumer = createConsumer(this.#kafka, {
      groupId: `${this.#options.groupPrefix}-lineage-${randomUUID()}`,
      topics: [this.#topic],
      fromBeginning: true,
      throwawayGroup: true,
      ...(log === undefined ? {} : { logger: log }),
      onBatchEnd: ({ partition, lastOffset }) => {
        this.#position.set(partition, BigInt(lastOffset) + 1n);
        this.#notify();
      },
      onCrash: (error, restart) => {
        log?.error({ topic: this.#topic, err: error.message, restart }, 'lineage registry consumer crashed');
        if (!restart) this.#fail(error);
      },
    });
    this.#consumer = consumer;
    try {
      await consumer.start(async (payload) => {
        for (const message of payload.batch.messages) {
          const ref = recordText(message.key);
          const text = recordText(message.value);
          if (ref === null || text === null) continue;
          if (!registerLineage(ref, text))
            log?.warn(
              {
                topic: this.#topic,
                partition: payload.batch.partition,
                offset: message.offset,
                lineageRef: ref,
              },
              'lineage registry entry is not the text its key is the hash of: skipped',
            );
        }
        this.#notify();
      });
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  /** End offsets of the registry topic (retriable errors retried until `deadline`). */
  async #ends(deadline: number): Promise<{ partition: number; high: string; low: string }[]> {
    const admin = this.#kafka.admin();
    try {
      await admin.connect();
      for (;;) {
        try {
          return await admin.fetchTopicOffsets(this.#topic);
        } catch (error) {
          if (!isRetriableKafkaError(error) || Date.now() >= deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /**
   * Makes the keys known if the registry topic holds them: returns at once when they are, else reads
   * the topic up to its end offsets (taken now: ingest wrote every lineage before the records that
   * reference it), within `timeoutMs`. Returns the keys still unknown. `heartbeat` keeps the caller's
   * group membership while it waits. Never throws.
   */
  async resolve(refs: readonly string[], heartbeat?: () => Promise<void>): Promise<string[]> {
    const missing = () => refs.filter((r) => !isLineageKnown(r));
    if (missing().length === 0 || this.#stopped) return missing();
    const retryAfter = this.#options.retryAfterMs ?? 30_000;
    if (this.#failure !== undefined && Date.now() - this.#failure.at < retryAfter) return missing();
    const deadline = Date.now() + this.#options.timeoutMs;
    const log = this.#options.logger;
    try {
      await this.#start();
      const ends = await this.#ends(deadline);
      const caughtUp = () =>
        ends.every(
          (p) =>
            BigInt(p.high) <= BigInt(p.low) || (this.#position.get(p.partition) ?? -1n) >= BigInt(p.high),
        );
      let lastBeat = Date.now();
      while (missing().length > 0 && !caughtUp() && !this.#stopped && this.#consumer !== undefined) {
        const left = deadline - Date.now();
        if (left <= 0) {
          log?.error(
            { topic: this.#topic, lineageRefs: missing(), timeoutMs: this.#options.timeoutMs },
            'lineage registry not read to its end within the deadline',
          );
          break;
        }
        let wake: () => void = () => undefined;
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
        });
        this.#waiters.add(wake);
        const timer = setTimeout(wake, Math.min(left, 1_000));
        try {
          await woken;
        } finally {
          clearTimeout(timer);
          this.#waiters.delete(wake);
        }
        if (heartbeat !== undefined && Date.now() - lastBeat >= 1_000) {
          lastBeat = Date.now();
          await heartbeat().catch(() => undefined);
        }
      }
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      if (this.#failure === undefined || Date.now() - this.#failure.at >= retryAfter) this.#fail(err);
      log?.error({ topic: this.#topic, err: err.message }, 'lineage registry topic cannot be read');
    }
    return missing();
  }

  /** Stops following and deletes the throwaway group. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const c = this.#consumer;
    this.#consumer = undefined;
    this.#notify();
    await c?.stop();
  }
}
