import { isOnDijonError } from '@ondijon/contracts';
import kafkajs, { type Kafka, type Producer, type ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createBatchingProducer, toTopicMessages } from '../src/batching-producer';

/** A kafkajs producer double whose sendBatch calls are recorded and settled by the test. */
function fakeKafka() {
  const calls: { batch: ProducerBatch; resolve: () => void; reject: (e: Error) => void }[] = [];
  let config: unknown;
  const producer = {
    events: { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect' },
    on: () => () => undefined,
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: (batch: ProducerBatch) =>
      new Promise((resolve, reject) => {
        calls.push({ batch, resolve: () => resolve([]), reject });
      }),
  } as unknown as Producer;
  const kafka = {
    producer: (c: unknown) => {
      config = c;
      return producer;
    },
  } as Pick<Kafka, 'producer'>;
  return { kafka, calls, config: () => config };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
};

describe('toTopicMessages', () => {
  it('groups by topic and keeps order within a topic', () => {
    const grouped = toTopicMessages([
      { topic: 'a', message: { value: '1' } },
      { topic: 'b', message: { value: '2' } },
      { topic: 'a', message: { value: '3' } },
    ]);
    expect(grouped).toEqual([
      { topic: 'a', messages: [{ value: '1' }, { value: '3' }] },
      { topic: 'b', messages: [{ value: '2' }] },
    ]);
  });
});

describe('createBatchingProducer', () => {
  it('creates an idempotent producer with one request in flight and no auto-creation', () => {
    const fake = fakeKafka();
    createBatchingProducer(fake.kafka, { producer: { transactionTimeout: 1000 } });
    expect(fake.config()).toMatchObject({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionTimeout: 1000,
    });
  });

  it('coalesces concurrent sends into one acks=all request and resolves each caller only after the ack', async () => {
    const fake = fakeKafka();
    const producer = createBatchingProducer(fake.kafka, { lingerMs: 1, maxBatch: 100 });
    let acked = 0;
    const sends = [1, 2, 3].map((i) =>
      producer.send(i === 2 ? 'b' : 'a', { key: `k${i}`, value: `v${i}` }).then(() => acked++),
    );
    await until(() => fake.calls.length === 1);
    expect(fake.calls[0]!.batch.acks).toBe(-1);
    expect(fake.calls[0]!.batch.topicMessages?.map((t) => [t.topic, t.messages.length])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    await tick();
    expect(acked).toBe(0);
    expect(producer.bufferedRecords).toBe(3);
    fake.calls[0]!.resolve();
    await Promise.all(sends);
    expect(acked).toBe(3);
    expect(producer.bufferedRecords).toBe(0);
  });

  it('sends uncompressed batches unless told a codec, then every request with it', async () => {
    for (const [compression, expected] of [
      [undefined, kafkajs.CompressionTypes.None],
      [kafkajs.CompressionTypes.GZIP, kafkajs.CompressionTypes.GZIP],
    ] as const) {
      const fake = fakeKafka();
      const producer = createBatchingProducer(fake.kafka, { lingerMs: 1, maxBatch: 1, compression });
      const sends = [producer.send('a', { value: '1' }), producer.send('a', { value: '2' })];
      await until(() => fake.calls.length === 1);
      fake.calls[0]!.resolve();
      await until(() => fake.calls.length === 2);
      fake.calls[1]!.resolve();
      await Promise.all(sends);
      expect(fake.calls.map((c) => c.batch.compression)).toEqual([expected, expected]);
    }
  });

  it('sends at once when maxBatch records are waiting, and queues the rest behind the request in flight', async () => {
    const fake = fakeKafka();
    const producer = createBatchingProducer(fake.kafka, { lingerMs: 60_000, maxBatch: 2 });
    const sends = [1, 2, 3].map((i) => producer.send('t', { value: `v${i}` }));
    await until(() => fake.calls.length === 1);
    expect(fake.calls[0]!.batch.topicMessages![0]!.messages).toHaveLength(2);
    fake.calls[0]!.resolve();
    await until(() => fake.calls.length === 2); // no linger for records that waited behind a request
    expect(fake.calls[1]!.batch.topicMessages![0]!.messages).toHaveLength(1);
    fake.calls[1]!.resolve();
    await Promise.all(sends);
  });

  it('rejects every caller of a failed batch with a retryable ONDIJON_KAFKA_UNAVAILABLE, and reports unhealthy', async () => {
    const fake = fakeKafka();
    const producer = createBatchingProducer(fake.kafka, { lingerMs: 1 });
    await producer.connect();
    expect(producer.isHealthy()).toBe(true);
    const sends = [producer.send('t', { value: '1' }), producer.send('t', { value: '2' })].map((p) =>
      p.catch((e: unknown) => e),
    );
    await until(() => fake.calls.length === 1);
    fake.calls[0]!.reject(new Error('broker down'));
    const errors = await Promise.all(sends);
    for (const error of errors) {
      expect(isOnDijonError(error, 'ONDIJON_KAFKA_UNAVAILABLE')).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
    }
    expect(producer.isHealthy()).toBe(false);
    const retry = producer.send('t', { value: '1' });
    await until(() => fake.calls.length === 2);
    fake.calls[1]!.resolve();
    await retry;
    expect(producer.isHealthy()).toBe(true);
  });

  it('makes callers wait while maxBufferedRecords are buffered (bounded memory)', async () => {
    const fake = fakeKafka();
    const producer = createBatchingProducer(fake.kafka, { lingerMs: 1, maxBatch: 10, maxBufferedRecords: 2 });
    const first = [producer.send('t', { value: '1' }), producer.send('t', { value: '2' })];
    let thirdQueued = false;
    const third = producer.send('t', { value: '3' }).then(() => (thirdQueued = true));
    await until(() => fake.calls.length === 1);
    expect(producer.bufferedRecords).toBe(2);
    expect(fake.calls[0]!.batch.topicMessages![0]!.messages).toHaveLength(2);
    fake.calls[0]!.resolve();
    await Promise.all(first);
    await until(() => fake.calls.length === 2);
    expect(thirdQueued).toBe(false);
    fake.calls[1]!.resolve();
    await third;
  });

  it('enqueue calls back after the ack, with the error of a failed batch, in order behind a full buffer', async () => {
    const fake = fakeKafka();
    const producer = createBatchingProducer(fake.kafka, { lingerMs: 1, maxBatch: 10, maxBufferedRecords: 1 });
    const outcomes: string[] = [];
    producer.enqueue('t', { value: '1' }, (e) => outcomes.push(e ? `1:${e.message}` : '1:ok'));
    producer.enqueue('t', { value: '2' }, (e) =>
      outcomes.push(e ? `2:${(e as { code?: string }).code}` : '2:ok'),
    );
    producer.enqueue('t', { value: '3' }, (e) => outcomes.push(e ? '3:error' : '3:ok'));
    await until(() => fake.calls.length === 1);
    expect(fake.calls[0]!.batch.topicMessages![0]!.messages.map((m) => m.value)).toEqual(['1']);
    expect(outcomes).toEqual([]);
    fake.calls[0]!.resolve();
    await until(() => fake.calls.length === 2);
    expect(outcomes).toEqual(['1:ok']);
    expect(fake.calls[1]!.batch.topicMessages![0]!.messages.map((m) => m.value)).toEqual(['2']);
    fake.calls[1]!.reject(new Error('broker down'));
    await until(() => fake.calls.length === 3);
    expect(outcomes).toEqual(['1:ok', '2:ONDIJON_KAFKA_UNAVAILABLE']);
    fake.calls[2]!.resolve();
    await until(() => outcomes.length === 3);
    expect(outcomes[2]).toBe('3:ok');
  });

  it('splits batches by bytes to stay under the broker message size', async () => {
    const fake = fakeKafka();
    const producer = createBatchingProducer(fake.kafka, { lingerMs: 1, maxBatchBytes: 1000 });
    const big = 'x'.repeat(600);
    const sends = [producer.send('t', { value: big }), producer.send('t', { value: big })];
    await until(() => fake.calls.length === 1);
    expect(fake.calls[0]!.batch.topicMessages![0]!.messages).toHaveLength(1);
    fake.calls[0]!.resolve();
    await until(() => fake.calls.length === 2);
    fake.calls[1]!.resolve();
    await Promise.all(sends);
  });

  it('flushes on disconnect and refuses later sends', async () => {
    const fake = fakeKafka();
    const producer = createBatchingProducer(fake.kafka, { lingerMs: 60_000 });
    const pending = producer.send('t', { value: '1' });
    const closing = producer.disconnect();
    await until(() => fake.calls.length === 1);
    fake.calls[0]!.resolve();
    await pending;
    await closing;
    await expect(producer.send('t', { value: '2' })).rejects.toThrow('The producer is closed.');
  });
});

describe('createBatchingProducer after a failed request', () => {
  /** Each kafkajs producer it creates stands for one producer id; sendBatch calls name the one used. */
  function fakeKafkaIds() {
    const calls: { id: number; resolve: () => void; reject: (e: Error) => void }[] = [];
    const disconnected: number[] = [];
    let created = 0;
    const kafka = {
      producer: () => {
        const id = ++created;
        return {
          events: { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect' },
          on: () => () => undefined,
          connect: async () => undefined,
          disconnect: async () => void disconnected.push(id),
          sendBatch: () =>
            new Promise((resolve, reject) => calls.push({ id, resolve: () => resolve([]), reject })),
        } as unknown as Producer;
      },
    } as Pick<Kafka, 'producer'>;
    return { kafka, calls, disconnected, created: () => created };
  }

  it('sends the next request under a new producer id, so retried records never reuse the failed sequence numbers', async () => {
    const fake = fakeKafkaIds();
    const renewed: string[] = [];
    const producer = createBatchingProducer(fake.kafka, {
      lingerMs: 1,
      onNewProducerId: (reason) => renewed.push(reason),
    });
    await producer.connect();
    const first = producer.send('t', { value: '1' }).catch((e: unknown) => e);
    await until(() => fake.calls.length === 1);
    fake.calls[0]!.resolve();
    await first;
    // A request that failed (here as kafkajs reports OUT_OF_ORDER_SEQUENCE_NUMBER) may have been appended.
    const failed = producer.send('t', { value: '2' }).catch((e: unknown) => e);
    await until(() => fake.calls.length === 2);
    expect(fake.calls[1]!.id).toBe(1);
    fake.calls[1]!.reject(new Error('The broker received an out of order sequence number'));
    expect(isOnDijonError(await failed, 'ONDIJON_KAFKA_UNAVAILABLE')).toBe(true);
    // The caller retries: the request goes out from a new producer (a new producer id), the old one closed.
    const retried = producer.send('t', { value: '2' });
    await until(() => fake.calls.length === 3);
    expect(fake.calls[2]!.id).toBe(2);
    expect(fake.disconnected).toEqual([1]);
    expect(renewed).toEqual(['The broker received an out of order sequence number']);
    fake.calls[2]!.resolve();
    await retried;
    expect(producer.isHealthy()).toBe(true);
    // A request that succeeds keeps the producer id.
    const later = producer.send('t', { value: '3' });
    await until(() => fake.calls.length === 4);
    expect(fake.calls[3]!.id).toBe(2);
    fake.calls[3]!.resolve();
    await later;
    expect(fake.created()).toBe(2);
  });

  it('keeps trying for a new producer id while Kafka cannot be reached, failing the records meanwhile', async () => {
    const fake = fakeKafkaIds();
    let reachable = false;
    const base = fake.kafka.producer;
    const kafka = {
      producer: (c?: Parameters<Kafka['producer']>[0]) => {
        const p = base(c);
        return Object.assign(p, {
          connect: async () => {
            if (fake.created() > 1 && !reachable) throw new Error('connect ECONNREFUSED');
          },
        });
      },
    } as Pick<Kafka, 'producer'>;
    const producer = createBatchingProducer(kafka, { lingerMs: 1 });
    await producer.connect();
    const failed = producer.send('t', { value: '1' }).catch((e: unknown) => e);
    await until(() => fake.calls.length === 1);
    fake.calls[0]!.reject(new Error('Connection error: read ECONNRESET'));
    await failed;
    const duringOutage = await producer.send('t', { value: '1' }).catch((e: unknown) => e);
    expect(isOnDijonError(duringOutage, 'ONDIJON_KAFKA_UNAVAILABLE')).toBe(true);
    expect(String((duringOutage as Error).message)).toMatch(/ECONNREFUSED/);
    expect(fake.calls).toHaveLength(1); // nothing sent under the old producer id
    reachable = true;
    const back = producer.send('t', { value: '1' });
    await until(() => fake.calls.length === 2);
    expect(fake.calls[1]!.id).toBe(fake.created());
    fake.calls[1]!.resolve();
    await back;
  });
});

describe('missingFromResponse', () => {
  it('names the records whose partition, as the partitioner placed them, is absent or failed in the answer', async () => {
    const { missingFromResponse } = await import('../src/batching-producer');
    const { assignedPartitions } = await import('../src/partitioner');
    const a = { topic: 't', message: { key: 'a', value: '1' } };
    const b = { topic: 't', message: { key: 'b', value: '2' } };
    const c = { topic: 'u', message: { key: 'c', value: '3' } };
    const unplaced = { topic: 't', message: { key: 'd', value: '4' } };
    assignedPartitions.set(a.message, 0);
    assignedPartitions.set(b.message, 1);
    assignedPartitions.set(c.message, 0);
    const missing = missingFromResponse(
      [a, b, c, unplaced],
      [
        { topicName: 't', partition: 0, errorCode: 0 },
        { topicName: 'u', partition: 0, errorCode: 6 },
      ],
    );
    expect([...missing]).toEqual([b, c]);
  });
});
