import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type RetryOptions } from 'kafkajs';
import { installKafkajsSpeedups } from './kafkajs-speedups';

/** SASL/SCRAM credentials of a Kafka principal. */
export interface KafkaSasl {
  /** Principal name (`User:<username>` on the broker). */
  username: string;
  /** Its password. */
  password: string;
  /** Mechanism (default `scram-sha-512`, the stack's). */
  mechanism?: 'scram-sha-512' | 'scram-sha-256' | 'plain';
}

/** Client security: SASL credentials and optional TLS. */
export interface KafkaSecurity {
  /** SASL credentials; absent = no authentication (a broker of the stack refuses such a client). */
  sasl?: KafkaSasl;
  /** TLS: `true` with the system CAs, or the PEM of the CA to trust. */
  ssl?: boolean | { ca: string };
}

/**
 * Client security from the environment: `KAFKA_SASL_USERNAME` with `KAFKA_SASL_PASSWORD` or
 * `KAFKA_SASL_PASSWORD_FILE` (the container-secret convention), `KAFKA_SASL_MECHANISM`, `KAFKA_SSL=true`,
 * `KAFKA_SSL_CA_FILE`. Throws one sentence naming the variable when a file cannot be read.
 */
export function kafkaSecurityFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  const security: KafkaSecurity = {};
  const username = env.KAFKA_SASL_USERNAME?.trim();
  if (username) {
    let password = env.KAFKA_SASL_PASSWORD;
    const file = env.KAFKA_SASL_PASSWORD_FILE;
    if ((password === undefined || password === '') && file)
      password = readSecretFile('KAFKA_SASL_PASSWORD_FILE', file);
    const mechanism = (env.KAFKA_SASL_MECHANISM ?? 'scram-sha-512').toLowerCase();
    if (mechanism !== 'scram-sha-512' && mechanism !== 'scram-sha-256' && mechanism !== 'plain')
      throw new Error(
        `KAFKA_SASL_MECHANISM=${mechanism} is not supported; use scram-sha-512, scram-sha-256 or plain`,
      );
    security.sasl = { username, password: password ?? '', mechanism };
  }
  const caFile = env.KAFKA_SSL_CA_FILE;
  if (caFile) security.ssl = { ca: readSecretFile('KAFKA_SSL_CA_FILE', caFile) };
  else if (env.KAFKA_SSL === 'true') security.ssl = true;
  return security;
}

function readSecretFile(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new Error(
      `${variable}=${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        cause: error,
      },
    );
  }
}

/** The logger shape this package needs (pino's, object first, constant message; CONTRIBUTING.md rule 8). */
export interface KafkaLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Options of `createKafka`. */
export interface CreateKafkaOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  /** Client id shown in broker logs and quotas. */
  clientId: string;
  /** Where kafkajs logs go (levels mapped; kafkajs' own console logger is never used). Silent when absent. */
  logger?: KafkaLogger;
  /** Lowest kafkajs level forwarded to `logger` (default WARN: kafkajs logs retriable errors at ERROR, INFO is chatty). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** kafkajs retry settings (default: 100 ms initial, 5 s max, 10 retries ≈ 30 s of trying). */
  retry?: RetryOptions;
  /** TCP connect timeout in ms (default 3000). */
  connectionTimeout?: number;
  /** Request timeout in ms (default 30000). */
  requestTimeout?: number;
  /**
   * SASL credentials and TLS. Absent: `kafkaSecurityFromEnv(process.env)`, so every client of a process
   * (those built inside apps and tools too) authenticates as the principal the process was given.
   */
  security?: KafkaSecurity;
}

const levelOf = {
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

/** Default kafkajs retry settings of the project: tolerates a broker restart of a few tens of seconds. */
export const defaultRetry: RetryOptions = {
  initialRetryTime: 100,
  maxRetryTime: 5_000,
  retries: 10,
  multiplier: 2,
  factor: 0.2,
};

/**
 * Protocol errors that kafkajs logs at ERROR for each attempt while it retries by itself, and that a
 * normal start or rebalance produces: a group or transaction coordinator still loading after a broker
 * start, a leader being elected, a transaction still ending (docs/platform-notes.md, "kafkajs"). They
 * are forwarded at debug; what still fails after the retries reaches the caller as an error, which the
 * service reports. Exactly kafkajs' messages (its protocol error table; a test checks them).
 */
export const RETRIED_ERRORS = [
  "The coordinator is loading and hence can't process requests for this group",
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'This server is not the leader for that topic-partition',
  'The group is rebalancing, so a rejoin is needed',
];

/**
 * kafkajs warnings that are expected here, forwarded at debug: the idempotent producer runs with bounded
 * retries on purpose (the batching producer re-sends what a failed request left out), and group
 * rebalances are a normal part of starting and scaling consumers.
 */
const EXPECTED_WARNINGS = [
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
  'The group is rebalancing, re-joining',
  'Consumer is not aware of all assigned partitions, refreshing metadata',
];

/** The level a kafkajs entry is forwarded at: its own, or debug for the expected noise above. */
function levelFor(entry: LogEntry): logLevel {
  if (entry.level > logLevel.WARN) return entry.level;
  const { message, error } = entry.log as { message: string; error?: unknown };
  if (entry.level === logLevel.WARN && EXPECTED_WARNINGS.includes(message)) return logLevel.DEBUG;
  if (typeof error === 'string' && RETRIED_ERRORS.includes(error)) return logLevel.DEBUG;
  return entry.level;
}

/** Maps a kafkajs log entry to the injected logger's method (pure; exported for tests). */
export function forwardLog(logger: KafkaLogger, entry: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _origin, ...fields } = entry.log;
  const obj = { kafkajs: entry.namespace, ...fields };
  const msg = `kafkajs: ${message}`;
  const level = levelFor(entry);
  if (level <= logLevel.ERROR) logger.error(obj, msg);
  else if (level === logLevel.WARN) logger.warn(obj, msg);
  else if (level === logLevel.INFO) logger.info(obj, msg);
  else logger.debug(obj, msg);
}

/**
 * Creates a kafkajs client with the project's retry settings, logging through the injected logger.
 * Installs the kafkajs speed-ups first (kafkajs-speedups/index.ts; idempotent, before any client of
 * the process produces or fetches; `ONDIJON_KAFKAJS_SPEEDUPS=off` skips them).
 */
export function createKafka(options: CreateKafkaOptions): Kafka {
  installKafkajsSpeedups();
  const config: KafkaConfig = {
    brokers: options.brokers,
    clientId: options.clientId,
    connectionTimeout: options.connectionTimeout ?? 3_000,
    requestTimeout: options.requestTimeout ?? 30_000,
    retry: options.retry ?? defaultRetry,
    logLevel: options.logger ? levelOf[options.logLevel ?? 'warn'] : logLevel.NOTHING,
  };
  const security = options.security ?? kafkaSecurityFromEnv();
  if (security.sasl) {
    const { username, password, mechanism = 'scram-sha-512' } = security.sasl;
    config.sasl =
      mechanism === 'plain'
        ? { mechanism, username, password }
        : mechanism === 'scram-sha-256'
          ? { mechanism, username, password }
          : { mechanism, username, password };
  }
  if (security.ssl !== undefined && security.ssl !== false)
    config.ssl = security.ssl === true ? true : { ca: [security.ssl.ca] };
  const logger = options.logger;
  if (logger) config.logCreator = () => (entry) => forwardLog(logger, entry);
  return new Kafka(config);
}
