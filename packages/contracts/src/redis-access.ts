// The Redis commands the publisher sends with PUBLISHER_STATE_STORE=redis (issue 17, item 1), for its
// Redis ACL user: the stack grants exactly these, on the `publisher:*` keys only. A unit test of the
// publisher checks that every command of its Lua scripts and client calls is listed.

/** Every command the publisher's shared state needs, lower case (`container|subcommand` for subcommands). */
export const PUBLISHER_REDIS_COMMANDS = [
  'auth',
  'hello',
  'ping',
  'info',
  'client|setname',
  'select',
  'quit',
  'echo',
  'evalsha',
  'eval',
  'script|load',
  'script|exists',
  // The cluster client's discovery of the slots' masters (a `redis+cluster://` REDIS_URL).
  'cluster|slots',
  'cluster|info',
  'get',
  'set',
  'del',
  'incr',
  'pexpire',
  'hget',
  'hset',
  'hdel',
  'hmget',
  'hgetall',
  'hlen',
  'hincrby',
  'hincrbyfloat',
  'hexists',
  'sadd',
  'smembers',
] as const;
