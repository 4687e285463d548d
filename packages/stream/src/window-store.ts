import type { WindowState } from './engine';

// The state store contract of the window engine. Two implementations keep the same rules:
// runtime/redis-store.ts (Lua scripts, shared by every instance) and memory-store.ts (the harness).
// Methods may answer synchronously (memory) or with a promise (Redis): callers await them.

/** One window's new state, written with the chunk's offset. */
export interface WindowWrite {
  wk: string;
  /** The version the planner read; the write is refused (conflict) when the stored one differs. */
  expectedVersion: number;
  state: WindowState;
  group: unknown;
  start: number;
  end: number;
  /** Event ids folded by this write (added to the window's dedupe set). */
  ids: string[];
}

/** A window as stored. */
export interface StoredWindow {
  wk: string;
  state: WindowState | undefined;
  version: number;
  closed: boolean;
  /** Last revision acknowledged by Kafka, -1 before the first. */
  revision: number;
  group: unknown;
  start: number;
  end: number;
}

/** Outcome of `apply` / `advance`. */
export type ApplyOutcome =
  | { status: 'ok' }
  | { status: 'fenced'; epoch: string }
  | { status: 'stale'; offset: string }
  /** The store holds an older offset than the writer last applied (it lost writes): '' when none. */
  | { status: 'behind'; offset: string }
  | { status: 'conflict'; windows: string[]; duplicates: { wk: string; id: string }[] };

/** Watermark of a processor across its input partitions. */
export interface Watermark {
  /** Minimum stream time over active partitions; +Infinity when every partition is idle (flush all). */
  value: number;
  /** Maximum stream time seen on any partition. */
  max: number;
  /** Partitions known. */
  partitions: number;
}

/** The arguments of `apply` (`advance` takes the same without windows). */
export interface ApplyArgs {
  /** `<logical topic>:<partition>`. */
  tp: string;
  epoch: string;
  firstOffset: string;
  lastOffset: string;
  /** The offset this writer last applied (or read at its claim); undefined: none. */
  prevOffset: bigint | undefined;
  maxEventTime: number;
  wallNow: number;
  ttlMs: number;
  graceMs: number;
  windows: WindowWrite[];
}

/** The arguments of `advance`: a chunk that touched no window. */
export interface AdvanceArgs {
  tp: string;
  epoch: string;
  firstOffset: string;
  lastOffset: string;
  prevOffset: bigint | undefined;
  /** Undefined when every record of the chunk was a dead letter. */
  maxEventTime: number | undefined;
  wallNow: number;
}

type Answer<T> = T | Promise<T>;

/** The state of one windowed processor: windows, dedupe sets, offsets, stream times, emitter queues. */
export interface WindowStore {
  /** Claims a partition: bumps its epoch and returns it with the last applied offset. */
  claim(tp: string): Answer<{ epoch: string; offset: bigint | undefined }>;
  /** Reads windows (a window never written reads as version 0 without state). */
  read(wks: string[]): Answer<StoredWindow[]>;
  /**
   * Writes a chunk's windows and offset atomically, or nothing and says why: fenced (another owner
   * claimed the partition), stale (a replay), behind (the store lost writes), conflict (a window
   * changed since read, or an event id is already counted).
   */
  apply(a: ApplyArgs): Answer<ApplyOutcome>;
  /** Stores a chunk's offset when it touched no window (same checks as `apply`). */
  advance(a: AdvanceArgs): Answer<ApplyOutcome>;
  /**
   * An instance queued records of a partition up to `lastOffset`: the partition is behind, and holds
   * the watermark, until the offset stored with the state reaches it.
   */
  announce(tp: string, lastOffset: string): Answer<void>;
  /**
   * Minimum stream time over active partitions (behind, or a record within `idleMs` of wall-clock
   * time); +Infinity when all are idle (the wall-clock flush); -Infinity while an active partition
   * has no stream time yet (see `watermarkOf`).
   */
  watermark(wallNow: number, idleMs: number, ends?: ReadonlyMap<string, bigint>): Answer<Watermark>;
  /** Closes the open windows whose end + grace ≤ `maxScore`, at most `limit`; returns how many. */
  close(maxScore: number, limit: number): Answer<number>;
  /** Windows to emit: closed and not acknowledged, or changed since their last emission (revisions). */
  pending(limit: number): Answer<string[]>;
  /** Records that the results of windows were acknowledged by Kafka at these revisions. */
  ack(items: { wk: string; version: number; revision: number }[]): Answer<void>;
  /** Takes or renews the emitter lock for `owner` (one emitting instance per processor). */
  lock(owner: string, ttlMs: number): Answer<boolean>;
  unlock(owner: string): Answer<void>;
  /** Windows open, closing (result not acknowledged) and dirty (awaiting a revision). */
  backlog(): Answer<{ open: number; closing: number; dirty: number }>;
}

