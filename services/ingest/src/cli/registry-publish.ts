// Publishes the equipment registry file to the compacted reference topic (idempotent: keyed by
// equipment id, so publishing the same file again changes nothing once compacted).
//   pnpm --filter @ondijon/ingest registry:publish      (REGISTRY_FILE, KAFKA_BROKERS, KAFKA_TOPIC_PREFIX)
import { TOPICS } from '@ondijon/contracts';
import { createBatchingProducer, createKafka } from '@ondijon/kafka';
import { loadIngestConfig } from '../config';
import { loadIngestPolicy } from '../governance';
import { SERVICE_VERSION } from '../pipeline';
import { equipmentRecord, loadRegistry } from '../registry';

async function main(): Promise<void> {
  const config = loadIngestConfig();
  const registry = await loadRegistry(config.REGISTRY_FILE);
  const { policy } = loadIngestPolicy(config.POLICY_FILE);
  const producer = createBatchingProducer(
    createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-registry` }),
  );
  await producer.connect();
  const topic = `${config.KAFKA_TOPIC_PREFIX}${TOPICS['ref.s0.equipment.v1'].name}`;
  const now = new Date();
  try {
    await Promise.all(
      [...registry.entries()].map((entry) => {
        const { key, value } = equipmentRecord(entry, policy.revision, SERVICE_VERSION, now);
        return producer.send(topic, {
          key,
          value: JSON.stringify(value),
          headers: { ondijon_sensitivity: 'S0' },
        });
      }),
    );
  } finally {
    await producer.disconnect();
  }
  console.log(`published ${registry.size} equipment of registry revision ${registry.revision} to ${topic}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
