import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { infraDir, type StackConfig } from './config';
import { startDetached, type PidRecord } from './proc';
import { redisAclFile } from './secrets';

/** Folder of the local Redis (AOF, snapshot, log, pid). */
export function redisDir(config: StackConfig): string {
  return path.join(config.dir, 'redis');
}

/** Pid file of the local Redis. */
export function redisPidFile(config: StackConfig): string {
  return path.join(redisDir(config), 'redis.pid.json');
}

/**
 * Starts the local Redis with infra/redis/redis.conf (AOF on) and the generated ACL file of
 * `.stack/secrets` (default user off, one user per service) in the background (does not wait).
 */
export function startRedis(config: StackConfig, binary: string): PidRecord {
  const dir = redisDir(config);
  mkdirSync(dir, { recursive: true });
  return startDetached({
    command: binary,
    args: [
      path.join(infraDir, 'redis', 'redis.conf'),
      '--port',
      String(config.redisPort),
      '--dir',
      dir,
      '--logfile',
      path.join(dir, 'redis.log'),
      '--aclfile',
      redisAclFile(config),
    ],
    cwd: dir,
    logFile: path.join(dir, 'stdout.log'),
    pidFile: redisPidFile(config),
    // Redis rewrites its process title to "redis-server 127.0.0.1:<port>": match on what both forms contain.
    fingerprint: ['redis-server', String(config.redisPort)],
  });
}
