/**
 * Environment of each service for one pipeline run: its own topic prefix, MQTT prefix and share
 * group, consumer groups, Redis key prefix, store folders and ports, so a run never touches another's
 * data (acceptance test, benchmark), or the defaults (run-pipeline).
 */
import { createServer } from 'node:net';
import { TOPICS, type TopicName, topicList } from '@ondijon/contracts';
import { type ServiceSecretEnvs, withoutCredentials } from '@ondijon/stack';

/** Where a run's services meet and keep their data. */
export interface PipelinePlan {
  /** Prefix of every Kafka topic ('' = the registry's names). */
  topicPrefix: string;
  /** Prefix of every MQTT topic ('' = none). */
  mqttPrefix: string;
  /** Unique suffix of group ids, client ids and key prefixes ('' = the services' defaults). */
  runId: string;
  registryFile: string;
  opendataDir: string;
  publisherStateDir: string;
  ports: { ingest: number; processors: number; publisher: number; api: number };
  endpoints: {
    kafkaBrokers: string[];
    mqttUrl: string;
    redisUrl: string;
    /** MQTT principals by login (`ingest`, `admin`, operator codes); absent: the env's MQTT_USERNAME. */
    mqttUsers?: Record<string, { username: string; password: string }>;
  };
  /**
   * Each service's own credentials (Kafka principal, Redis user, pseudonymisation secret, admin token; file
   * paths): the run is the real, least-privilege configuration. Absent: the services inherit the caller's.
   */
  secrets?: ServiceSecretEnvs;
  /** UNSAFE publication delay override (hours) for tests and demos; undefined = policy. */
  publishDelayHours?: number;
  /** Processors' idle flush, ms (a finished test stream closes its last windows after this). */
  idleFlushMs?: number;
  /** Ingest MQTT connections. */
  ingestConnections?: number;
  logLevel?: string;
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Physical name of a registry topic in a run. */
export function physical(plan: Pick<PipelinePlan, 'topicPrefix'>, topic: TopicName): string {
  return `${plan.topicPrefix}${topic}`;
}

/** Topic specs of a run (the registry's, renamed with the prefix), for provisioning. */
export function plannedTopics(plan: Pick<PipelinePlan, 'topicPrefix'>) {
  return topicList.map((t) => ({
    name: `${plan.topicPrefix}${t.name}`,
    partitions: t.partitions,
    retentionMs: t.retentionMs,
    cleanupPolicy: t.cleanupPolicy,
  }));
}

/** The environment of each service of a run. */
export function serviceEnvs(
  plan: PipelinePlan,
): Record<'ingest' | 'processors' | 'publisher' | 'opendata-api', Record<string, string>> {
  const common = {
    KAFKA_BROKERS: plan.endpoints.kafkaBrokers.join(','),
    REDIS_URL: plan.endpoints.redisUrl,
    LOG_LEVEL: plan.logLevel ?? 'info',
  };
  const run = (base: string) => (plan.runId === '' ? base : `${base}-${plan.runId}`);
  // A password given in the caller's environment must not shadow the service's own file.
  const secret = (env: Record<string, string> | undefined) =>
    env === undefined
      ? {}
      : { ...env, ...('KAFKA_SASL_PASSWORD_FILE' in env ? { KAFKA_SASL_PASSWORD: '' } : {}) };
  const processorsSecrets = secret(plan.secrets?.processors);
  const publisherSecrets = secret(plan.secrets?.publisher);
  const overrides = Object.fromEntries(
    (Object.keys(TOPICS) as TopicName[]).map((t) => [t, physical(plan, t)]),
  );
  const aggregates: Record<string, TopicName> = {
    'lighting-commune-hour': 'agg.s1.lighting-commune-hour.v1',
    'traffic-flow': 'agg.s1.traffic-flow.v1',
    'signal-status': 'agg.s1.signal-status.v1',
    'winter-commune-day': 'agg.s2.winter-commune-day.v1',
  };
  return {
    ingest: {
      ...common,
      MQTT_URL: plan.endpoints.mqttUrl,
      ...mqttEnv(plan, 'ingest'),
      ...secret(plan.secrets?.ingest),
      KAFKA_TOPIC_PREFIX: plan.topicPrefix,
      MQTT_TOPIC_PREFIX: plan.mqttPrefix,
      MQTT_SHARE_GROUP: run('ingest').replace(/[^A-Za-z0-9_-]/g, '-'),
      MQTT_CLIENT_ID_PREFIX: run('ondijon-ingest'),
      REGISTRY_FILE: plan.registryFile,
      HTTP_PORT: String(plan.ports.ingest),
      ...(plan.ingestConnections ? { INGEST_CONNECTIONS: String(plan.ingestConnections) } : {}),
    },
    processors: {
      ...common,
      ...processorsSecrets,
      // The service's Redis user, not the caller's credentials in the URL.
      ...('REDIS_USERNAME' in processorsSecrets ? { REDIS_URL: withoutCredentials(common.REDIS_URL) } : {}),
      PROBE_PORT: String(plan.ports.processors),
      PROCESSORS_GROUP_ID: run('ondijon-processors'),
      STREAM_KEY_PREFIX: plan.runId === '' ? 'processors:stream:' : `processors:stream:${plan.runId}:`,
      STREAM_TOPIC_OVERRIDES: JSON.stringify(overrides),
      ...(plan.idleFlushMs ? { STREAM_IDLE_FLUSH_MS: String(plan.idleFlushMs) } : {}),
    },
    publisher: {
      ...common,
      ...publisherSecrets,
      ...('REDIS_USERNAME' in publisherSecrets ? { REDIS_URL: withoutCredentials(common.REDIS_URL) } : {}),
      PUBLISHER_PORT: String(plan.ports.publisher),
      OPENDATA_DIR: plan.opendataDir,
      // The scalable configuration (docs/scale-out.md): staged cells, noise and the ε ledger in Redis under
      // the group's release leases, so a second instance with the same environment could join the run.
      PUBLISHER_STATE_STORE: 'redis',
      PUBLISHER_STATE_DIR: plan.publisherStateDir,
      // The registry ingest reads: where it lists no equipment of a dataset are its structural zeros.
      REGISTRY_FILE: plan.registryFile,
      PUBLISHER_GROUP_ID: run('ondijon-publisher'),
      PUBLISHER_SOURCE_TOPICS: Object.entries(aggregates)
        .map(([dataset, topic]) => `${dataset}=${physical(plan, topic)}`)
        .join(','),
      PUBLISHER_DEAD_LETTER_TOPIC: physical(plan, 'dlq.s3.stream.v1'),
      PUBLISHER_TICK_MS: '1000',
      ...(plan.publishDelayHours !== undefined
        ? { PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS: String(plan.publishDelayHours) }
        : {}),
    },
    'opendata-api': {
      LOG_LEVEL: common.LOG_LEVEL,
      OPENDATA_DIR: plan.opendataDir,
      PORT: String(plan.ports.api),
      RATE_LIMIT_ENABLED: 'false',
    },
  };
}

/** MQTT_USERNAME/MQTT_PASSWORD of a principal of the plan (nothing when the plan has none: the env's are used). */
export function mqttEnv(plan: Pick<PipelinePlan, 'endpoints'>, username: string): Record<string, string> {
  const user = plan.endpoints.mqttUsers?.[username];
  return user === undefined ? {} : { MQTT_USERNAME: user.username, MQTT_PASSWORD: user.password };
}

/**
 * The environment of the control-centre console of a run (issue 15): the run's topics and registry, its
 * own consumer groups, the console principal and the stack's demo users when the plan has secrets.
 */
export function consoleEnv(plan: PipelinePlan, port: number): Record<string, string> {
  const secrets = plan.secrets?.console;
  return {
    KAFKA_BROKERS: plan.endpoints.kafkaBrokers.join(','),
    LOG_LEVEL: plan.logLevel ?? 'info',
    ...(secrets ?? {}),
    ...(secrets && 'KAFKA_SASL_PASSWORD_FILE' in secrets ? { KAFKA_SASL_PASSWORD: '' } : {}),
    PORT: String(port),
    KAFKA_TOPIC_PREFIX: plan.topicPrefix,
    REGISTRY_FILE: plan.registryFile,
    OPENDATA_DIR: plan.opendataDir,
    CONSOLE_GROUP_ID: plan.runId === '' ? 'ondijon-console' : `ondijon-console-${plan.runId}`,
    // Replay from the rejections page runs ingest's replay tool as the `replay` principal.
    CONSOLE_REPLAY: 'true',
    CONSOLE_MQTT_TOPIC_PREFIX: plan.mqttPrefix,
    // The overview's latency and consumer lag: the run's ingest and processors probes.
    CONSOLE_INGEST_METRICS_URLS: `http://127.0.0.1:${plan.ports.ingest}/metrics`,
    CONSOLE_PROCESSORS_METRICS_URLS: `http://127.0.0.1:${plan.ports.processors}/metrics`,
    ...(plan.secrets?.replay.KAFKA_SASL_USERNAME
      ? {
          REPLAY_KAFKA_SASL_USERNAME: plan.secrets.replay.KAFKA_SASL_USERNAME,
          REPLAY_KAFKA_SASL_PASSWORD_FILE: plan.secrets.replay.KAFKA_SASL_PASSWORD_FILE!,
        }
      : {}),
    ...(plan.secrets?.replay.ONDIJON_PSEUDONYM_SECRET_FILE
      ? { REPLAY_ONDIJON_PSEUDONYM_SECRET_FILE: plan.secrets.replay.ONDIJON_PSEUDONYM_SECRET_FILE }
      : {}),
    ...(plan.secrets?.replay.ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE
      ? {
          REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE:
            plan.secrets.replay.ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE,
        }
      : {}),
  };
}
