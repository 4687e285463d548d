import {
  createLogger,
  handleShutdown,
  kafkaSecretRequirements,
  requireSecrets,
  runMain,
} from '@ondijon/service-kit';
import { buildApp } from './app';
import { loadPublisherConfig } from './config';

/** The password of a `redis://user:password@…` URL, if any. */
function urlPassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

const log = createLogger('publisher', process.env.LOG_LEVEL ?? 'info');

runMain(async () => {
  const config = loadPublisherConfig();
  // Fails closed in production: one sentence naming the variable, exit 1 (runMain).
  requireSecrets(config.ONDIJON_ENV, [
    ...kafkaSecretRequirements(config),
    { name: 'PUBLISHER_ADMIN_TOKEN', value: config.PUBLISHER_ADMIN_TOKEN, minLength: 32 },
    ...(config.PUBLISHER_STATE_STORE === 'redis'
      ? [{ name: 'REDIS_PASSWORD', value: config.REDIS_PASSWORD ?? urlPassword(config.REDIS_URL) }]
      : []),
  ]);
  const killAt = config.PUBLISHER_TEST_KILL_AT_STEP;
  if (killAt) log.warn({ step: killAt }, 'fault test: the process kills itself at this release step');
  if (config.PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS !== undefined) {
    log.warn(
      { hours: config.PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS },
      'publication delay overridden: tests and demos only',
    );
  }
  const app = buildApp(config, {
    log,
    ...(killAt
      ? {
          onStoreStep: (step) => {
            if (step === killAt) process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
  await app.start();
  handleShutdown(app, log, config.SHUTDOWN_DEADLINE_MS);
}, log);
