// Testcontainers path of the global setup. UNTESTED: this machine has no Docker engine (only the client),
// so this file was type-checked but never run. It is imported lazily, only when an engine answers.
import type { TestEndpoints } from '@ondijon/test-kit';

/** Started containers and how to stop them. */
export interface ContainerStack {
  /** Endpoints of the containers. */
  endpoints: TestEndpoints;
  /** Stops every container. */
  stop(): Promise<void>;
}

/** Starts Kafka (apache/kafka, KRaft single node), Mosquitto and Redis with Testcontainers. */
export async function startContainers(): Promise<ContainerStack> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const path = await import('node:path');
  const { repoRoot } = await import('@ondijon/stack');
  const infra = path.join(repoRoot, 'infra');
  // Kafka must advertise the host-mapped port, which is only known once started: bind a fixed host port.
  const kafkaPort = 29_092;
  const kafka = await new GenericContainer('apache/kafka:4.4.0')
    .withExposedPorts({ container: 9092, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const mosquitto = await new GenericContainer('eclipse-mosquitto:2')
    .withExposedPorts(1883)
    .withBindMounts([
      {
        source: path.join(infra, 'mosquitto', 'docker.conf'),
        target: '/mosquitto/config/mosquitto.conf',
        mode: 'ro',
      },
      { source: path.join(infra, 'mosquitto', 'conf.d'), target: '/mosquitto/config/conf.d', mode: 'ro' },
    ])
    .start();
  const redis = await new GenericContainer('redis:7')
    .withExposedPorts(6379)
    .withBindMounts([
      {
        source: path.join(infra, 'redis', 'redis.conf'),
        target: '/usr/local/etc/redis/redis.conf',
        mode: 'ro',
      },
    ])
    .withCommand([
      'redis-server',
      '/usr/local/etc/redis/redis.conf',
      '--bind',
      '0.0.0.0',
      '--protected-mode',
      'no',
      '--dir',
      '/data',
    ])
    .start();
  return {
    endpoints: {
      kafkaBrokers: [`127.0.0.1:${kafkaPort}`],
      mqttUrl: `mqtt://${mosquitto.getHost()}:${mosquitto.getMappedPort(1883)}`,
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      // Untested (no Docker engine where this project is built): this Mosquitto has no users.
      mqttUsers: {},
      source: 'testcontainers',
    },
    async stop() {
      await Promise.all([kafka.stop(), mosquitto.stop(), redis.stop()]);
    },
  };
}

/** True when a Docker engine answers `/_ping` within `timeoutMs` (DOCKER_HOST unix socket or /var/run/docker.sock). */
export async function dockerAnswers(timeoutMs = 1_000): Promise<boolean> {
  const { existsSync } = await import('node:fs');
  const http = await import('node:http');
  const host = process.env.DOCKER_HOST;
  if (host !== undefined && !host.startsWith('unix://')) return false; // tcp engines: not supported here, use env endpoints
  const socketPath = host?.slice('unix://'.length) ?? '/var/run/docker.sock';
  if (!existsSync(socketPath)) return false;
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
  });
}
