// The state scripts' guard against a Redis that went back in time (it lost its latest writes in a
// crash, the AOF tail not yet synced): a writer passes the offset it last applied, and a store whose
// offset differs answers `behind` with what it holds and writes nothing.
import { deleteRedisKeys, testEndpoints, uniqueName } from '@ondijon/test-kit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { eventId } from '@ondijon/contracts';
import { RedisWindowStore } from '../src/index';
import { dedupeMember } from '../src/runtime/redis-store';

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

  it("keeps a window's event ids as integers (an intset) and names a duplicate by its event id", async () => {
    const store = new RedisWindowStore(redis, prefix, 'ids');
    const tp = 'tel.s1.lighting.v1:0';
    const { epoch } = await store.claim(tp);
    const ids = Array.from({ length: 600 }, (_, i) => eventId(`SL-${i % 40}`, i));
    const apply = (first: number, version: number, batch: string[]) =>
      store.apply({
        tp,
        epoch,
        firstOffset: String(first),
        lastOffset: String(first + batch.length - 1),
        prevOffset: first === 0 ? undefined : BigInt(first - 1),
        maxEventTime: 1,
        wallNow: Date.now(),
        ttlMs: 60_000,
        graceMs: 0,
        windows: [{ ...window(batch, version), wk: '0|ids' }],
      });
    expect(await apply(0, 0, ids)).toEqual({ status: 'ok' });
    const set = `${prefix}{ids}:ids:0|ids`;
    expect(await redis.scard(set)).toBe(600);
    // Integers of 60 bits: more than the default 512 members and still an intset (infra/redis/redis.conf).
    expect(await redis.call('OBJECT', 'ENCODING', set)).toBe('intset');
    expect(await redis.sismember(set, dedupeMember(ids[7]!))).toBe(1);
    // A redelivered event (and one that is not a UUID) is found and named as the runtime knows it.
    expect(await apply(600, 1, ['other-id'])).toEqual({ status: 'ok' });
    expect(await apply(601, 2, [ids[7]!, 'other-id', eventId('SL-new', 1)])).toEqual({
      status: 'conflict',
      windows: [],
      duplicates: [
        { wk: '0|ids', id: ids[7] },
        { wk: '0|ids', id: 'other-id' },
      ],
    });
  });

  it('gives each event id a 60-bit integer member, the same every time', () => {
    const a = eventId('SL-1', 1);
    expect(dedupeMember(a)).toBe(dedupeMember(a));
    expect(dedupeMember(a)).toMatch(/^\d+$/);
    expect(BigInt(dedupeMember(a)) < 2n ** 60n).toBe(true);
    expect(BigInt(dedupeMember('not-a-uuid')) < 2n ** 60n).toBe(true);
    const members = new Set(
      Array.from({ length: 100_000 }, (_, i) => dedupeMember(eventId(`SL-${i % 97}`, i))),
    );
    expect(members.size).toBe(100_000);
    // The hash digits of the UUID, without its version digit: two ids differing only there collide by design
    // (ingest never writes another version).
    expect(dedupeMember('12345678-9abc-5def-8123-456789abcdef')).toBe(BigInt('0x123456789abcdef').toString());
  });
});
