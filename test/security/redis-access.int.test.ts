/**
 * Redis users of the local stack (issue 12, item 4): the default user is disabled, unauthenticated clients
 * are refused, and each service user is confined to its key prefix and the commands it uses.
 */
import { REDIS_USERS, redisSecret, resolveConfig } from '@ondijon/stack';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup, deleteRedisKeys, testEndpoints, uniqueName, usesStackSecrets } from '../setup/index';

const endpoints = testEndpoints();
const local = usesStackSecrets(endpoints);
const cleanup = new Cleanup();
const port = new URL(endpoints.redisUrl).port;
const run = uniqueName('redis-acl');

function client(username?: string, password?: string): Redis {
  const redis = new Redis({
    host: '127.0.0.1',
    port: Number(port),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
  redis.on('error', () => undefined);
  cleanup.add(() => redis.disconnect());
  return redis;
}

describe.skipIf(!local)('Redis users', () => {
  const config = resolveConfig({ externalRedis: undefined });
  afterAll(async () => {
    const admin = new Redis(endpoints.redisUrl);
    await deleteRedisKeys(admin, `processors:${run}:`);
    admin.disconnect();
    await cleanup.run();
  });

  it('refuses an unauthenticated client and the default user', async () => {
    const anonymous = client();
    await anonymous.connect();
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    await expect(anonymous.get(`processors:${run}:x`)).rejects.toThrow(/NOAUTH/);
    // The default user is off: AUTH as it fails whatever the password (Redis answers WRONGPASS).
    await expect(anonymous.call('AUTH', 'default', 'anything')).rejects.toThrow(/WRONGPASS/);
    await expect(anonymous.call('AUTH', 'anything')).rejects.toThrow(/WRONGPASS/);
  });

  it('refuses a wrong password and accepts the right one', async () => {
    const wrong = client();
    await wrong.connect();
    await expect(wrong.call('AUTH', 'processors', 'not-the-password')).rejects.toThrow(/WRONGPASS/);
    await expect(wrong.call('AUTH', 'processors', redisSecret(config, 'processors').value)).resolves.toBe(
      'OK',
    );
  });

  it('confines the processors user to processors:* and the commands the stream runtime uses', async () => {
    const processors = client('processors', redisSecret(config, 'processors').value);
    await processors.connect();
    const mine = `processors:${run}:state`;
    expect(await processors.hset(mine, 'v', '1')).toBe(1);
    expect(await processors.hmget(mine, 'v')).toEqual(['1']);
    // Its Lua scripts run (EVAL/EVALSHA) on its own keys, and are refused on anyone else's.
    expect(await processors.eval("return redis.call('HGET', KEYS[1], 'v')", 1, mine)).toBe('1');
    await expect(processors.eval("return redis.call('GET', KEYS[1])", 1, `ingest:${run}`)).rejects.toThrow(
      /NOPERM/,
    );
    // Outside its prefix: refused, reads and writes alike.
    await expect(processors.set(`publisher:${run}:x`, '1')).rejects.toThrow(/NOPERM/);
    await expect(processors.get(`other:${run}`)).rejects.toThrow(/NOPERM/);
    // Commands it never uses: refused even on its own keys.
    await expect(processors.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(processors.flushall()).rejects.toThrow(/NOPERM/);
    await expect(processors.config('GET', 'dir')).rejects.toThrow(/NOPERM/);
    await expect(processors.call('ACL', 'LIST')).rejects.toThrow(/NOPERM/);
    await expect(processors.rename(mine, `processors:${run}:moved`)).rejects.toThrow(/NOPERM/);
  });

  it('confines the publisher user to publisher:* and the commands of its shared state', async () => {
    const publisher = client('publisher', redisSecret(config, 'publisher').value);
    await publisher.connect();
    const mine = `publisher:{${run}}:meta:x`;
    expect(await publisher.hset(mine, 'v', '1')).toBe(1);
    expect(await publisher.hincrbyfloat(mine, 'e', '0.5')).toBe('0.5');
    expect(await publisher.eval("return redis.call('HGET', KEYS[1], 'v')", 1, mine)).toBe('1');
    await expect(publisher.eval("return redis.call('GET', KEYS[1])", 1, `processors:${run}`)).rejects.toThrow(
      /NOPERM/,
    );
    await expect(publisher.set(`processors:${run}:x`, '1')).rejects.toThrow(/NOPERM/);
    await expect(publisher.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(publisher.flushall()).rejects.toThrow(/NOPERM/);
    await expect(publisher.call('ACL', 'LIST')).rejects.toThrow(/NOPERM/);
    await publisher.del(mine);
  });

  it('has a user per Redis-using service and an admin, nothing else', async () => {
    const admin = new Redis(endpoints.redisUrl);
    cleanup.add(() => admin.disconnect());
    const users = ((await admin.call('ACL', 'USERS')) as string[]).sort();
    expect(users).toEqual([...Object.keys(REDIS_USERS), 'default'].sort());
    const rules = (await admin.call('ACL', 'LIST')) as string[];
    expect(rules.find((r) => r.startsWith('user default '))).toMatch(/ off /);
  });
});
