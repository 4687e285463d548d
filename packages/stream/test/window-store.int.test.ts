// The two window stores keep the same rules: one sequence of operations (writes, conflicts, a
// duplicate id, fencing, a replay, closing, a late write to a closed window, acknowledgements,
// announced partitions) gives
// the same answers from the in-memory store (the harness's) and from the Redis scripts (the runtime's).
import { deleteRedisKeys, testEndpoints, uniqueName } from '@ondijon/test-kit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryWindowStore } from '../src/memory-store';
import { RedisWindowStore } from '../src/index';
import type { WindowStore, WindowWrite } from '../src/window-store';

const HOUR = 3_600_000;
const write = (
  wk: string,
  start: number,
  expectedVersion: number,
  ids: string[],
  n: number,
): WindowWrite => ({
  wk,
  expectedVersion,
  state: { acc: { n }, meta: { records: n } } as never,
  group: { g: wk.split('|')[1] },
  start,
  end: start + HOUR,
  ids,
});

/** Runs the sequence on a store; returns every answer, sets sorted (Redis returns them in any order). */
async function script(store: WindowStore): Promise<unknown[]> {
  const log: unknown[] = [];
  const tp = 'tel.s1.lighting.v1:0';
  const tp1 = 'tel.s1.lighting.v1:1';
  const first = await store.claim(tp);
  const other = await store.claim(tp1);
  log.push(first, other);
  const chunk = (first0: number, last: number, prev: bigint | undefined, epoch = first.epoch, t = tp) => ({
    tp: t,
    epoch,
    firstOffset: String(first0),
    lastOffset: String(last),
    prevOffset: prev,
    wallNow: 1_000,
  });
  const apply = (c: ReturnType<typeof chunk>, maxEventTime: number, windows: WindowWrite[]) =>
    store.apply({ ...c, maxEventTime, ttlMs: 60_000, graceMs: 60_000, windows });
  log.push(
    await apply(chunk(0, 4, undefined), 10, [
      write('0|a', 0, 0, ['e1', 'e2'], 2),
      write('0|b', 0, 0, ['e3'], 1),
    ]),
  );
  // A stale version, and an id already counted: a conflict naming both, nothing written.
  log.push(await apply(chunk(5, 9, 4n), 20, [write('0|a', 0, 0, ['e4'], 3), write('0|b', 0, 1, ['e3'], 2)]));
  log.push(await apply(chunk(5, 9, 4n), 30 * 60_000, [write('0|a', 0, 1, ['e4'], 3)]));
  // A replay, and a writer that lost what it applied.
  log.push(await apply(chunk(3, 9, 4n), 20, [write('0|a', 0, 2, ['e5'], 4)]));
  log.push(await store.advance({ ...chunk(10, 12, 4n), maxEventTime: 20 }));
  log.push(await store.advance({ ...chunk(10, 12, 9n), maxEventTime: undefined }));
  log.push(await store.watermark(1_500, 10_000));
  // The other partition moves to 2 h: the watermark is its minimum, 30 min on partition 0.
  log.push(await store.advance({ ...chunk(0, 0, undefined, other.epoch, tp1), maxEventTime: 2 * HOUR }));
  log.push(await store.watermark(1_500, 10_000));
  log.push(await store.close(30 * 60_000, 100));
  // Partition 0 moves on: the 0:00 windows close (end + grace = 1 h 1 min).
  log.push(await apply(chunk(13, 13, 12n), 90 * 60_000, [write(`${HOUR}|a`, HOUR, 0, ['e6'], 1)]));
  const wm = await store.watermark(1_500, 10_000);
  log.push(wm, await store.close(wm.value, 100));
  const pending = [...(await store.pending(100))].sort();
  log.push(pending, await store.read(pending), await store.backlog());
  // A late write to a closed window, while its result is in flight: acknowledged, it stays dirty.
  const rows = await store.read(pending);
  log.push(await apply(chunk(14, 14, 13n), 10, [write('0|a', 0, rows[0]!.version, ['e7'], 4)]));
  await store.ack(rows.map((r) => ({ wk: r.wk, version: r.version, revision: r.revision + 1 })));
  log.push([...(await store.pending(100))].sort(), await store.backlog(), await store.read(['0|a', '0|b']));
  // Everything idle: +Infinity closes all.
  const idle = await store.watermark(1_000_000, 10_000);
  log.push(idle, await store.close(idle.value, 100), await store.backlog());
  // Fenced: another instance claimed partition 0.
  await store.claim(tp);
  log.push(await apply(chunk(15, 15, 14n), 10, [write('0|c', 0, 0, ['e8'], 1)]));
  log.push(await store.lock('me', 3_000), await store.lock('you', 3_000));
  await store.unlock('me');
  log.push(await store.lock('you', 3_000));
  // A partition with records queued up to offset 5 holds the watermark while everything else is idle:
  // at -Infinity before its first chunk, at its stream time while applied up to 3 (however long ago),
  // and no more once applied up to 5 (then idle after idleMs like the others).
  const tp2 = 'tel.s1.lighting.v1:2';
  await store.announce(tp2, '5');
  await store.announce(tp2, '2'); // an older batch announced later changes nothing
  log.push(await store.watermark(1_000_001, 10_000));
  const third = await store.claim(tp2);
  const part = { ...chunk(0, 3, undefined, third.epoch, tp2), wallNow: 1_000_002 };
  log.push(await store.advance({ ...part, maxEventTime: 3 * HOUR }));
  log.push(await store.watermark(1_100_000, 10_000));
  const rest = { ...chunk(4, 5, 3n, third.epoch, tp2), wallNow: 1_000_003 };
  log.push(await store.advance({ ...rest, maxEventTime: 3 * HOUR }));
  log.push(await store.watermark(1_100_000, 10_000));
  // Kafka's log ranges: partition 2 holds records 6 and 7 that nobody applied (its instance died before
  // fetching them): it holds the watermark at its stream time however long it has been quiet; once its
  // log ends at 6 (applied up to 5) it is idle again. A partition never applied (records 0 to 2 of
  // partition 3) holds nothing: a group that starts from the end never reads them.
  const ranges = (end2: bigint, end3: bigint) =>
    new Map([
      [tp2, end2],
      ['tel.s1.lighting.v1:3', end3],
    ]);
  log.push(
    await store.watermark(1_100_000, 10_000, ranges(8n, 3n)),
    await store.watermark(1_100_000, 10_000, ranges(6n, 3n)),
    await store.watermark(1_100_000, 10_000, ranges(6n, 0n)),
    await store.watermark(1_100_000, 10_000, ranges(8n, 0n)),
  );
  return log;
}

