import { randomUUID } from 'node:crypto';
import { isBinaryRecord } from '@ondijon/contracts';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { createConsumer, eventText, recordText } from './consumer';

/** A record read back by `readAll`. */
export interface ReadRecord {
  /** Topic it came from. */
  topic: string;
  /** Partition it came from. */
  partition: number;
  /** Offset in its partition. */
  offset: string;
  /** Key as UTF-8 text (null when absent). */
  key: string | null;
  /**
   * Value as UTF-8 text (null for tombstones). A CloudEvents binary-mode record (a `ce_specversion`
   * header) gives its event as structured-mode JSON, so readers see one format; its bytes are in `message`.
   */
  value: string | null;
  /** True if the record was in CloudEvents binary content mode. */
  binary: boolean;
  /** Headers as UTF-8 text. */
  headers: Record<string, string>;
  /** The raw kafkajs message. */
  message: KafkaMessage;
}

/** Options of `readAll`. */
export interface ReadAllOptions {
  /** Give up after this long (default 30 s) with an error naming how far each partition got. */
  timeoutMs?: number;
  /** Prefix of the throwaway group id (default `ondijon-read-all`); a principal may only join its own prefix. */
  groupPrefix?: string;
}

/**
 * Reads a topic from the beginning up to its end offsets at call time (tests, tools), with a throwaway
 * consumer group that is deleted afterwards; records are in offset order per partition.
 */
export async function readAll(
  kafka: Kafka,
  topic: string,
  options: ReadAllOptions = {},
): Promise<ReadRecord[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${options.groupPrefix ?? 'ondijon-read-all'}-${randomUUID()}`;
  const target = new Map<number, bigint>();
  const pending = new Set<number>();
  let caughtUp: () => void = () => undefined;
  const consumer = createConsumer(kafka, {
    groupId,
    topics: [topic],
    fromBeginning: true,
    throwawayGroup: true,
    // Completion is judged per fetched batch, not per message: transactional topics end with commit/abort
    // markers that are never delivered, so the last delivered offset can stay below high - 1.
    onBatchEnd: ({ partition, lastOffset }) => {
      const high = target.get(partition);
      if (high !== undefined && BigInt(lastOffset) + 1n >= high) pending.delete(partition);
      if (pending.size === 0) caughtUp();
    },
  });
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    for (const p of ends) {
      target.set(p.partition, BigInt(p.high));
      if (BigInt(p.high) > BigInt(p.low)) pending.add(p.partition);
    }
    const records: ReadRecord[] = [];
    if (pending.size === 0) return records;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `readAll(${topic}) timed out after ${timeoutMs} ms; partitions still behind: ${[...pending].join(',')}`,
            ),
          ),
        timeoutMs,
      );
      caughtUp = () => {
        clearTimeout(timer);
        resolve();
      };
      consumer
        .start(async (payload) => {
          const { batch } = payload;
          for (const message of batch.messages) {
            if (!payload.isRunning() || payload.isStale()) break;
            if (BigInt(message.offset) >= (target.get(batch.partition) ?? 0n)) continue;
            const headers = Object.fromEntries(
              Object.entries(message.headers ?? {}).map(([k, v]) => [
                k,
                recordText(Array.isArray(v) ? v[0] : v) ?? '',
              ]),
            );
            records.push({
              topic,
              partition: batch.partition,
              offset: message.offset,
              key: recordText(message.key),
              value: eventText(message, topic),
              binary: isBinaryRecord(message.headers),
              headers,
              message,
            });
          }
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
    return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  } finally {
    await consumer.stop();
    await admin.disconnect();
  }
}
