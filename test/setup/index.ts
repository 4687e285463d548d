// Helpers for integration tests that need the local stack (acting as a service's principal, the stack's
// endpoints for scripts), plus everything of @ondijon/test-kit (CONTRIBUTING.md rule 11). Import from
// '@ondijon/acceptance' (other packages) or relatively (tests under test/).
import { kafkaSecret, redisSecret, resolveConfig, endpoints as stackEndpoints } from '@ondijon/stack';
import { provideTestEndpoints, type TestEndpoints, testEndpoints } from '@ondijon/test-kit';

export * from '@ondijon/test-kit';

/**
 * Makes the local stack's endpoints (with its super users' credentials) those of `testEndpoints()`, for a
 * script run outside vitest (a benchmark). The env's endpoints win where set, as in the global setup.
 */
export function useLocalStackEndpoints(): TestEndpoints {
  const endpoints: TestEndpoints = {
    ...stackEndpoints(),
    mqttUsers:
      process.env.MQTT_USERNAME && process.env.MQTT_PASSWORD
        ? { admin: { username: process.env.MQTT_USERNAME, password: process.env.MQTT_PASSWORD } }
        : {},
    source: 'script',
  };
  provideTestEndpoints(endpoints);
  return endpoints;
}

/**
 * True when the test endpoints are the local stack whose secrets are in `.stack/secrets` (its super users
 * match): only then can tests act as each service's principal and Redis user.
 */
export function usesStackSecrets(ep: TestEndpoints = testEndpoints()): boolean {
  const config = resolveConfig({ externalKafka: undefined, externalRedis: undefined });
  let redisPassword = '';
  try {
    redisPassword = decodeURIComponent(new URL(ep.redisUrl).password);
  } catch {
    return false;
  }
  return (
    ep.kafkaSasl?.username === 'admin' &&
    ep.kafkaSasl.password === kafkaSecret(config, 'admin').value &&
    redisPassword === redisSecret(config, 'admin').value
  );
}
