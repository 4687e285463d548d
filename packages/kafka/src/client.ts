import './fast-record';
import './fast-fetch';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type RetryOptions } from 'kafkajs';

/** The logger shape this package needs (pino's, object first, constant message; STYLE.md rule 8). */
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

/** Maps a kafkajs log entry to the injected logger's method (pure; exported for tests). */
export function forwardLog(logger: KafkaLogger, entry: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _origin, ...fields } = entry.log;
  const obj = { kafkajs: entry.namespace, ...fields };
  const msg = `kafkajs: ${message}`;
  if (entry.level <= logLevel.ERROR) logger.error(obj, msg);
  else if (entry.level === logLevel.WARN) logger.warn(obj, msg);
  else if (entry.level === logLevel.INFO) logger.info(obj, msg);
  else logger.debug(obj, msg);
}

/** Creates a kafkajs client with the project's retry settings, logging through the injected logger. */
export function createKafka(options: CreateKafkaOptions): Kafka {
  const config: KafkaConfig = {
    brokers: options.brokers,
    clientId: options.clientId,
    connectionTimeout: options.connectionTimeout ?? 3_000,
    requestTimeout: options.requestTimeout ?? 30_000,
    retry: options.retry ?? defaultRetry,
    logLevel: options.logger ? levelOf[options.logLevel ?? 'warn'] : logLevel.NOTHING,
  };
  const logger = options.logger;
  if (logger) config.logCreator = () => (entry) => forwardLog(logger, entry);
  return new Kafka(config);
}
