import { setFetchHeaderSubset } from '@ondijon/kafka';
import { createLogger, handleShutdown, runMain } from '@ondijon/service-kit';
import { buildApp } from './app';
import { loadConsoleConfig } from './config';
import { CONSOLE_HEADER_KEYS } from './kafka-records';

// The console reads every S1 record at ingest's full rate and 5 of the ~17 headers each carries: its
// process decodes only those (packages/kafka kafkajs-speedups/fetch-decoder.ts; ~1 µs and 11 Buffers
// fewer per record). Set here, in the process entry, not in buildApp: a process that embeds the app (the
// tests) may read other headers.
setFetchHeaderSubset(CONSOLE_HEADER_KEYS);

const config = loadConsoleConfig();
const log = createLogger('console', config.LOG_LEVEL);

runMain(async () => {
  const app = await buildApp(config, { logger: log });
  handleShutdown(app, log, config.SHUTDOWN_DEADLINE_MS);
  await app.start();
}, log);
