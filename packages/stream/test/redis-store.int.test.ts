// The state scripts' guard against a Redis that went back in time (it lost its latest writes in a
// crash, the AOF tail not yet synced): a writer passes the offset it last applied, and a store whose
// offset differs answers `behind` with what it holds and writes nothing.
import { deleteRedisKeys, testEndpoints, uniqueName } from '@ondijon/test-kit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisWindowStore } from '../src/index';

describe('RedisWindowStore offsets', () => {
  const redis = new Redis(testEndpoints().redisUrl);
  const prefix = `${uniqueName('rws')}:`;
  afterAll(async () => {
    await deleteRedisKeys(redis, prefix);
    await redis.quit();
  });

  const window = (ids: string[], expectedVersion: number) => ({
    wk: '0|a',
    expectedVersion,
    state: { acc: { n: ids.length }, meta: {} } as never,
    group: { g: 'a' },
    start: 0,
    end: 3_600_000,
    ids,
  });

  it('answers behind, and writes nothing, when the stored offset is not the one the writer applied', async () => {
    const store = new RedisWindowStore(redis, prefix, 'p');
    const tp = 'tel.s1.lighting.v1:0';
    const { epoch, offset } = await store.claim(tp);
    expect(offset).toBeUndefined();
    const apply = (
      first: number,
      last: number,
      prev: bigint | undefined,
      version: number,
      id = `e${first}`,
    ) =>
      store.apply({
        tp,
        epoch,
        firstOffset: String(first),
        lastOffset: String(last),
        prevOffset: prev,
        maxEventTime: 1,
        wallNow: Date.now(),
        ttlMs: 60_000,
        graceMs: 0,
        windows: [window([id], version)],
      });
    expect(await apply(0, 9, undefined, 0)).toEqual({ status: 'ok' });
    expect(await apply(10, 19, 9n, 1)).toEqual({ status: 'ok' });
    // Redis lost the second write (its offset with it): the writer, which applied up to 19, is told.
    await redis.hset(`${prefix}{p}:offset`, tp, '9');
    expect(await apply(20, 29, 19n, 2)).toEqual({ status: 'behind', offset: '9' });
    expect(
      await store.advance({
        tp,
        epoch,
        firstOffset: '20',
        lastOffset: '29',
        prevOffset: 19n,
        maxEventTime: 1,
        wallNow: Date.now(),
      }),
    ).toEqual({ status: 'behind', offset: '9' });
    expect(await redis.hget(`${prefix}{p}:offset`, tp)).toBe('9');
    expect((await store.read(['0|a']))[0]!.version).toBe(2);
    // Replaying from the record after the stored offset goes through (a new event id here: this test
    // rolled back the offset only, a real loss takes the event ids with it).
    expect(await apply(10, 19, 9n, 2, 'replayed')).toEqual({ status: 'ok' });
    // Everything lost: no stored offset at all.
    await redis.hdel(`${prefix}{p}:offset`, tp);
    expect(await apply(20, 29, 19n, 3)).toEqual({ status: 'behind', offset: '' });
    // A replay of what is stored is still `stale` (another owner applied it), not `behind`.
    await redis.hset(`${prefix}{p}:offset`, tp, '19');
    expect(await apply(10, 19, 9n, 3)).toEqual({ status: 'stale', offset: '19' });
  });
});
