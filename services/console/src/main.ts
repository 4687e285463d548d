import { createLogger, handleShutdown, runMain } from '@ondijon/service-kit';
import { buildApp } from './app';
import { loadConsoleConfig } from './config';

const config = loadConsoleConfig();
const log = createLogger('console', config.LOG_LEVEL);

runMain(async () => {
  const app = await buildApp(config, { logger: log });
  handleShutdown(app, log, config.SHUTDOWN_DEADLINE_MS);
  await app.start();
}, log);
