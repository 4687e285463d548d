import type { DeadLetter, Envelope, LateRecord, TopicName } from '@ondijon/contracts';
import type { AnyWindowedAggregation } from './define';
import {
  buildAggregate,
  deadLetterFor,
  decode,
  fold,
  groupKey,
  groupsOf,
  initState,
  isLate,
  lateRecordFor,
  type RawRecord,
  type WindowState,
} from './engine';
import type { StoredWindow, Watermark, WindowWrite } from './window-store';
import { windowsFor, type TimeWindow } from './windows';

// The window engine's decisions, pure: which windows a chunk of records changes, which records are
// duplicates, late (revising their window) or routed, and what the emitter produces for the windows
// a store says are due. The Redis runtime (runtime/windowed-apply.ts, runtime/emitter.ts) and the
// in-memory harness (harness.ts) both drive this module over a `WindowStore`; neither decides alone.

/** Default event-time horizon after which a late record can no longer revise its window (6 days). */
export const DEFAULT_REVISE_HORIZON_MS = 6 * 86_400_000;

/** A decoded record of a windowed processor, ready to plan. */
export interface Item {
  raw: RawRecord;
  record: ReturnType<typeof decode> & { ok: true };
  /** The envelope id, or `<topic>:<partition>:<offset>` for values without one (dedupe key). */
  eventId: string;
  /** The record's groups × windows, computed once (reused by every plan of its chunk). */
  targets?: Target[];
}

/** One window and group a record folds into. */
export interface Target {
  group: unknown;
  window: TimeWindow;
  /** `windowStart|groupKey`. */
  wk: string;
}

/** What the planner needs to know of a stored window. */
export interface WindowView {
  version: number;
  state: WindowState | undefined;
  closed: boolean;
}

/** Decodes a chunk of raw records; poison records become dead letters. */
export function decodeItems(
  def: AnyWindowedAggregation,
  tp: string,
  raws: readonly RawRecord[],
): { items: Item[]; letters: DeadLetter[] } {
  const letters: DeadLetter[] = [];
  const items: Item[] = [];
  for (const raw of raws) {
    const d = decode(def, raw);
    if (!d.ok) letters.push(d.deadLetter);
    else items.push({ raw, record: d, eventId: d.envelope?.id ?? `${tp}:${raw.offset}` });
  }
  return { items, letters };
}

/**
 * Shared target lists for the common case, one group per record: per windows list (windowsFor reuses
 * its result for consecutive records of a tumbling window), per group key. Read-only once built.
 */
const sharedTargets = new WeakMap<readonly TimeWindow[], Map<string, Target[]>>();

/** The groups × windows of a decoded record, memoised on the item (throws when the processor's `key` throws). */
export function targetsOf(def: AnyWindowedAggregation, it: Item): Target[] {
  if (it.targets) return it.targets;
  const windows = windowsFor(def.window, it.record.eventTime);
  const g = def.key(it.record.record);
  if (g === undefined || g === null) return (it.targets = []);
  if (!Array.isArray(g)) {
    // Hot path: no allocation per record once the window and group were seen.
    const gk = groupKey(g);
    let byGroup = sharedTargets.get(windows);
    if (!byGroup) sharedTargets.set(windows, (byGroup = new Map()));
    let targets = byGroup.get(gk);
    if (!targets) {
      targets = windows.map((window) => ({ group: g, window, wk: `${window.start}|${gk}` }));
      if (byGroup.size < 10_000) byGroup.set(gk, targets);
    }
    return (it.targets = targets);
  }
  const targets: Target[] = [];
  for (const group of groupsOf(def, it.record.record)) {
    const gk = groupKey(group);
    for (const window of windows) targets.push({ group, window, wk: `${window.start}|${gk}` });
  }
  it.targets = targets;
  return targets;
}

