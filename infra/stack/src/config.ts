import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KAFKA_SUPER_USER } from '@ondijon/contracts';
import { kafkaSecurityFromEnv } from '@ondijon/kafka';
import { kafkaSecret, redisUrlOf } from './secrets';

/** Absolute path of the repository root (infra/stack/src → ../../..). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the project's own infra config files live (infra/kafka, infra/mosquitto, infra/redis). */
export const infraDir = path.join(repoRoot, 'infra');

/** Ports, folders and external endpoints of one local stack; every field has an env override. */
export interface StackConfig {
  /** Data, logs and pid files (default `<repo>/.stack`, env `ONDIJON_STACK_DIR`). */
  dir: string;
  /** Single-node Kafka client port (env `ONDIJON_KAFKA_PORT`, default 19092). */
  kafkaPort: number;
  /** Single-node Kafka controller port (env `ONDIJON_KAFKA_CONTROLLER_PORT`, default 19093). */
  kafkaControllerPort: number;
  /** Client ports of the 3-node cluster (env `ONDIJON_KAFKA_CLUSTER_PORT` = first, default 19192..19194). */
  clusterPorts: number[];
  /** Controller ports of the 3-node cluster (env `ONDIJON_KAFKA_CLUSTER_CONTROLLER_PORT`, default 19292..19294). */
  clusterControllerPorts: number[];
  /** MQTT broker port (env `ONDIJON_MQTT_PORT`, default 11883). */
  mqttPort: number;
  /** MQTT over TLS port (env `ONDIJON_MQTTS_PORT`, default 18883): server certificate from the stack's CA. */
  mqttsPort: number;
  /**
   * The broker's management port (env `ONDIJON_MQTT_ADMIN_PORT`, default 11616): Artemis' core protocol on
   * loopback only, used by `pnpm operators` as the admin principal (close a revoked operator's connections).
   */
  mqttAdminPort: number;
  /**
   * The replicated pair's backup node (`pnpm stack up --mqtt-nodes 2`, docs/mqtt-broker.md): its MQTT port
   * (env `ONDIJON_MQTT_BACKUP_PORT`, default 11884), opened only once it has taken over from the primary.
   */
  mqttBackupPort: number;
  /** The backup node's MQTT over TLS port (env `ONDIJON_MQTTS_BACKUP_PORT`, default 18884). */
  mqttsBackupPort: number;
  /**
   * The backup node's core-protocol port on loopback (env `ONDIJON_MQTT_BACKUP_ADMIN_PORT`, default 11617):
   * management, and the replication link with the primary's `mqttAdminPort`.
   */
  mqttBackupAdminPort: number;
  /** Unpacked Apache ActiveMQ Artemis distribution (env `ONDIJON_ARTEMIS_HOME`); fetched with mvn when absent. */
  artemisHome: string | undefined;
  /**
   * Caps per MQTT operator (every principal but the services), enforced by the broker's guard
   * (infra/artemis/ClientIdGuard.java) from the file infra/stack/src/operators.ts writes; see
   * docs/security.md "Caps per operator".
   */
  mqttOperatorCaps: MqttOperatorCaps;
  /**
   * MQTT broker JVM heap (env `ONDIJON_MQTT_HEAP`, default 1g). What it must hold (messages in memory up to
   * infra/artemis/broker.xml's global limits, state per MQTT topic and per session) and how to size it:
   * docs/mqtt-broker.md "Memory".
   */
  artemisHeap: string;
  /** Redis port (env `ONDIJON_REDIS_PORT`, default 16379). */
  redisPort: number;
  /** Cached Kafka broker jars (env `ONDIJON_KAFKA_LIBS`, default `<dir>/kafka/libs`); filled by mvn when absent. */
  kafkaLibsDir: string;
  /** Kafka JVM heap per node (env `ONDIJON_KAFKA_HEAP`, default 512m). */
  kafkaHeap: string;
  /** External Kafka (env `KAFKA_BROKERS`, comma-separated): the stack then never starts Kafka. */
  externalKafka: string[] | undefined;
  /** External MQTT broker (env `MQTT_URL`): the stack then never starts its own. */
  externalMqtt: string | undefined;
  /** External Redis (env `REDIS_URL`): the stack then never starts Redis. */
  externalRedis: string | undefined;
}

