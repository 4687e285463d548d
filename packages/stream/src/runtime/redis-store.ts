import { createHash } from 'node:crypto';
import { OnDijonError } from '@ondijon/contracts';
import type { WindowState } from '../engine';
import {
  behindOf,
  watermarkOf,
  type AdvanceArgs,
  type ApplyArgs,
  type ApplyOutcome,
  type StoredWindow,
  type Watermark,
  type WindowStore,
} from '../window-store';
import type { StreamRedis } from './redis-client';
import { ACK, ADVANCE, ANNOUNCE, APPLY, CLAIM, CLOSE, LOCK, UNLOCK } from './scripts';

export type { ApplyOutcome, StoredWindow, Watermark, WindowWrite } from '../window-store';

type Cmd = (...args: (string | number)[]) => Promise<unknown>;

/** The first 15 hex digits of the hash in a UUID-shaped id (8-4-4-4-12), the version digit left out. */
function uuidHashDigits(id: string): string | undefined {
  if (id.length !== 36 || id[8] !== '-' || id[13] !== '-' || id[18] !== '-' || id[23] !== '-')
    return undefined;
  const hex = id.slice(0, 8) + id.slice(9, 13) + id.slice(15, 18);
  return /^[0-9a-f]{15}$/.test(hex) ? hex : undefined;
}

/**
 * The member an event id is in a window's dedupe set: a decimal integer of 60 bits of the id, so that
 * Redis keeps a window's set as an intset (8 bytes a member, up to `set-max-intset-entries`,
 * infra/redis/redis.conf) instead of a hashtable of 36-character strings (~90 bytes a member,
 * `pnpm bench:bytes`, docs/capacity.md "Redis window state"). Ingest's ids are SHA-1-based UUIDs: the
 * 60 bits are the hash's (the version digit left out); any other id (a conflict's, a test's) is hashed
 * (SHA-256) to 60 bits. Two ids of one window taking the same member has a probability of about n²/2⁶¹
 * for n ids (10⁻¹⁰ for 10 000).
 */
export function dedupeMember(id: string): string {
  const hex = uuidHashDigits(id) ?? createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 15);
  return BigInt(`0x${hex}`).toString();
}

/**
 * The Redis state of one processor: keys `<prefix>{<processor>}:…` (one hash tag per processor, so
 * its scripts touch one Redis Cluster slot). All writes go through the Lua scripts of `scripts.ts`.
 */
export class RedisWindowStore implements WindowStore {
  readonly base: string;
  private readonly keys: Record<
    'offset' | 'epoch' | 'stime' | 'swall' | 'queued' | 'open' | 'closing' | 'dirty' | 'lock' | 'w' | 'ids',
    string
  >;
  private readonly cmds: Record<
    'claim' | 'announce' | 'apply' | 'advance' | 'close' | 'ack' | 'lock' | 'unlock',
    Cmd
  >;

  constructor(
    private readonly redis: StreamRedis,
    keyPrefix: string,
    processor: string,
  ) {
    this.base = `${keyPrefix}{${processor}}`;
    const b = this.base;
    this.keys = {
      offset: `${b}:offset`,
      epoch: `${b}:epoch`,
      stime: `${b}:stime`,
      swall: `${b}:swall`,
      queued: `${b}:queued`,
      open: `${b}:open`,
      closing: `${b}:closing`,
      dirty: `${b}:dirty`,
      lock: `${b}:lock`,
      w: `${b}:w:`,
      ids: `${b}:ids:`,
    };
    const define = (name: string, lua: string, numberOfKeys: number): Cmd => {
      const cmd = `ondijonStream_${name}`;
      if (!(cmd in redis)) redis.defineCommand(cmd, { lua, numberOfKeys });
      const fn = (redis as unknown as Record<string, Cmd>)[cmd]!;
      return (...args) => fn.apply(redis, args);
    };
    this.cmds = {
      claim: define('claim', CLAIM, 2),
      announce: define('announce', ANNOUNCE, 1),
      apply: define('apply', APPLY, 6),
      advance: define('advance', ADVANCE, 4),
      close: define('close', CLOSE, 2),
      ack: define('ack', ACK, 2),
      lock: define('lock', LOCK, 1),
      unlock: define('unlock', UNLOCK, 1),
    };
  }