/** The windows a chunk touches (to read those the caller does not hold). Records whose `key` throws are skipped. */
export function touchedWindows(def: AnyWindowedAggregation, items: readonly Item[]): Set<string> {
  const wks = new Set<string>();
  for (const it of items) {
    let targets: Target[];
    try {
      targets = targetsOf(def, it);
    } catch {
      continue; // planned (and dead-lettered) by planChunk
    }
    for (const t of targets) wks.add(t.wk);
  }
  return wks;
}

/** What a chunk of records does to the windows. */
export interface ChunkPlan {
  /** New window states to write atomically with the chunk's offset. */
  writes: WindowWrite[];
  /** Late records no window takes (policy `route`, or older than the revise horizon). */
  routed: LateRecord[];
  /** Records the processor threw on, as dead letters (planned out of `writes`). */
  failed: DeadLetter[];
  /** Late records folded into a closed (or already due) window: a revision follows. */
  lateRevised: number;
  /** Events already counted in their window (same id), not folded again. */
  duplicates: number;
  /** The latest event time of the chunk (stream time), -Infinity when it has no record. */
  maxEventTime: number;
  /** Owned states were folded into and a record failed: nothing to write, plan again (see `owned`). */
  spoiled?: boolean;
}

/** The inputs of `planChunk`. */
export interface PlanInput {
  def: AnyWindowedAggregation;
  items: readonly Item[];
  /** The stored window of a key, as last read (undefined: never written). */
  view: (wk: string) => WindowView | undefined;
  /** The processor's watermark (lateness is judged against it). */
  watermark: number;
  reviseHorizonMs: number;
  /** `wk\nid` pairs the store says are already counted (learnt from a conflicting write). */
  skip?: ReadonlySet<string>;
  /**
   * The states `view` returns belong to the plan: records are folded into them in place, without a
   * copy (the Redis runtime: a window's state is ~80 KB with 1 000 luminaires per commune, and its
   * copy per chunk was as dear as its JSON). The caller then forgets every window of a plan that is
   * not written, and a processor that throws ends the plan (`spoiled`): the caller reads the windows
   * again and plans without the failed records (`exclude`). Default false: each state is copied.
   */
  owned?: boolean;
  /** Offsets of records to leave out (the processor threw on them in an earlier, spoiled plan). */
  exclude?: ReadonlySet<string>;
}

/**
 * Plans a chunk: for each record and each of its windows, in order, the record is
 * - routed when late and the processor routes late records, or its window ended more than the
 *   revise horizon (after grace) before the watermark, whatever the policy;
 * - a duplicate when its event id is already in the window;
 * - folded otherwise, as a late revision when its window is closed or due.
 * A record the processor throws on is dead-lettered and the chunk planned again without it (no
 * partial fold).
 */
export function planChunk(input: PlanInput): ChunkPlan {
  const failedOffsets = new Set<string>(input.exclude);
  const failed: DeadLetter[] = [];
  let maxEventTime = Number.NEGATIVE_INFINITY;
  for (const it of input.items) maxEventTime = Math.max(maxEventTime, it.record.eventTime);
  for (;;) {
    const attempt = planOnce(input, failedOffsets);
    if (attempt.failures.length === 0) return { ...attempt.plan, failed, maxEventTime };
    for (const f of attempt.failures) {
      failedOffsets.add(f.item.raw.offset);
      failed.push(deadLetterFor(input.def.name, f.item.raw, 'ONDIJON_PROCESSOR_FAILED', f.message));
    }
    if (input.owned)
      return { writes: [], routed: [], lateRevised: 0, duplicates: 0, failed, maxEventTime, spoiled: true };
  }
}

