import { OnDijonError } from '@ondijon/contracts';
import kafkajs, {
  type CompressionTypes,
  type IHeaders,
  type Kafka,
  type Message,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { assignedPartitions, cachingKeyPartitioner } from './partitioner';
import { installKafkajsSpeedups } from './kafkajs-speedups';

/** One record handed to the batching producer. */
export interface OutgoingRecord {
  /** Partitioning key (same key, same partition). */
  key?: string | Buffer | null;
  /** Record value (JSON text in this project). */
  value: string | Buffer | null;
  /** Kafka headers (sensitivity, class, …). */
  headers?: IHeaders;
  /** Explicit partition; normally left to the key. */
  partition?: number;
  /**
   * Record timestamp, milliseconds since the epoch in decimal (kafkajs' form); when absent, the time
   * of the request. Ingest sets it to the record's `ingestedat` (packages/contracts cloudevents-binary.ts).
   */
  timestamp?: string;
}

/** Options of `createBatchingProducer`. */
export interface BatchingProducerOptions {
  /** Most records in one `sendBatch` request (default 500). */
  maxBatch?: number;
  /** Most bytes (keys + values, estimated) in one request, under the broker's 1 MiB message.max.bytes (default 512 KiB). */
  maxBatchBytes?: number;
  /** How long the first record of a batch waits for company before the batch is sent (default 5 ms). */
  lingerMs?: number;
  /** Records buffered or in flight before `send()` callers wait for room (default 10 000): bounds memory. */
  maxBufferedRecords?: number;
  /**
   * Codec of each request's record batches (default none). Only codecs kafkajs has (gzip is built in),
   * and consumers read them (the fast fetch decoder too: kafkajs' codec decompresses). What it saves
   * depends on the records per batch (docs/capacity.md, "Kafka on disk").
   */
  compression?: CompressionTypes;
  /** Extra kafkajs producer settings (the idempotence settings below always win). */
  producer?: Omit<ProducerConfig, 'idempotent' | 'maxInFlightRequests' | 'allowAutoTopicCreation'>;
  /**
   * Called when the producer takes a new producer id after a failed request (see `createBatchingProducer`),
   * with the failure that made it necessary: for a log line.
   */
  onNewProducerId?: (reason: string) => void;
}

/** A producer that coalesces `send()` calls into `sendBatch` requests and resolves each after Kafka acked it. */
export interface BatchingProducer {
  /** Connects the underlying idempotent producer. */
  connect(): Promise<void>;
  /**
   * Queues one record; resolves once Kafka acknowledged it (acks=all), rejects with a retryable
   * `ONDIJON_KAFKA_UNAVAILABLE` error if its batch failed (the caller retries or withholds its MQTT ack).
   * Waits first while the buffer is full.
   */
  send(topic: string, record: OutgoingRecord): Promise<void>;
  /**
   * `send()` without promises, for hot paths: `done()` is called once Kafka acknowledged the record, or
   * `done(error)` as `send()` would reject. The record waits in line while the buffer is full.
   */
  enqueue(topic: string, record: OutgoingRecord, done: (error?: Error) => void): void;
  /** Sends what is buffered now and resolves when nothing is buffered or in flight. */
  flush(): Promise<void>;
  /** Flushes, then disconnects; later `send()` calls reject. */
  disconnect(): Promise<void>;
  /** Records queued or in flight, not yet acknowledged. */
  readonly bufferedRecords: number;
  /** True when connected and the last request succeeded (for `/readyz`). */
  isHealthy(): boolean;
}

interface Pending {
  topic: string;
  message: Message;
  bytes: number;
  done: (error?: Error) => void;
}

/** A record handed over while the buffer was full. */
interface Waiting {
  topic: string;
  record: OutgoingRecord;
  done: (error?: Error) => void;
}

function sizeOf(value: string | Buffer | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/**
 * Runs a caller's callback so that one that throws (a defect of the caller) neither fails the other
 * records of its batch nor stops the producer: the exception surfaces as an uncaught one, as a throwing
 * promise handler's rejection would.
 */
function callBack(done: (error?: Error) => void, error: Error | undefined): void {
  try {
    done(error);
  } catch (defect) {
    process.nextTick(() => {
      throw defect;
    });
  }
}

/** Groups pending records by topic, keeping their order, into a `sendBatch` payload (pure; exported for tests). */
export function toTopicMessages(
  batch: readonly { topic: string; message: Message }[],
): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const { topic, message } of batch) {
    const list = byTopic.get(topic);
    if (list) list.push(message);
    else byTopic.set(topic, [message]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * The records of a batch whose (topic, partition), as the partitioner placed them, has no successful
 * entry in the produce response. Records the partitioner did not place (another partitioner) are not
 * checked.
 */
export function missingFromResponse<P extends { topic: string; message: Message }>(
  batch: readonly P[],
  response: readonly { topicName: string; partition: number; errorCode: number }[],
): Set<P> {
  const acked = new Set(
    response.filter((r) => r.errorCode === 0).map((r) => `${r.topicName}\u0000${r.partition}`),
  );
  const missing = new Set<P>();
  for (const p of batch) {
    const partition = assignedPartitions.get(p.message);
    if (partition !== undefined && !acked.has(`${p.topic}\u0000${partition}`)) missing.add(p);
  }
  return missing;
}

/**
 * Creates an idempotent producer (acks=all, one request in flight, no topic auto-creation) that batches
 * concurrent `send()` calls: kafkajs does not batch or linger by itself (docs/platform-notes.md, "kafkajs").
 *
 * After a failed request the next one goes out under a new producer id (a new kafkajs producer, hence a
 * new InitProducerId). A failed request may still have been appended — the broker wrote it and the
 * answer was lost when the connection dropped, or kafkajs gave up retrying — yet kafkajs rolls the
 * partition's sequence number back. The caller then sends the records again in other batches, so the
 * same sequence numbers would name other records: the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER, which
 * kafkajs never recovers from (every retry fails the same way, ingest stalled for good after a Kafka
 * restart), or, when the new batch happens to span the same range, takes it for a duplicate and drops
 * it while acknowledging it. Under a new producer id sequences start afresh: a record of the failed
 * batch that was written is written again, a duplicate downstream removes by event id, never a loss.
 */
export function createBatchingProducer(
  kafka: Pick<Kafka, 'producer'>,
  options: BatchingProducerOptions = {},
): BatchingProducer {
  // Before kafkajs loads its produce request (a client made by createKafka has done it already).
  installKafkajsSpeedups();
  const maxBatch = options.maxBatch ?? 500;
  const maxBatchBytes = options.maxBatchBytes ?? 512 * 1024;
  const lingerMs = options.lingerMs ?? 5;
  const maxBuffered = options.maxBufferedRecords ?? 10_000;
  const compression = options.compression ?? kafkajs.CompressionTypes.None;
  // kafkajs' DefaultPartitioner (same placement), remembering each string key's partition; shared by
  // every producer id this producer takes.
  const createPartitioner = cachingKeyPartitioner();
  const newProducer = (): Producer => {
    const p = kafka.producer({
      createPartitioner,
      ...options.producer,
      idempotent: true,
      // Idempotence with kafkajs is only safe with requests serialised (docs/platform-notes.md, "kafkajs").
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    p.on(p.events.CONNECT, () => {
      if (p === producer) connected = true;
    });
    p.on(p.events.DISCONNECT, () => {
      if (p === producer) connected = false;
    });
    return p;
  };

  const queue: Pending[] = [];
  let inFlight = 0;
  let sending = false;
  let timer: NodeJS.Timeout | undefined;
  let connected = false;
  let lastOk = true;
  let closed = false;
  /** Records waiting for room, in arrival order. */
  const waiting: Waiting[] = [];
  const idleWaiters: (() => void)[] = [];
  /** Set by `connect()`: the producer is in use, and a new producer id must be connected too. */
  let wanted = false;
  /** Why the next request needs a new producer id (a request failed), or undefined. */
  let renewBecause: string | undefined;
  let producer: Producer = newProducer();

  /** Replaces the kafkajs producer by a new one (a new producer id); throws when it cannot connect. */
  const renewProducerId = async (reason: string): Promise<void> => {
    const old = producer;
    producer = newProducer();
    connected = false;
    await Promise.race([
      old.disconnect().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
    ]);
    await producer.connect();
    connected = true;
    renewBecause = undefined;
    options.onNewProducerId?.(reason);
  };

  const takeBatch = (): Pending[] => {
    let bytes = 0;
    let count = 0;
    while (count < queue.length && count < maxBatch) {
      const next = queue[count]!;
      if (count > 0 && bytes + next.bytes > maxBatchBytes) break;
      bytes += next.bytes;
      count += 1;
    }
    return queue.splice(0, count);
  };

  const drain = async (): Promise<void> => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (sending) return;
    sending = true;
    try {
      // Records that arrive while a request is in flight have waited one round trip already: send them
      // right after it, whatever their number (that is where batching comes from under load).
      while (queue.length > 0) {
        const batch = takeBatch();
        inFlight = batch.length;
        let failure: unknown;
        let ok = false;
        /** Records of the batch whose partition is missing from Kafka's answer (see assignedPartitions). */
        let unacknowledged: ReadonlySet<Pending> = new Set();
        try {
          if (renewBecause !== undefined && wanted) await renewProducerId(renewBecause);
          const acked = await producer.sendBatch({
            acks: -1,
            compression,
            topicMessages: toTopicMessages(batch),
          });
          ok = true;
          unacknowledged = missingFromResponse(batch, acked);
        } catch (error) {
          failure = error;
          renewBecause = error instanceof Error ? error.message : String(error);
        } finally {
          inFlight = 0;
        }
        lastOk = ok;
        const reason = failure instanceof Error ? failure.message : String(failure);
        for (const p of batch) {
          callBack(
            p.done,
            ok && !unacknowledged.has(p)
              ? undefined
              : ok
                ? new OnDijonError(
                    'ONDIJON_KAFKA_UNAVAILABLE',
                    'Kafka did not acknowledge the record: its partition is missing from the produce response',
                    { details: { topic: p.topic } },
                  )
                : new OnDijonError(
                    'ONDIJON_KAFKA_UNAVAILABLE',
                    `Kafka did not acknowledge the record: ${reason}`,
                    {
                      cause: failure,
                      details: { topic: p.topic },
                    },
                  ),
          );
        }
        admitWaiting();
      }
    } finally {
      sending = false;
      for (const wake of idleWaiters.splice(0)) wake();
    }
  };

  const closedError = (topic: string) =>
    new OnDijonError('ONDIJON_KAFKA_UNAVAILABLE', 'The producer is closed.', { details: { topic } });

  const push = (topic: string, record: OutgoingRecord, done: (error?: Error) => void): void => {
    const message: Message = {
      key: record.key ?? null,
      value: record.value,
      ...(record.headers ? { headers: record.headers } : {}),
      ...(record.partition === undefined ? {} : { partition: record.partition }),
      ...(record.timestamp === undefined ? {} : { timestamp: record.timestamp }),
    };
    const bytes = sizeOf(record.key) + sizeOf(record.value) + 64;
    queue.push({ topic, message, bytes, done });
    schedule();
  };

  /** Moves waiting records into the queue while there is room (or fails them once closed). */
  const admitWaiting = (): void => {
    let admitted = 0;
    while (admitted < waiting.length && (closed || queue.length + inFlight < maxBuffered)) {
      const w = waiting[admitted]!;
      admitted += 1;
      if (closed) callBack(w.done, closedError(w.topic));
      else push(w.topic, w.record, w.done);
    }
    if (admitted > 0) waiting.splice(0, admitted);
  };

  const enqueue = (topic: string, record: OutgoingRecord, done: (error?: Error) => void): void => {
    if (closed) queueMicrotask(() => done(closedError(topic)));
    else if (waiting.length > 0 || queue.length + inFlight >= maxBuffered)
      waiting.push({ topic, record, done });
    else push(topic, record, done);
  };

  const schedule = (): void => {
    if (sending) return; // the running drain loop picks the record up
    if (queue.length >= maxBatch) void drain();
    else timer ??= setTimeout(() => void drain(), lingerMs);
  };

  return {
    async connect() {
      wanted = true;
      await producer.connect();
      connected = true;
    },
    send(topic, record) {
      return new Promise<void>((resolve, reject) => {
        enqueue(topic, record, (error) => (error === undefined ? resolve() : reject(error)));
      });
    },
    enqueue,
    async flush() {
      while (queue.length > 0 || sending) {
        const idle = new Promise<void>((resolve) => idleWaiters.push(resolve));
        if (!sending) void drain();
        await idle;
      }
    },
    async disconnect() {
      closed = true;
      admitWaiting();
      await this.flush();
      wanted = false;
      await producer.disconnect();
      connected = false;
    },
    get bufferedRecords() {
      return queue.length + inFlight;
    },
    isHealthy() {
      return connected && lastOk && !closed;
    },
  };
}