/** Caps per MQTT operator (a negative value: no cap). */
export interface MqttOperatorCaps {
  /** Live connections per operator (env `ONDIJON_MQTT_OPERATOR_MAX_CONNECTIONS`, default 8). */
  maxConnections: number;
  /** Longest session expiry granted, s (env `ONDIJON_MQTT_OPERATOR_MAX_SESSION_EXPIRY_S`, default 86400). */
  maxSessionExpirySeconds: number;
  /**
   * Bytes of QoS 1/2 PUBLISHes received from the operator and not yet acknowledged, over all its
   * connections (env `ONDIJON_MQTT_OPERATOR_MAX_INFLIGHT_BYTES`, default 4 MiB).
   */
  maxInflightBytes: number;
}

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < -1)
    throw new StackError(`${name}=${raw} is not a whole number; set it to an integer (-1 for no cap).`);
  return value;
}

/** The operators' caps of the environment (defaults otherwise). */
export function mqttOperatorCapsOf(env: NodeJS.ProcessEnv = process.env): MqttOperatorCaps {
  return {
    maxConnections: envInt(env, 'ONDIJON_MQTT_OPERATOR_MAX_CONNECTIONS', 8),
    maxSessionExpirySeconds: envInt(env, 'ONDIJON_MQTT_OPERATOR_MAX_SESSION_EXPIRY_S', 86_400),
    maxInflightBytes: envInt(env, 'ONDIJON_MQTT_OPERATOR_MAX_INFLIGHT_BYTES', 4 * 1024 * 1024),
  };
}

function envPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new StackError(`${name}=${raw} is not a port number; set it to an integer between 1 and 65535.`);
  }
  return port;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Resolves the stack configuration from the environment, then applies explicit overrides. */
export function resolveConfig(
  overrides: Partial<StackConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): StackConfig {
  const clusterPort = envPort(env, 'ONDIJON_KAFKA_CLUSTER_PORT', 19_192);
  const clusterControllerPort = envPort(env, 'ONDIJON_KAFKA_CLUSTER_CONTROLLER_PORT', 19_292);
  const brokers = nonEmpty(env.KAFKA_BROKERS);
  const dir = path.resolve(overrides.dir ?? nonEmpty(env.ONDIJON_STACK_DIR) ?? path.join(repoRoot, '.stack'));
  return {
    dir,
    kafkaLibsDir: path.resolve(nonEmpty(env.ONDIJON_KAFKA_LIBS) ?? path.join(dir, 'kafka', 'libs')),
    kafkaPort: envPort(env, 'ONDIJON_KAFKA_PORT', 19_092),
    kafkaControllerPort: envPort(env, 'ONDIJON_KAFKA_CONTROLLER_PORT', 19_093),
    clusterPorts: [0, 1, 2].map((i) => clusterPort + i),
    clusterControllerPorts: [0, 1, 2].map((i) => clusterControllerPort + i),
    mqttPort: envPort(env, 'ONDIJON_MQTT_PORT', 11_883),
    mqttsPort: envPort(env, 'ONDIJON_MQTTS_PORT', 18_883),
    mqttAdminPort: envPort(env, 'ONDIJON_MQTT_ADMIN_PORT', 11_616),
    mqttBackupPort: envPort(env, 'ONDIJON_MQTT_BACKUP_PORT', 11_884),
    mqttsBackupPort: envPort(env, 'ONDIJON_MQTTS_BACKUP_PORT', 18_884),
    mqttBackupAdminPort: envPort(env, 'ONDIJON_MQTT_BACKUP_ADMIN_PORT', 11_617),
    artemisHome: nonEmpty(env.ONDIJON_ARTEMIS_HOME),
    mqttOperatorCaps: mqttOperatorCapsOf(env),
    artemisHeap: nonEmpty(env.ONDIJON_MQTT_HEAP) ?? '1g',
    redisPort: envPort(env, 'ONDIJON_REDIS_PORT', 16_379),
    kafkaHeap: nonEmpty(env.ONDIJON_KAFKA_HEAP) ?? '512m',
    externalKafka: brokers
      ?.split(',')
      .map((b) => b.trim())
      .filter((b) => b !== ''),
    externalMqtt: nonEmpty(env.MQTT_URL),
    externalRedis: nonEmpty(env.REDIS_URL),
    ...overrides,
  };
}

