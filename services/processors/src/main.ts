import { createKafka } from '@ondijon/kafka';
import { createLogger, createMetricsRegistry, handleShutdown, runMain } from '@ondijon/service-kit';
import { Redis } from 'ioredis';
import { buildApp } from './app';
import { loadProcessorsConfig } from './config';

const log = createLogger('processors', process.env.LOG_LEVEL ?? 'info');

runMain(async () => {
  const config = loadProcessorsConfig();
  const logger = createLogger('processors', config.LOG_LEVEL);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'ondijon-processors', logger });
  // Commands wait for a reconnect rather than fail fast: the runtime retries with backoff on top.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 20, enableAutoPipelining: true });
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
