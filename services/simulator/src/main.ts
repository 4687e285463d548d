import { createLogger, handleShutdown, runMain } from '@ondijon/service-kit';
import { buildApp } from './app';
import { flagsToEnv, loadSimulatorConfig } from './config';

// Flags (`--count 1000 --faults default --dry-run`) override the environment of the same name (SIM_*).
const config = loadSimulatorConfig({ ...process.env, ...flagsToEnv(process.argv.slice(2)) });
const log = createLogger('simulator', config.LOG_LEVEL);

runMain(async () => {
  const app = buildApp(config, { log, out: process.stdout });
  handleShutdown(app, log, config.SHUTDOWN_DEADLINE_MS);
  await app.start();
  await app.done;
  await app.close();
  process.exit(0);
}, log);