  /** Claims a partition: bumps its epoch and returns it with the last applied offset. */
  async claim(tp: string): Promise<{ epoch: string; offset: bigint | undefined }> {
    const [epoch, offset] = (await this.cmds.claim(this.keys.epoch, this.keys.offset, tp)) as [
      string,
      string,
    ];
    return { epoch, offset: offset === '' ? undefined : BigInt(offset) };
  }

  /** Records of a partition up to `lastOffset` were queued here: it is behind until applied (see ANNOUNCE). */
  async announce(tp: string, lastOffset: string): Promise<void> {
    await this.cmds.announce(this.keys.queued, tp, lastOffset);
  }

  /** Reads windows (state, version, closed flag, revision). */
  async read(wks: string[]): Promise<StoredWindow[]> {
    if (wks.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const wk of wks) pipe.hmget(this.keys.w + wk, 's', 'v', 'c', 'r', 'g', 'ws', 'we');
    const res = (await pipe.exec()) ?? [];
    return wks.map((wk, i) => {
      const [err, row] = res[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const [s, v, c, r, g, ws, we] = row as (string | null)[];
      return {
        wk,
        state: s ? (JSON.parse(s) as WindowState) : undefined,
        version: v ? Number(v) : 0,
        closed: c === '1',
        revision: r ? Number(r) : -1,
        group: g ? JSON.parse(g) : undefined,
        start: Number(ws ?? 0),
        end: Number(we ?? 0),
      };
    });
  }

  /** Applies a chunk (see APPLY). */
  async apply(a: ApplyArgs): Promise<ApplyOutcome> {
    const k = this.keys;
    const args: (string | number)[] = [k.offset, k.epoch, k.stime, k.swall, k.open, k.dirty];
    args.push(
      a.tp,
      a.epoch,
      a.firstOffset,
      a.lastOffset,
      String(a.maxEventTime),
      String(a.wallNow),
      String(a.ttlMs),
      k.w,
      k.ids,
      String(a.graceMs),
      a.prevOffset === undefined ? '' : a.prevOffset.toString(),
    );
    args.push(String(a.windows.length));
    for (const w of a.windows) {
      const members = w.ids.map(dedupeMember);
      args.push(
        w.wk,
        String(w.expectedVersion),
        JSON.stringify(w.state),
        JSON.stringify(w.group),
        String(w.start),
        String(w.end),
        String(members.length),
        ...members,
      );
    }
    const res = (await this.cmds.apply(...args)) as [string, ...unknown[]];
    // A duplicate is named by its event id: the members mapped back only then (a conflict is rare).
    return parseOutcome(
      res,
      () => new Map(a.windows.flatMap((w) => w.ids.map((id) => [dedupeMember(id), id]))),
    );
  }

  /** Stores a chunk's offset when it touched no window. */
  async advance(a: AdvanceArgs): Promise<ApplyOutcome> {
    const k = this.keys;
    const res = (await this.cmds.advance(
      k.offset,
      k.epoch,
      k.stime,
      k.swall,
      a.tp,
      a.epoch,
      a.firstOffset,
      a.lastOffset,
      a.maxEventTime === undefined ? '' : String(a.maxEventTime),
      String(a.wallNow),
      a.prevOffset === undefined ? '' : a.prevOffset.toString(),
    )) as [string, ...unknown[]];
    return parseOutcome(res);
  }

  /**
   * Watermark: the minimum stream time over active partitions (window-store.ts, watermarkOf): behind
   * (records queued past the stored offset) or with a record within `idleMs` of wall-clock time.
   */
  async watermark(wallNow: number, idleMs: number, ends?: ReadonlyMap<string, bigint>): Promise<Watermark> {
    const [stimes, walls, offsets, queued] = await Promise.all([
      this.redis.hgetall(this.keys.stime),
      this.redis.hgetall(this.keys.swall),
      this.redis.hgetall(this.keys.offset),
      this.redis.hgetall(this.keys.queued),
    ]);
    const num = (h: Record<string, string>) => new Map(Object.entries(h).map(([tp, v]) => [tp, Number(v)]));
    const big = (h: Record<string, string>) => new Map(Object.entries(h).map(([tp, v]) => [tp, BigInt(v)]));
    return watermarkOf(num(stimes), num(walls), behindOf(big(offsets), big(queued), ends), wallNow, idleMs);
  }

  /** Closes the windows due at `maxScore` (window end + grace ≤ watermark), at most `limit`; returns how many. */
  async close(maxScore: number, limit: number): Promise<number> {
    const score = maxScore === Number.POSITIVE_INFINITY ? '+inf' : String(maxScore);
    return (await this.cmds.close(this.keys.open, this.keys.closing, score, limit, this.keys.w)) as number;
  }

  /** Windows to emit: closed but not yet acknowledged, and changed after their last emission (revisions). */
  async pending(limit: number): Promise<string[]> {
    const [closing, dirty] = await Promise.all([
      this.redis.srandmember(this.keys.closing, limit),
      this.redis.srandmember(this.keys.dirty, limit),
    ]);
    return [...new Set([...closing, ...dirty])];
  }

  /** Records that the results of windows were acknowledged by Kafka at these revisions. */
  async ack(items: { wk: string; version: number; revision: number }[]): Promise<void> {
    for (let i = 0; i < items.length; i += 200) {
      const args: (string | number)[] = [this.keys.closing, this.keys.dirty, this.keys.w];
      for (const it of items.slice(i, i + 200)) args.push(it.wk, String(it.version), String(it.revision));
      await this.cmds.ack(...args);
    }
  }

  /** Takes or renews the emitter lock for `owner`. */
  async lock(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.cmds.lock(this.keys.lock, owner, ttlMs)) === 1;
  }

