export * from './define';
export * from './windows';
export * from './harness';
export * from './telemetry';
export {
  aggregateKey,
  buildAggregate,
  decode,
  groupKey,
  silentStreamLogger,
  type AggregateOutput,
  type RawRecord,
  type StreamLogger,
  type WindowMeta,
  type WindowState,
} from './engine';
export * from './fixtures';
export * from './runtime/runtime';
export { RedisWindowStore } from './runtime/redis-store';
export { createStreamRedis, isClusterUrl, type StreamRedis } from './runtime/redis-client';
export { RUNTIME_REDIS_COMMANDS } from './runtime/redis-commands';
