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
  /** Telemetry from the start of its topics (a bench's catch-up), not from their end. */
  telemetryFromBeginning?: boolean;
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
    fromBeginning: options.telemetryFromBeginning ?? false,
    // Fetches of 256 KiB (or what 1 s brought): about 1 700 records at ingest's full rate. The console reads
    // every S1 record, so the size of a fetch is most of its cost: kafkajs decodes a whole fetch before it
    // hands out its batches, and every record's objects live until the fetch is done. At 1 MiB (about
    // 7 000 records, ~24 MB of objects) a fetch outlived V8's young generation and was promoted, and major
    // GCs on V8's threads took a third of the console's CPU; at 64 KiB the fixed cost per fetch grew again.
    // `pnpm bench:console-feed` over the same 200 000 records: 64 KiB 11.1-11.7 µs per record, 128 KiB
    // 10.1-10.2, 192 KiB 9.5-9.7, 256 KiB 9.4-9.5, 512 KiB 13.3-13.9, 1 MiB 13.7-14.8, kafkajs' 10 MiB 21
    // (docs/console.md). A report still reaches the pages within about 3 s (pushes every 2 s).
    minBytes: 256 * 1024,
    maxBytes: 256 * 1024,
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
    // How far behind ingest the console's view is: a record's timestamp is when ingest accepted it.
    const newest = Number(batch.messages.at(-1)?.timestamp);
    if (newest > state.newestRecordMs) state.newestRecordMs = newest;
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
