import type { WindowState } from './engine';
import {
  behindOf,
  watermarkOf,
  type AdvanceArgs,
  type ApplyArgs,
  type ApplyOutcome,
  type StoredWindow,
  type Watermark,
  type WindowStore,
} from './window-store';

interface MemWindow {
  /** The state as JSON, as Redis holds it (an accumulator that does not survive JSON fails here too). */
  s: string;
  v: number;
  closed: boolean;
  r: number;
  g: string;
  start: number;
  end: number;
  ids: Set<string>;
}

/**
 * The window store in memory, with the rules of the Redis scripts (runtime/scripts.ts): the same
 * fencing, replay and loss checks, version conflicts, dedupe sets, open/closing/dirty queues and
 * watermark. It answers synchronously, so the harness runs without awaiting. No TTL: a harness run
 * is short.
 */
export class MemoryWindowStore implements WindowStore {
  private readonly windows = new Map<string, MemWindow>();
  private readonly offsets = new Map<string, bigint>();
  private readonly epochs = new Map<string, number>();
  private readonly streamTimes = new Map<string, number>();
  private readonly walls = new Map<string, number>();
  /** The last offset queued (announced) per partition. */
  private readonly queued = new Map<string, bigint>();
  /** Open windows and their close score (end + grace). */
  private readonly open = new Map<string, number>();
  private readonly closing = new Set<string>();
  private readonly dirty = new Set<string>();
  private lockOwner: string | undefined;

  claim(tp: string): { epoch: string; offset: bigint | undefined } {
    const epoch = (this.epochs.get(tp) ?? 0) + 1;
    this.epochs.set(tp, epoch);
    return { epoch: String(epoch), offset: this.offsets.get(tp) };
  }

  /** The last offset applied on a partition (undefined: none). */
  offsetOf(tp: string): bigint | undefined {
    return this.offsets.get(tp);
  }

  read(wks: string[]): StoredWindow[] {
    return wks.map((wk) => {
      const w = this.windows.get(wk);
      if (!w)
        return {
          wk,
          state: undefined,
          version: 0,
          closed: false,
          revision: -1,
          group: undefined,
          start: 0,
          end: 0,
        };
      return {
        wk,
        state: JSON.parse(w.s) as WindowState,
        version: w.v,
        closed: w.closed,
        revision: w.r,
        group: JSON.parse(w.g) as unknown,
        start: w.start,
        end: w.end,
      };
    });
  }

  private check(a: AdvanceArgs): ApplyOutcome | undefined {
    const epoch = this.epochs.get(a.tp);
    if (String(epoch ?? '') !== a.epoch) return { status: 'fenced', epoch: String(epoch ?? '') };
    const stored = this.offsets.get(a.tp);
    if (stored !== undefined && stored >= BigInt(a.firstOffset))
      return { status: 'stale', offset: stored.toString() };
    if ((stored?.toString() ?? '') !== (a.prevOffset?.toString() ?? ''))
      return { status: 'behind', offset: stored?.toString() ?? '' };
    return undefined;
  }

  private advanceOffset(a: AdvanceArgs): void {
    this.offsets.set(a.tp, BigInt(a.lastOffset));
    if (a.maxEventTime !== undefined) {
      const st = this.streamTimes.get(a.tp);
      if (st === undefined || a.maxEventTime > st) this.streamTimes.set(a.tp, a.maxEventTime);
    }
    this.walls.set(a.tp, a.wallNow);
  }

  apply(a: ApplyArgs): ApplyOutcome {
    const refused = this.check(a);
    if (refused) return refused;
    const conflicts: string[] = [];
    const duplicates: { wk: string; id: string }[] = [];
    for (const w of a.windows) {
      const cur = this.windows.get(w.wk);
      if ((cur?.v ?? 0) !== w.expectedVersion) conflicts.push(w.wk);
      for (const id of w.ids) if (cur?.ids.has(id)) duplicates.push({ wk: w.wk, id });
    }
    if (conflicts.length > 0 || duplicates.length > 0)
      return { status: 'conflict', windows: conflicts, duplicates };
    for (const w of a.windows) {
      let cur = this.windows.get(w.wk);
      if (!cur) {
        cur = { s: '', v: 0, closed: false, r: -1, g: '', start: w.start, end: w.end, ids: new Set() };
        this.windows.set(w.wk, cur);
      }
      cur.v += 1;
      cur.s = JSON.stringify(w.state);
      cur.g = JSON.stringify(w.group);
      cur.start = w.start;
      cur.end = w.end;
      if (cur.closed) this.dirty.add(w.wk);
      else this.open.set(w.wk, w.end + a.graceMs);
      for (const id of w.ids) cur.ids.add(id);
    }
    this.advanceOffset(a);
    return { status: 'ok' };
  }

  advance(a: AdvanceArgs): ApplyOutcome {
    const refused = this.check(a);
    if (refused) return refused;
    this.advanceOffset(a);
    return { status: 'ok' };
  }

  announce(tp: string, lastOffset: string): void {
    const cur = this.queued.get(tp);
    if (cur === undefined || BigInt(lastOffset) > cur) this.queued.set(tp, BigInt(lastOffset));
  }

  watermark(wallNow: number, idleMs: number, ends?: ReadonlyMap<string, bigint>): Watermark {
    return watermarkOf(
      this.streamTimes,
      this.walls,
      behindOf(this.offsets, this.queued, ends),
      wallNow,
      idleMs,
    );
  }

  close(maxScore: number, limit: number): number {
    // Score order, then key order (ZRANGEBYSCORE's).
    const due = [...this.open]
      .filter(([, score]) => score <= maxScore)
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, limit);
    for (const [wk] of due) {
      const w = this.windows.get(wk);
      if (w && !w.closed) {
        w.closed = true;
        w.v += 1;
      }
      this.open.delete(wk);
      this.closing.add(wk);
    }
    return due.length;
  }

  /** Closing and dirty windows, by window end, then group (a reproducible order for the harness). */
  pending(limit: number): string[] {
    const wks = [...new Set([...this.closing, ...this.dirty])];
    const end = (wk: string) => this.windows.get(wk)?.end ?? 0;
    const group = (wk: string) => wk.slice(wk.indexOf('|') + 1);
    wks.sort((a, b) => end(a) - end(b) || group(a).localeCompare(group(b)));
    return wks.slice(0, limit);
  }

  ack(items: { wk: string; version: number; revision: number }[]): void {
    for (const it of items) {
      const w = this.windows.get(it.wk);
      if (w && it.revision > w.r) w.r = it.revision;
      this.closing.delete(it.wk);
      if ((w?.v ?? 0) === it.version) this.dirty.delete(it.wk);
      else this.dirty.add(it.wk);
    }
  }

  lock(owner: string): boolean {
    if (this.lockOwner === undefined) this.lockOwner = owner;
    return this.lockOwner === owner;
  }

  unlock(owner: string): void {
    if (this.lockOwner === owner) this.lockOwner = undefined;
  }

  backlog(): { open: number; closing: number; dirty: number } {
    return { open: this.open.size, closing: this.closing.size, dirty: this.dirty.size };
  }
}
