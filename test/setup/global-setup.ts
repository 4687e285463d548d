// Vitest global setup of the integration and fault projects: finds Kafka, MQTT and Redis, provisions
// the registry's topics, and hands the endpoints to tests (inject) and to child processes (env).
// Order: env endpoints (KAFKA_BROKERS, MQTT_URL, REDIS_URL, all three) > Testcontainers when a Docker
// engine answers (untested here, see docker.ts) > the local stack (`stackUp()`, idempotent, left running).
import type { TestProject } from 'vitest/node';
import {
  endpoints as stackEndpoints,
  stackMqttCredentials,
  stackPrincipals,
  stackProvision,
  stackUp,
} from '@ondijon/stack';
import type { TestEndpoints } from '@ondijon/test-kit';

/** Chooses, starts if needed, and provides the endpoints; returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let endpoints: TestEndpoints;
  let teardown = async (): Promise<void> => undefined;
  const { KAFKA_BROKERS, MQTT_URL, REDIS_URL, ONDIJON_TEST_ENDPOINTS_SOURCE } = process.env;
  const localMqttUsers = () =>
    Object.fromEntries(stackPrincipals().map((p) => [p.username, stackMqttCredentials(p.username)]));
  if (KAFKA_BROKERS && MQTT_URL && REDIS_URL) {
    // The setup of another project of the same run may have set them: keep the source it found.
    const source = ONDIJON_TEST_ENDPOINTS_SOURCE === 'local-stack' ? 'local-stack' : 'env';
    const mqttUsers = source === 'local-stack' ? localMqttUsers() : envMqttUsers();
    endpoints = { ...stackEndpoints(), mqttUsers, source };
  } else if (process.env.ONDIJON_TEST_DOCKER !== '0' && (await (await import('./docker')).dockerAnswers())) {
    const { startContainers } = await import('./docker');
    const containers = await startContainers();
    endpoints = containers.endpoints;
    teardown = () => containers.stop();
  } else {
    // Partial env (say only REDIS_URL) is honoured too: stackUp never starts a service whose URL is set.
    await stackUp();
    const mqttUsers = MQTT_URL ? envMqttUsers() : localMqttUsers();
    endpoints = { ...stackEndpoints(), mqttUsers, source: 'local-stack' };
  }
  process.env.ONDIJON_TEST_ENDPOINTS_SOURCE = endpoints.source;
  process.env.KAFKA_BROKERS = endpoints.kafkaBrokers.join(',');
  process.env.MQTT_URL = endpoints.mqttUrl;
  // The local stack's Redis URL carries the admin user's credentials (default user disabled).
  process.env.REDIS_URL = endpoints.redisUrl;
  // Child processes (services started by tests) connect as admin unless a test gives another principal.
  const admin = endpoints.mqttUsers.admin;
  if (admin !== undefined) {
    process.env.MQTT_USERNAME = admin.username;
    process.env.MQTT_PASSWORD = admin.password;
  }
  // Tests and their child processes are the super user unless they choose a principal (createKafka reads
  // KAFKA_SASL_* from the environment); the password stays in its file.
  if (endpoints.kafkaSasl) {
    process.env.KAFKA_SASL_USERNAME = endpoints.kafkaSasl.username;
    if (endpoints.kafkaSasl.passwordFile)
      process.env.KAFKA_SASL_PASSWORD_FILE = endpoints.kafkaSasl.passwordFile;
    else process.env.KAFKA_SASL_PASSWORD = endpoints.kafkaSasl.password;
  }
  await stackProvision({ brokers: endpoints.kafkaBrokers });
  project.provide('endpoints', endpoints);
  return teardown;
}

/** An external broker's principal from the env (MQTT_USERNAME/MQTT_PASSWORD), used for every role. */
function envMqttUsers(): TestEndpoints['mqttUsers'] {
  const { MQTT_USERNAME, MQTT_PASSWORD } = process.env;
  if (!MQTT_USERNAME || !MQTT_PASSWORD) return {};
  const user = { username: MQTT_USERNAME, password: MQTT_PASSWORD };
  return Object.fromEntries(stackPrincipals().map((p) => [p.username, user]));
}