  /** Releases the emitter lock. */
  async unlock(owner: string): Promise<void> {
    await this.cmds.unlock(this.keys.lock, owner);
  }

  /** Windows open (not yet closed), closing (result not yet acknowledged) and dirty (awaiting a revision). */
  async backlog(): Promise<{ open: number; closing: number; dirty: number }> {
    const [open, closing, dirty] = await Promise.all([
      this.redis.zcard(this.keys.open),
      this.redis.scard(this.keys.closing),
      this.redis.scard(this.keys.dirty),
    ]);
    return { open, closing, dirty };
  }
}

function parseOutcome(
  res: [string, ...unknown[]],
  idsOfMembers?: () => ReadonlyMap<string, string>,
): ApplyOutcome {
  switch (res[0]) {
    case 'ok':
      return { status: 'ok' };
    case 'fenced':
      return { status: 'fenced', epoch: String(res[1]) };
    case 'stale':
      return { status: 'stale', offset: String(res[1]) };
    case 'behind':
      return { status: 'behind', offset: String(res[1]) };
    case 'conflict': {
      const windows = (res[1] as string[]) ?? [];
      const idOf = idsOfMembers?.();
      const duplicates = ((res[2] as string[]) ?? []).map((s) => {
        const i = s.indexOf('\n');
        const member = s.slice(i + 1);
        return { wk: s.slice(0, i), id: idOf?.get(member) ?? member };
      });
      return { status: 'conflict', windows, duplicates };
    }
    default:
      throw new OnDijonError('ONDIJON_REDIS_UNAVAILABLE', `unexpected state script reply ${String(res[0])}`);
  }
}
