import { topicList } from '@ondijon/contracts';
import { createKafka, provisionTopics, type ProvisionResult, type TopicProvisionSpec } from '@ondijon/kafka';
import { resolveConfig } from './config';
import { clusterBrokers, endpoints, type StackOptions } from './stack';

/** Options of `stackProvision`. */
export interface StackProvisionOptions extends StackOptions {
  /** Topics to provision (default: the registry of @ondijon/contracts). */
  specs?: readonly TopicProvisionSpec[];
  /** Brokers to provision (default: the single node or external `KAFKA_BROKERS`; the cluster with `kafkaNodes: 3`). */
  brokers?: string[];
}

/** Provisioning outcome plus where it ran. */
export interface StackProvisionResult extends ProvisionResult {
  /** Brokers provisioned. */
  brokers: string[];
  /** Replication factor used for created topics. */
  replicationFactor: number;
}

/** Creates the registry's topics on Kafka (replication min(3, brokers)), reporting drift; idempotent. */
export async function stackProvision(options: StackProvisionOptions = {}): Promise<StackProvisionResult> {
  resolveConfig(options.config); // validates env ports early
  const brokers =
    options.brokers ?? (options.kafkaNodes === 3 ? clusterBrokers(options) : endpoints(options).kafkaBrokers);
  const kafka = createKafka({ brokers, clientId: 'ondijon-stack-provision', retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const replicationFactor = Math.min(3, cluster.brokers.length);
    const result = await provisionTopics(admin, options.specs ?? topicList, { replicationFactor });
    return { ...result, brokers, replicationFactor };
  } finally {
    await admin.disconnect();
  }
}
