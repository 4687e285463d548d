// The Redis commands the stream runtime sends, for the processors' Redis ACL user (issue 12, item 4):
// the stack grants exactly these, on the runtime's key prefix only. A unit test checks that every
// `redis.call` of the Lua scripts is listed, so a new command fails a test before it fails in Redis.

/** Commands of the connection and of ioredis itself (AUTH, the ready check's INFO, PING). */
export const CONNECTION_COMMANDS = [
  'auth',
  'hello',
  'ping',
  'info',
  'client|setname',
  'select',
  'quit',
  'echo',
  // ioredis' Cluster client reads the slot map from any node (redis-client.ts); harmless on one node.
  'cluster|slots',
  'cluster|info',
  'readonly',
];

/** Commands that run the runtime's Lua scripts (ioredis `defineCommand`: EVALSHA, EVAL on NOSCRIPT). */
export const SCRIPT_COMMANDS = ['evalsha', 'eval', 'script|load', 'script|exists'];

/** Data commands: those sent directly by the store and those the Lua scripts call. */
export const DATA_COMMANDS = [
  'hmget',
  'hgetall',
  'srandmember',
  'zcard',
  'scard',
  'del',
  'get',
  'set',
  'hget',
  'hincrby',
  'hset',
  'hsetnx',
  'pexpire',
  'sadd',
  'smismember',
  'srem',
  'zadd',
  'zrangebyscore',
  'zrem',
];

/** Every command the stream runtime needs, lower case (`container|subcommand` for subcommands). */
export const RUNTIME_REDIS_COMMANDS = [...CONNECTION_COMMANDS, ...SCRIPT_COMMANDS, ...DATA_COMMANDS];
