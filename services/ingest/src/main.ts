import { DEV_PSEUDONYM_SECRET, PSEUDONYM_SECRET_ENV } from '@ondijon/governance';
import {
  createLogger,
  handleShutdown,
  kafkaSecretRequirements,
  requireSecrets,
  runMain,
} from '@ondijon/service-kit';
import { buildApp } from './app';
import { loadIngestConfig } from './config';
import { loadIngestPolicy } from './governance';

const log = createLogger('ingest', process.env.LOG_LEVEL ?? 'info');

runMain(async () => {
  const config = loadIngestConfig();
  // Fails closed in production: one sentence naming the variable, exit 1 (runMain).
  requireSecrets(config.ONDIJON_ENV, [
    {
      name: PSEUDONYM_SECRET_ENV,
      value: config.ONDIJON_PSEUDONYM_SECRET,
      minLength: 32,
      forbidden: [DEV_PSEUDONYM_SECRET],
    },
    { name: 'ONDIJON_DEAD_LETTER_PUBLIC_KEY', value: config.ONDIJON_DEAD_LETTER_PUBLIC_KEY, minLength: 40 },
    ...kafkaSecretRequirements(config),
  ]);
  if (config.ONDIJON_DEAD_LETTER_PUBLIC_KEY === undefined)
    log.warn('ONDIJON_DEAD_LETTER_PUBLIC_KEY is unset: dead letters keep their payload in clear');
  // The secret may come from ONDIJON_PSEUDONYM_SECRET_FILE: hand the resolved value to the keyring.
  const env =
    config.ONDIJON_PSEUDONYM_SECRET === undefined
      ? process.env
      : { ...process.env, [PSEUDONYM_SECRET_ENV]: config.ONDIJON_PSEUDONYM_SECRET };
  const { policy, usingDevSecret } = loadIngestPolicy(config.POLICY_FILE, env);
  if (usingDevSecret) log.warn('ONDIJON_PSEUDONYM_SECRET is unset: pseudonyms use the development secret');
  // Kafka clients built inside the app take KAFKA_SASL_* from the environment (createKafka's default).
  const app = buildApp(config, { policy, logger: log });
  handleShutdown(app, log, config.SHUTDOWN_DEADLINE_MS);
  await app.start();
  log.info({ port: app.port() }, 'ingest ready');
}, log);
