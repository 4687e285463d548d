import { randomUUID } from 'node:crypto';
import { isBinaryRecord, structuredText } from '@ondijon/contracts';
import type { Kafka, KafkaMessage } from 'kafkajs';

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

function text(value: Buffer | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : value.toString('utf8');
}

/** The record's value, a binary-mode event as structured JSON (its raw value when that is not JSON). */
function eventText(message: KafkaMessage, topic: string): string | null {
  const value = text(message.value);
  try {
    return structuredText(message.headers, value, topic);
  } catch {
    return value;
  }
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
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const target = new Map(ends.map((p) => [p.partition, BigInt(p.high)]));
    const starts = new Map(ends.map((p) => [p.partition, BigInt(p.low)]));
    const pending = new Set([...target].filter(([p, high]) => high > (starts.get(p) ?? 0n)).map(([p]) => p));
    const records: ReadRecord[] = [];
    if (pending.size === 0) return records;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
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
      // Completion is judged per fetched batch, not per message: transactional topics end with commit/abort
      // markers that are never delivered, so the last delivered offset can stay below high - 1.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const high = target.get(payload.partition);
        if (high !== undefined && BigInt(payload.lastOffset) + 1n >= high) pending.delete(payload.partition);
        if (pending.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (BigInt(message.offset) < (target.get(partition) ?? 0n)) {
              const headers = Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [
                  k,
                  text(Array.isArray(v) ? v[0] : v) ?? '',
                ]),
              );
              records.push({
                topic,
                partition,
                offset: message.offset,
                key: text(message.key),
                value: eventText(message, topic),
                binary: isBinaryRecord(message.headers),
                headers,
                message,
              });
            }
          },
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
    return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
