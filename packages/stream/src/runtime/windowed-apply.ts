import { OnDijonError, type DeadLetter } from '@ondijon/contracts';
import type { AnyWindowedAggregation } from '../define';
import type { RawRecord, StreamLogger } from '../engine';
import { nextWatermark, planChunk, touchedWindows, type Item, type WindowView } from '../planner';
import type { Watermark, WindowStore } from '../window-store';
import type { ProcessorOutput } from './output';
import { FencedError, retrying, StateBehindError } from './retry';
import type { RuntimeStats, StreamMetrics } from './types';

/** A partition's claim: its epoch and the last offset applied (stored with the state). */
export interface Claim {
  epoch: string;
  offset: bigint | undefined;
  /** The first batch after the claim was checked against the stored offset (claims.ts, replayFrom). */
  checked?: boolean;
}

/** Settings of the windowed apply. */
export interface WindowedApplySettings {
  attempts: number;
  ttlMs: number;
  reviseHorizonMs: number;
  /** Called after each applied chunk (the emitter looks for due windows). */
  applied: () => void;
}

/**
 * Applies chunks of a windowed processor: the planner (../planner.ts) decides against the windows held
 * in memory (read from the store when missing) and the watermark of the last emitter sweep; the
 * store writes the windows and the chunk's offset atomically, or refuses (fenced, replay, lost
 * writes, conflict), and the chunk is planned again or handed back to the pipeline.
 */
export class WindowedApply {
  /** The watermark as of the emitter's last reading of the store (never goes back until a reset). */
  private watermark = Number.NEGATIVE_INFINITY;
  private readonly cache = new Map<string, WindowView>();

  constructor(
    private readonly def: AnyWindowedAggregation,
    private readonly store: WindowStore,
    private readonly output: ProcessorOutput,
    private readonly stats: RuntimeStats,
    private readonly metrics: StreamMetrics,
    private readonly log: StreamLogger,
    private readonly settings: WindowedApplySettings,
  ) {}

  /** Takes a store reading of the watermark into account; returns the watermark now held (epoch ms). */
  observe(wm: Watermark): number {
    this.watermark = nextWatermark(this.watermark, wm);
    return this.watermark;
  }

  /** Forgets windows (the emitter is about to change them). */
  forget(wks: readonly string[]): void {
    for (const wk of wks) this.cache.delete(wk);
  }

  /** Forgets every window held (a rebalance: another instance may have changed them). */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * Forgets windows and watermark: the store went back under this instance (lost writes), so both
   * are read again (a replayed record is judged late against the restored watermark, as it was before).
   */
  reset(): void {
    this.cache.clear();
    this.watermark = Number.NEGATIVE_INFINITY;
  }