describe('window stores: memory and Redis', () => {
  const redis = new Redis(testEndpoints().redisUrl);
  const prefix = `${uniqueName('wsc')}:`;
  afterAll(async () => {
    await deleteRedisKeys(redis, prefix);
    await redis.quit();
  });

  it('answer the same sequence of operations identically', async () => {
    const memory = await script(new MemoryWindowStore());
    const onRedis = await script(new RedisWindowStore(redis, prefix, 'p'));
    expect(onRedis).toEqual(memory);
    // The sequence reaches every answer it means to (a sequence of no-ops would agree too).
    expect(memory.map((a) => (a as { status?: string }).status).filter(Boolean)).toEqual([
      'ok',
      'conflict',
      'ok',
      'stale',
      'behind',
      'ok',
      'ok',
      'ok',
      'ok',
      'fenced',
      'ok',
      'ok',
    ]);
    expect(
      memory.slice(-9, -4).map((w) => (w as { value?: number }).value ?? (w as { status: string }).status),
    ).toEqual([Number.NEGATIVE_INFINITY, 'ok', 3 * HOUR, 'ok', Number.POSITIVE_INFINITY]);
    expect(memory.slice(-4).map((w) => (w as { value: number }).value)).toEqual([
      3 * HOUR,
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      3 * HOUR,
    ]);
  });
});