/** Endpoints clients should use: the external ones when set, else the local stack's. */
export interface Endpoints {
  /** Kafka bootstrap brokers, `host:port`. */
  kafkaBrokers: string[];
  /**
   * SASL credentials of the super user for the local stack (`.stack/secrets/kafka-admin.password`), or the
   * env's `KAFKA_SASL_*` with external brokers; undefined when none is set.
   */
  kafkaSasl?: { username: string; password: string; passwordFile?: string };
  /** MQTT broker URL, `mqtt://host:port`. */
  mqttUrl: string;
  /** Redis URL, `redis://admin:<password>@host:port` for the local stack (never print it: `withoutCredentials`). */
  redisUrl: string;
}

/** Endpoints of the single-node stack described by `config` (external endpoints win). */
export function endpointsOf(config: StackConfig, env: NodeJS.ProcessEnv = process.env): Endpoints {
  let kafkaSasl: Endpoints['kafkaSasl'];
  if (config.externalKafka === undefined) {
    const { file, value } = kafkaSecret(config, KAFKA_SUPER_USER);
    kafkaSasl = { username: KAFKA_SUPER_USER, password: value, passwordFile: file };
  } else {
    const sasl = kafkaSecurityFromEnv(env).sasl;
    if (sasl) kafkaSasl = { username: sasl.username, password: sasl.password };
  }
  return {
    kafkaBrokers: config.externalKafka ?? [`127.0.0.1:${config.kafkaPort}`],
    ...(kafkaSasl ? { kafkaSasl } : {}),
    mqttUrl: config.externalMqtt ?? `mqtt://127.0.0.1:${config.mqttPort}`,
    redisUrl: config.externalRedis ?? redisUrlOf(config, 'admin'),
  };
}

/** `createKafka`'s `security` for the endpoints' principal (the super user on the local stack). */
export function securityOf(ep: Pick<Endpoints, 'kafkaSasl'>): {
  sasl?: { username: string; password: string };
} {
  return ep.kafkaSasl ? { sasl: { username: ep.kafkaSasl.username, password: ep.kafkaSasl.password } } : {};
}

/** kafkajs SASL options of the endpoints' principal (undefined when none). */
export function saslOf(ep: Pick<Endpoints, 'kafkaSasl'>) {
  return ep.kafkaSasl
    ? {
        mechanism: 'scram-sha-512' as const,
        username: ep.kafkaSasl.username,
        password: ep.kafkaSasl.password,
      }
    : undefined;
}

/** Client addresses of the 3-node cluster described by `config`. */
export function clusterBrokersOf(config: StackConfig): string[] {
  return config.clusterPorts.map((p) => `127.0.0.1:${p}`);
}

/** A prerequisite or environment problem, reported to the user as one sentence (no stack trace). */
export class StackError extends Error {
  override readonly name = 'StackError';
  /** Stable code for tests and scripts. */
  readonly code = 'ONDIJON_STACK_PREREQUISITE';
}

/** Finds an executable on PATH (and the sbin folders, where Debian puts mosquitto). */
export function which(binary: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, binary);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
