// Reads what the console shows from Kafka, as the `console` principal: the S1 telemetry topics (from
// the latest offset: the console shows the present) and the two dead-letter topics (from the start of
// their 14-day retention, so an operator sees rejections made while the console was down). Never S2/S3
// telemetry or pii.* (the ACLs forbid it: packages/contracts kafka-access.ts).
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { createConsumer, type KafkaConsumer } from '@ondijon/kafka';
import { topicList } from '@ondijon/contracts';
import type { Logger } from '@ondijon/service-kit';
import { decodeDeadLetter, decodeTelemetryForState } from './kafka-records';
import type { ConsoleState } from './state';

/** The S1 telemetry topics of the registry (the only telemetry the console may read). */
export const TELEMETRY_TOPICS = topicList
  .filter((t) => t.area === 'tel' && t.class === 'S1')
  .map((t) => t.name);
/** The dead-letter topics and what rejected their letters. */
export const DEAD_LETTER_TOPICS = { 'dlq.s3.ingest.v1': 'ingest', 'dlq.s3.stream.v1': 'stream' } as const;

/** Options of the feed. */
export interface FeedOptions {
  kafka: Kafka;
  state: ConsoleState;
  log: Logger;
  topicPrefix: string;
  groupIdPrefix: string;
  deadLettersFromBeginning: boolean;
}

/** The running feed. */
export interface Feed {
  /** Null when both consumers have joined their groups, else why not. */
  notReady(): string | null;
  stop(): Promise<void>;
}

/**
 * Starts the two consumers. Each console process uses groups of its own (every instance sees every
 * record), deleted when it stops.
 */
export async function startFeed(options: FeedOptions): Promise<Feed> {
  const { kafka, state, log, topicPrefix } = options;
  const instance = randomUUID().slice(0, 8);
  const groups = [`${options.groupIdPrefix}-tel-${instance}`, `${options.groupIdPrefix}-dlq-${instance}`];
  const joined = new Set<string>();
  let invalidLetters = 0;
  const events = (name: 'telemetry' | 'dead-letters') => ({
    throwawayGroup: true,
    maxWaitTimeInMs: 500,
    logger: log,
    onGroupJoin: () => joined.add(name),
    onCrash: (err: Error) => {
      joined.delete(name);
      log.error({ consumer: name, err }, 'console consumer crashed');
    },
  });
  const telemetry = createConsumer(kafka, {
    groupId: groups[0]!,
    topics: TELEMETRY_TOPICS.map((t) => `${topicPrefix}${t}`),
    fromBeginning: false,
    // The console pushes to its pages every 2 s (CONSOLE_PUSH_INTERVAL_MS): fetches of at least 512 KiB or
    // 1 s, fewer and larger at full rate (each fetch and each partition's batch has a fixed cost in kafkajs,
    // bench:console), so a report reaches the pages within about 3 s.
    minBytes: 512 * 1024,
    ...events('telemetry'),
    maxWaitTimeInMs: 1000,
  });
  const source = new Map<string, 'ingest' | 'stream'>(
    Object.entries(DEAD_LETTER_TOPICS).map(([t, s]) => [`${topicPrefix}${t}`, s]),
  );
  const deadLetters = createConsumer(kafka, {
    groupId: groups[1]!,
    topics: [...source.keys()],
    fromBeginning: options.deadLettersFromBeginning,
    ...events('dead-letters'),
  });
  const consumers: KafkaConsumer[] = [telemetry, deadLetters];

  await telemetry.start(async ({ batch }) => {
    const logical = batch.topic.slice(topicPrefix.length);
    for (const m of batch.messages) {
      // Not an envelope: the processors dead-letter it, the console only skips it.
      const envelope = decodeTelemetryForState(m.value, m.headers, logical, m.key);
      if (envelope !== undefined) state.onTelemetry(envelope);
    }
  });
  await deadLetters.start(async ({ batch }) => {
    const from = source.get(batch.topic) ?? 'ingest';
    for (const m of batch.messages) {
      if (m.value === null) continue;
      const letter = decodeDeadLetter(m.value);
      if (letter !== undefined) state.onDeadLetter(letter, from);
      else invalidLetters++;
    }
  });
  log.info({ groups, topics: TELEMETRY_TOPICS.length + source.size }, 'console feed started');

  return {
    notReady: () =>
      joined.size === 2 ? null : `consumers not in their groups yet (${[...joined].join(', ') || 'none'})`,
    async stop() {
      // Each consumer disconnects, then deletes its group (a failure is logged by the consumer).
      await Promise.all(consumers.map((c) => c.stop()));
      if (invalidLetters > 0) log.debug({ invalidLetters }, 'console skipped invalid dead letters');
    },
  };
}
