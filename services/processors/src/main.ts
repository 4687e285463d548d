import { createKafka } from '@ondijon/kafka';
import {
  createLogger,
  createMetricsRegistry,
  handleShutdown,
  kafkaSecretRequirements,
  kafkaSecurityOf,
  redisAuthOf,
  requireSecrets,
  runMain,
} from '@ondijon/service-kit';
import { createStreamRedis } from '@ondijon/stream';
import { buildApp } from './app';
import { loadProcessorsConfig } from './config';

const log = createLogger('processors', process.env.LOG_LEVEL ?? 'info');

/** The password of a Redis URL (`redis://user:password@host:port`), if it has one. */
function urlPassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

runMain(async () => {
  const config = loadProcessorsConfig();
  // Fails closed in production: one sentence naming the variable, exit 1 (runMain).
  requireSecrets(config.ONDIJON_ENV, [
    ...kafkaSecretRequirements(config),
    { name: 'REDIS_PASSWORD', value: config.REDIS_PASSWORD ?? urlPassword(config.REDIS_URL) },
  ]);
  const logger = createLogger('processors', config.LOG_LEVEL);
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: 'ondijon-processors',
    logger,
    ...(kafkaSecurityOf(config) ? { security: kafkaSecurityOf(config) } : {}),
  });
  // Commands wait for a reconnect rather than fail fast: the runtime retries with backoff on top.
  // A `redis+cluster://` URL connects to a Redis Cluster (docs/scale-out.md).
  const redis = createStreamRedis(config.REDIS_URL, {
    maxRetriesPerRequest: 20,
    enableAutoPipelining: true,
    ...redisAuthOf(config),
  });
  const app = buildApp(config, { kafka, redis, logger, registry: createMetricsRegistry('processors') });
  await app.start();
  handleShutdown(
    {
      async close() {
        await app.close();
        await redis.quit();
      },
    },
    logger,
    config.SHUTDOWN_DEADLINE_MS,
  );
}, log);