  /** Applies one chunk of a partition (throws FencedError or StateBehindError for the pipeline). */
  async apply(
    tp: string,
    claim: Claim,
    raws: RawRecord[],
    decoded: { items: Item[]; letters: DeadLetter[] },
  ): Promise<void> {
    const { def, store } = this;
    let items = decoded.items;
    // Dead letters go first: if we crash before the state update, the replay sends them again (same id).
    // No await when there is nothing to send or read: the state update is then sent to Redis before
    // this call returns, so the caller decodes the next chunk while Redis runs the script.
    if (decoded.letters.length > 0) await this.output.deadLetter(decoded.letters);
    const skip = new Set<string>();
    const lettered = new Set<string>();
    /** Records the processor threw on (dead-lettered; planned out). */
    const exclude = new Set<string>();
    let routedSent = false;
    for (let attempt = 1; ; attempt++) {
      const reading = this.ensureCached(items);
      if (reading) await reading;
      // The cached states are folded into in place (no copy per chunk, planner.ts `owned`): a plan that
      // is not written leaves its windows changed, so they are forgotten and read again from the store.
      const plan = planChunk({
        def,
        items,
        view: (wk) => this.cache.get(wk),
        watermark: this.watermark,
        reviseHorizonMs: this.settings.reviseHorizonMs,
        skip,
        owned: true,
        exclude,
      });
      let written = false;
      try {
        // The processor threw on these records: dead-lettered once, planned out of the writes.
        const letters = plan.failed.filter((d) => !lettered.has(d.kafkaOffset ?? ''));
        if (letters.length > 0) {
          for (const d of letters) lettered.add(d.kafkaOffset ?? '');
          await this.output.deadLetter(letters);
        }
        if (plan.spoiled) {
          for (const d of plan.failed) exclude.add(d.kafkaOffset ?? '');
          for (const wk of touchedWindows(def, items)) this.cache.delete(wk);
          continue;
        }
        // Routed late records are produced before the offset is stored (at least once, same eventId).
        if (!routedSent && plan.routed.length > 0) {
          await Promise.all(plan.routed.map((l) => this.output.send('late.s2.stream.v1', def.name, l)));
          routedSent = true;
        }
        const first = raws[0]!.offset;
        const last = raws[raws.length - 1]!.offset;
        const wallNow = Date.now();
        const chunk = {
          tp,
          epoch: claim.epoch,
          firstOffset: first,
          lastOffset: last,
          prevOffset: claim.offset,
          wallNow,
        };
        const outcome = await retrying('apply', this.settings.attempts, this.log, async () =>
          plan.writes.length === 0
            ? store.advance({ ...chunk, maxEventTime: items.length > 0 ? plan.maxEventTime : undefined })
            : store.apply({
                ...chunk,
                maxEventTime: plan.maxEventTime,
                ttlMs: this.settings.ttlMs,
                graceMs: def.graceMs,
                windows: plan.writes,
              }),
        );
        if (outcome.status === 'ok') {
          written = true;
          claim.offset = BigInt(last);
          for (const w of plan.writes)
            this.cache.set(w.wk, {
              version: w.expectedVersion + 1,
              state: w.state,
              closed: this.cache.get(w.wk)?.closed ?? false,
            });
          this.trimCache();
          this.stats.processed += raws.length;
          this.stats.late += plan.lateRevised + plan.routed.length;
          this.stats.duplicates += plan.duplicates;
          this.metrics.processed(def.name, raws[0]!.topic, raws.length);
          if (plan.lateRevised > 0) this.metrics.late(def.name, 'revised', plan.lateRevised);
          if (plan.routed.length > 0) this.metrics.late(def.name, 'routed', plan.routed.length);
          if (plan.duplicates > 0) this.metrics.duplicates(def.name, plan.duplicates);
          this.settings.applied();
          return;
        }
        if (outcome.status === 'fenced') throw new FencedError(tp);
        if (outcome.status === 'behind')
          throw new StateBehindError(tp, outcome.offset === '' ? undefined : BigInt(outcome.offset));
        if (outcome.status === 'stale') {
          // Another owner applied part of this chunk (rebalance): drop what it already applied.
          const stored = BigInt(outcome.offset);
          claim.offset = stored;
          items = items.filter((it) => BigInt(it.raw.offset) > stored);
          raws = raws.filter((r) => BigInt(r.offset) > stored);
          if (raws.length === 0) return;
          continue;
        }
        this.stats.conflicts += 1;
        for (const wk of outcome.windows) this.cache.delete(wk);
        for (const d of outcome.duplicates) skip.add(`${d.wk}\n${d.id}`);
        if (attempt > 50)
          throw new OnDijonError('ONDIJON_REDIS_UNAVAILABLE', `state update of ${tp} kept conflicting`, {
            details: { tp },
          });
        if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      } finally {
        // Not written (conflict, stale, fenced, behind, an error): the windows folded into are forgotten.
        if (!written) for (const w of plan.writes) this.cache.delete(w.wk);
      }
    }
  }

  /** Reads into the cache the windows this chunk touches that it does not hold (undefined: nothing to read). */
  private ensureCached(items: Item[]): Promise<void> | undefined {
    const missing: string[] = [];
    for (const wk of touchedWindows(this.def, items)) if (!this.cache.has(wk)) missing.push(wk);
    if (missing.length === 0) return undefined;
    return retrying('read', this.settings.attempts, this.log, async () => this.store.read(missing)).then(
      (rows) => {
        for (const r of rows) this.cache.set(r.wk, { version: r.version, state: r.state, closed: r.closed });
      },
    );
  }

  private trimCache(): void {
    // Bound memory: drop the oldest windows; a dropped window is simply read again when touched.
    const max = 20_000;
    if (this.cache.size <= max) return;
    const excess = this.cache.size - max;
    let i = 0;
    for (const k of this.cache.keys()) {
      if (i++ >= excess) break;
      this.cache.delete(k);
    }
  }
}
