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
import type { TestEndpoints } from './endpoints';
import './endpoints';

/** Chooses, starts if needed, and provides the endpoints; returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let endpoints: TestEndpoints;
  let teardown = async (): Promise<void> => undefined;
  const { KAFKA_BROKERS, MQTT_URL, REDIS_URL } = process.env;
  // The integration and fault projects each run this setup in one process: the second sees the env the
  // first set, and must still use the local stack's principals (ONDIJON_TEST_LOCAL_MQTT marks that).
  const localMqttUsers = () =>
    Object.fromEntries(stackPrincipals().map((p) => [p.username, stackMqttCredentials(p.username)]));
  if (KAFKA_BROKERS && MQTT_URL && REDIS_URL) {
    const mqttUsers = process.env.ONDIJON_TEST_LOCAL_MQTT === '1' ? localMqttUsers() : envMqttUsers();
    endpoints = { ...stackEndpoints(), mqttUsers, source: 'env' };
  } else if (process.env.ONDIJON_TEST_DOCKER !== '0' && (await (await import('./docker')).dockerAnswers())) {
    const { startContainers } = await import('./docker');
    const containers = await startContainers();
    endpoints = containers.endpoints;
    teardown = () => containers.stop();
  } else {
    // Partial env (say only REDIS_URL) is honoured too: stackUp never starts a service whose URL is set.
    await stackUp();
    const mqttUsers = MQTT_URL ? envMqttUsers() : localMqttUsers();
    if (!MQTT_URL) process.env.ONDIJON_TEST_LOCAL_MQTT = '1';
    endpoints = { ...stackEndpoints(), mqttUsers, source: 'local-stack' };
  }
  process.env.KAFKA_BROKERS = endpoints.kafkaBrokers.join(',');
  process.env.MQTT_URL = endpoints.mqttUrl;
  process.env.REDIS_URL = endpoints.redisUrl;
  // Child processes (services started by tests) connect as admin unless a test gives another principal.
  const admin = endpoints.mqttUsers.admin;
  if (admin !== undefined) {
    process.env.MQTT_USERNAME = admin.username;
    process.env.MQTT_PASSWORD = admin.password;
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
