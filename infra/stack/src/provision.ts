import { aclInScope, kafkaAclBindings, topicList } from '@ondijon/contracts';
import {
  createKafka,
  provisionAcls,
  provisionTopics,
  type AclProvisionResult,
  type ProvisionResult,
  type TopicProvisionSpec,
} from '@ondijon/kafka';
import { resolveConfig, saslOf } from './config';
import { clusterBrokers, endpoints, type StackOptions } from './stack';

/** Options of `stackProvision`. */
export interface StackProvisionOptions extends StackOptions {
  /** Topics to provision (default: the registry of @ondijon/contracts, with `namespace` in front). */
  specs?: readonly TopicProvisionSpec[];
  /** Brokers to provision (default: the single node or external `KAFKA_BROKERS`; the cluster with `kafkaNodes: 3`). */
  brokers?: string[];
  /**
   * Topic namespace (`''` in production, `<run>.` for a run of `./ondijon run` or a test): the registry's
   * topics and their ACLs are provisioned under it.
   */
  namespace?: string;
  /** Also provision the ACLs of the access matrix (default true). */
  acls?: boolean;
}

/** Provisioning outcome plus where it ran. */
export interface StackProvisionResult extends ProvisionResult {
  /** Brokers provisioned. */
  brokers: string[];
  /** Replication factor used for created topics. */
  replicationFactor: number;
  /** ACLs of the access matrix: created, existing, drift (absent with `acls: false`). */
  acls?: AclProvisionResult;
}

/**
 * Creates the registry's topics on Kafka (replication min(3, brokers)) and the ACLs of the access matrix
 * (as the super user), reporting drift of both; idempotent.
 */
export async function stackProvision(options: StackProvisionOptions = {}): Promise<StackProvisionResult> {
  resolveConfig(options.config); // validates env ports early
  const ep = endpoints(options);
  const brokers = options.brokers ?? (options.kafkaNodes === 3 ? clusterBrokers(options) : ep.kafkaBrokers);
  const namespace = options.namespace ?? '';
  const sasl = saslOf(ep);
  const kafka = createKafka({
    brokers,
    clientId: 'ondijon-stack-provision',
    retry: { retries: 3 },
    security: sasl ? { sasl } : {},
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const replicationFactor = Math.min(3, cluster.brokers.length);
    const specs =
      options.specs ??
      topicList.map((t) => ({ ...t, name: `${namespace}${t.name}` }) satisfies TopicProvisionSpec);
    const result = await provisionTopics(admin, specs, { replicationFactor });
    const acls =
      options.acls === false
        ? undefined
        : await provisionAcls(admin, kafkaAclBindings(namespace), (acl) => aclInScope(namespace, acl));
    return { ...result, brokers, replicationFactor, ...(acls ? { acls } : {}) };
  } finally {
    await admin.disconnect();
  }
}
