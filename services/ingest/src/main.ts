import { createLogger, handleShutdown, runMain } from '@ondijon/service-kit';
import { buildApp } from './app';
import { loadIngestConfig } from './config';
import { loadIngestPolicy } from './governance';

const config = loadIngestConfig();
const log = createLogger('ingest', config.LOG_LEVEL);

runMain(async () => {
  const { policy, usingDevSecret } = loadIngestPolicy(config.POLICY_FILE);
  if (usingDevSecret) log.warn('ONDIJON_PSEUDONYM_SECRET is unset: pseudonyms use the development secret');
  const app = buildApp(config, { policy, logger: log });
  handleShutdown(app, log, config.SHUTDOWN_DEADLINE_MS);
  await app.start();
  log.info({ port: app.port() }, 'ingest ready');
}, log);
