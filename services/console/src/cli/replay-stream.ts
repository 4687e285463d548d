// Replay of stream dead letters (dlq.s3.stream.v1), run by the console in a child process as the
// `replay` Kafka principal (the console process itself never writes to Kafka). Reads one letter per
// stdin line (`{ id, kafkaTopic, payloadBase64, sensitivity }`: the console opened and selected them),
// writes each record back to the topic it was read from when the replay principal may write there
// (telemetry: `tel.*`), and prints one line per letter in the format of ingest's replay tool:
// `<id>  republished  → <topic>` or `<id>  not-replayable`. The processors read the record again; one
// they still cannot use comes back to the dead-letter topic.
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { Sensitivity, TOPICS, type TopicName, topicAccess } from '@ondijon/contracts';
import { createKafka } from '@ondijon/kafka';
import { commonEnv, kafkaSecurityEnv, kafkaSecurityOf, loadConfig } from '@ondijon/service-kit';
import { streamReplayRecord } from '../kafka-records';

const Letter = z.object({
  id: z.string().min(1),
  kafkaTopic: z.string().nullable(),
  payloadBase64: z.string().nullable(),
  sensitivity: Sensitivity,
});

/** Whether the replay principal may write a letter's record back to `topic` (a registered `tel.*` topic). */
export function replayableTopic(topic: string | null): topic is TopicName {
  if (topic === null || !Object.hasOwn(TOPICS, topic)) return false;
  return topicAccess(TOPICS[topic as TopicName]).write.includes('replay');
}

async function main(): Promise<number> {
  const config = loadConfig(
    z.object({
      KAFKA_BROKERS: commonEnv.KAFKA_BROKERS,
      ...kafkaSecurityEnv,
      KAFKA_TOPIC_PREFIX: z.string().default(''),
    }),
    process.env,
  );
  const letters: z.infer<typeof Letter>[] = [];
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    letters.push(Letter.parse(JSON.parse(line)));
  }
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: 'ondijon-replay-stream',
    security: kafkaSecurityOf(config) ?? {},
  });
  // Not idempotent (the principal needs no cluster ACL for it): a record written twice is one event id,
  // which the processors count once.
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (const l of letters) {
      if (l.payloadBase64 === null || !replayableTopic(l.kafkaTopic)) {
        console.log(`${l.id}  not-replayable`);
        continue;
      }
      const topic = `${config.KAFKA_TOPIC_PREFIX}${l.kafkaTopic}`;
      const record = streamReplayRecord(l.id, Buffer.from(l.payloadBase64, 'base64'), l.sensitivity);
      await producer.send({ topic, acks: -1, messages: [record] });
      console.log(`${l.id}  republished  → ${topic}`);
    }
  } finally {
    await producer.disconnect();
  }
  return 0;
}

if (process.argv[1] === import.meta.filename)
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