/**
 * Partitions applied before that have records in Kafka past the offset stored with the state (its end
 * past `stored + 1`): records no instance has applied, whether or not one fetched them. A partition whose
 * instance died holds such records until another takes it over (the group's session timeout, 30 s);
 * without this it turned idle after `idleMs` of wall-clock time, the watermark passed its windows, and
 * they were emitted without its records, then revised (a release made in between had the first values:
 * scale-out-kill, processors SIGKILLed with idleFlushMs 5 s). A partition never applied is left out: a
 * group that starts from the end of its topics never reads the records already there. Topics are
 * written without transactions, so a partition's end (the next offset to be written) is its last record's
 * offset + 1.
 */
export function laggingOf(
  offsets: ReadonlyMap<string, bigint>,
  ends: ReadonlyMap<string, bigint>,
): Set<string> {
  const lagging = new Set<string>();
  for (const [tp, high] of ends) {
    const stored = offsets.get(tp);
    if (stored !== undefined && high > stored + 1n) lagging.add(tp);
  }
  return lagging;
}

/**
 * Partitions behind: records queued (announced) past the offset stored with the state, and, given Kafka's
 * end offsets, the partitions lagging there (`laggingOf`).
 */
export function behindOf(
  offsets: ReadonlyMap<string, bigint>,
  queued: ReadonlyMap<string, bigint>,
  ends?: ReadonlyMap<string, bigint>,
): Set<string> {
  const behind = ends ? laggingOf(offsets, ends) : new Set<string>();
  for (const [tp, last] of queued) {
    const stored = offsets.get(tp);
    if (stored === undefined || last > stored) behind.add(tp);
  }
  return behind;
}

/**
 * The watermark from the stored stream times, their wall-clock times and the partitions behind
 * (both stores compute it here). A partition is active while it is behind (an instance queued
 * records of it that are not applied yet) or received a record within `idleMs`; the watermark is
 * the minimum stream time over active partitions, -Infinity while an active partition has no stream
 * time yet (its records may fall in any window), +Infinity when every partition is idle (the
 * wall-clock flush). Idle means applied up to what was fetched and quiet, not waiting in the queue:
 * before, the partitions applied first ran the watermark ahead while the others' records waited,
 * and those records were late (bench:stream with BENCH_COMPRESSION=gzip: half the records revised
 * as late, each window emitted ~4 times, and the version conflicts the bench stops on).
 */
export function watermarkOf(
  streamTimes: ReadonlyMap<string, number>,
  walls: ReadonlyMap<string, number>,
  behind: ReadonlySet<string>,
  wallNow: number,
  idleMs: number,
): Watermark {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const [tp, st] of streamTimes) {
    max = Math.max(max, st);
    if (behind.has(tp) || wallNow - (walls.get(tp) ?? 0) < idleMs) min = Math.min(min, st);
  }
  for (const tp of behind) if (!streamTimes.has(tp)) min = Number.NEGATIVE_INFINITY;
  const partitions = streamTimes.size;
  return { value: partitions === 0 ? Number.NEGATIVE_INFINITY : min, max, partitions };
}