function planOnce(
  { def, items, view, watermark, reviseHorizonMs, skip, owned }: PlanInput,
  failedOffsets: ReadonlySet<string>,
) {
  const work = new Map<string, WindowWrite & { closed: boolean; seen: Set<string> }>();
  const routed: LateRecord[] = [];
  const failures: { item: Item; message: string }[] = [];
  let lateRevised = 0;
  let duplicates = 0;
  for (const it of items) {
    if (failedOffsets.size > 0 && failedOffsets.has(it.raw.offset)) continue;
    const rec = it.record;
    try {
      for (const { group, window, wk } of targetsOf(def, it)) {
        const stored = view(wk);
        let w = work.get(wk);
        const closed = w?.closed ?? stored?.closed ?? false;
        const late = isLate(def, window, closed, watermark);
        const tooOld = window.end + def.graceMs + reviseHorizonMs <= watermark;
        if (late && (def.late === 'route' || tooOld)) {
          routed.push(lateRecordFor(def.name, rec.record, it.eventId, rec.eventTime, window, watermark));
          continue;
        }
        if (w?.seen.has(it.eventId) || (skip && skip.size > 0 && skip.has(`${wk}\n${it.eventId}`))) {
          duplicates += 1;
          continue;
        }
        if (!w) {
          w = {
            wk,
            expectedVersion: stored?.version ?? 0,
            state: stored?.state ? (owned ? stored.state : structuredClone(stored.state)) : initState(def),
            group,
            start: window.start,
            end: window.end,
            ids: [],
            closed,
            seen: new Set(),
          };
          work.set(wk, w);
        }
        w.seen.add(it.eventId);
        w.ids.push(it.eventId);
        fold(def, w.state, rec.record, rec.envelope, group, late);
        if (late) lateRevised += 1;
      }
    } catch (err) {
      failures.push({ item: it, message: err instanceof Error ? err.message : String(err) });
    }
  }
  const writes: WindowWrite[] = [];
  for (const w of work.values())
    writes.push({
      wk: w.wk,
      expectedVersion: w.expectedVersion,
      state: w.state,
      group: w.group,
      start: w.start,
      end: w.end,
      ids: w.ids,
    });
  return { plan: { writes, routed, lateRevised, duplicates }, failures };
}

/**
 * The processor's watermark after a store reading: it never goes back; when every partition is idle
 * (value +Infinity) it moves to the latest stream time seen.
 */
export function nextWatermark(current: number, wm: Watermark): number {
  if (Number.isFinite(wm.value)) return Math.max(current, wm.value);
  if (wm.value === Number.POSITIVE_INFINITY) return Math.max(current, wm.max);
  return current;
}

/** The windows to close at a store reading: those whose end + grace is at or before this score. */
export function closeScore(wm: Watermark): number | undefined {
  // -Infinity: no partition yet, or an announced partition not applied yet (window-store.ts watermarkOf).
  return wm.partitions === 0 || wm.value === Number.NEGATIVE_INFINITY ? undefined : wm.value;
}

/** What the emitter does with the due windows it read. */
export interface EmissionPlan {
  /** Results to produce (every revision). */
  outputs: { topic: TopicName; key: string; value: Envelope<unknown> }[];
  /** Results the processor's definition could not build (invalid aggregate): dead-lettered. */
  letters: DeadLetter[];
  /** What to acknowledge once outputs and letters are acknowledged by Kafka. */
  acks: { wk: string; version: number; revision: number }[];
}

/** Builds the next revision of each due window (a window without state is only acknowledged). */
export function planEmission(
  def: AnyWindowedAggregation,
  rows: readonly StoredWindow[],
  now: Date = new Date(),
): EmissionPlan {
  const plan: EmissionPlan = { outputs: [], letters: [], acks: [] };
  for (const row of rows) {
    if (!row.state) {
      plan.acks.push({ wk: row.wk, version: row.version, revision: row.revision });
      continue;
    }
    const revision = row.revision + 1;
    try {
      plan.outputs.push(
        buildAggregate(def, row.state, row.group, { start: row.start, end: row.end }, revision, now),
      );
    } catch (err) {
      const raw: RawRecord = {
        topic: def.inputs[0]!,
        key: row.wk,
        value: JSON.stringify(row.state.meta),
        partition: -1,
        offset: '-1',
      };
      plan.letters.push(
        deadLetterFor(
          def.name,
          raw,
          'ONDIJON_PROCESSOR_FAILED',
          err instanceof Error ? err.message : String(err),
        ),
      );
    }
    plan.acks.push({ wk: row.wk, version: row.version, revision });
  }
  return plan;
}
