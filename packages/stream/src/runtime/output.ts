import {
  HEADERS,
  SENSITIVITY_DESCRIPTIONS,
  TOPICS,
  toBinary,
  topicConstants,
  type DeadLetter,
  type Envelope,
  type TopicName,
} from '@ondijon/contracts';
import type { BatchingProducer } from '@ondijon/kafka';
import type { StreamLogger } from '../engine';
import type { RuntimeStats, StreamMetrics } from './types';

/** Kafka headers of an output, so tools route on sensitivity without parsing. */
function headersFor(topic: TopicName, value: unknown): Record<string, string> {
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

function isEnvelope(v: unknown): v is Envelope<unknown> {
  return typeof v === 'object' && v !== null && (v as { specversion?: unknown }).specversion === '1.0';
}

/** What one processor produces: outputs (on their physical topics) and dead letters. */
export class ProcessorOutput {
  constructor(
    private readonly processor: string,
    private readonly producer: BatchingProducer,
    private readonly physical: (t: TopicName) => string,
    private readonly metrics: StreamMetrics,
    private readonly stats: RuntimeStats,
    private readonly log: StreamLogger,
  ) {}

  /** Produces one record; resolves once Kafka acknowledged it. */
  send(topic: TopicName, key: string | null, value: unknown): Promise<void> {
    if (TOPICS[topic].area === 'agg' && isEnvelope(value)) {
      // Aggregates in CloudEvents binary content mode (@ondijon/contracts cloudevents-binary.ts).
      const binary = toBinary(value, topicConstants(topic));
      return this.producer.send(this.physical(topic), { key, value: binary.value, headers: binary.headers });
    }
    return this.producer.send(this.physical(topic), {
      key,
      value: JSON.stringify(value),
      headers: headersFor(topic, value),
    });
  }

  /** Produces dead letters to `dlq.s3.stream.v1` and counts them. */
  async deadLetter(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await Promise.all(letters.map((d) => this.send('dlq.s3.stream.v1', d.kafkaTopic ?? null, d)));
    for (const d of letters) this.metrics.deadLettered(this.processor, d.code, 1);
    this.stats.deadLettered += letters.length;
    this.log.warn(
      { count: letters.length, codes: [...new Set(letters.map((d) => d.code))] },
      'records dead-lettered',
    );
  }
}
