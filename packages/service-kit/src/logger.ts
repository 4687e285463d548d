import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths never logged: payloads, personal fields and locations (CONTRIBUTING.md rule 8). Packages receive a
 * logger; only main.ts creates one.
 */
export const REDACT_PATHS = [
  'payload',
  '*.payload',
  'data',
  '*.data',
  'agentId',
  '*.agentId',
  'position',
  '*.position',
  'location',
  '*.location',
  'lat',
  'lon',
  '*.lat',
  '*.lon',
  // Secrets (issue 12): never logged, whatever object carries them.
  'password',
  '*.password',
  'sasl',
  '*.sasl',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  'KAFKA_SASL_PASSWORD',
  '*.KAFKA_SASL_PASSWORD',
  'REDIS_PASSWORD',
  '*.REDIS_PASSWORD',
  'REDIS_URL',
  '*.REDIS_URL',
  'ONDIJON_PSEUDONYM_SECRET',
  '*.ONDIJON_PSEUDONYM_SECRET',
  'PUBLISHER_ADMIN_TOKEN',
  '*.PUBLISHER_ADMIN_TOKEN',
  'OPENDATA_S3_SECRET_ACCESS_KEY',
  '*.OPENDATA_S3_SECRET_ACCESS_KEY',
  'CONSOLE_SESSION_SECRET',
  '*.CONSOLE_SESSION_SECRET',
  'passwordHash',
  '*.passwordHash',
  'ONDIJON_DEAD_LETTER_PRIVATE_KEY',
  '*.ONDIJON_DEAD_LETTER_PRIVATE_KEY',
  'REPLAY_KAFKA_SASL_PASSWORD',
  '*.REPLAY_KAFKA_SASL_PASSWORD',
  'REPLAY_ONDIJON_PSEUDONYM_SECRET',
  '*.REPLAY_ONDIJON_PSEUDONYM_SECRET',
  'REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY',
  '*.REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY',
];

/** Creates the root logger of a service, bound with `service`. */
export function createLogger(service: string, level = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    { name: service, level, base: { service }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination as pino.DestinationStream | undefined,
  );
}

/** A logger that drops everything, for tests and libraries used without one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
