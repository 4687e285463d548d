// Reads what the console shows from Kafka, as the `console` principal: the S1 telemetry topics (from
// the latest offset: the console shows the present) and the two dead-letter topics (from the start of
// their 14-day retention, so an operator sees rejections made while the console was down). Never S2/S3
// telemetry or pii.* (the ACLs forbid it: packages/contracts kafka-access.ts).
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { topicList } from '@ondijon/contracts';
import type { Logger } from '@ondijon/service-kit';
import { decodeDeadLetter, decodeTelemetry } from './kafka-records';
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
  const consumers: Consumer[] = [];
  let invalidLetters = 0;

  const telemetry = kafka.consumer({ groupId: groups[0]!, maxWaitTimeInMs: 500 });
  const deadLetters = kafka.consumer({ groupId: groups[1]!, maxWaitTimeInMs: 500 });
  consumers.push(telemetry, deadLetters);
  for (const [name, c] of [
    ['telemetry', telemetry],
    ['dead-letters', deadLetters],
  ] as const) {
    c.on(c.events.GROUP_JOIN, () => joined.add(name));
    c.on(c.events.CRASH, (e) => {
      joined.delete(name);
      log.error({ consumer: name, err: e.payload.error }, 'console consumer crashed');
    });
  }

  await telemetry.connect();
  await telemetry.subscribe({
    topics: TELEMETRY_TOPICS.map((t) => `${topicPrefix}${t}`),
    fromBeginning: false,
  });
  await telemetry.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        // Not an envelope: the processors dead-letter it, the console only skips it.
        const envelope = decodeTelemetry(m.value, m.headers, batch.topic.slice(topicPrefix.length));
        if (envelope !== undefined) state.onTelemetry(envelope);
      }
    },
  });

  const source = new Map<string, 'ingest' | 'stream'>(
    Object.entries(DEAD_LETTER_TOPICS).map(([t, s]) => [`${topicPrefix}${t}`, s]),
  );
  await deadLetters.connect();
  await deadLetters.subscribe({
    topics: [...source.keys()],
    fromBeginning: options.deadLettersFromBeginning,
  });
  await deadLetters.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const from = source.get(batch.topic) ?? 'ingest';
      for (const m of batch.messages) {
        if (m.value === null) continue;
        const letter = decodeDeadLetter(m.value);
        if (letter !== undefined) state.onDeadLetter(letter, from);
        else invalidLetters++;
      }
    },
  });
  log.info({ groups, topics: TELEMETRY_TOPICS.length + source.size }, 'console feed started');

  return {
    notReady: () =>
      joined.size === 2 ? null : `consumers not in their groups yet (${[...joined].join(', ') || 'none'})`,
    async stop() {
      await Promise.allSettled(consumers.map((c) => c.disconnect()));
      const admin = kafka.admin();
      try {
        await admin.connect();
        await admin.deleteGroups(groups);
      } catch (err) {
        log.warn({ err, groups, invalidLetters }, 'console consumer groups not deleted');
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}
