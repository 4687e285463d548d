import type { AnyWindowedAggregation } from '../define';
import type { StreamLogger } from '../engine';
import { closeScore, planEmission } from '../planner';
import type { WindowStore } from '../window-store';
import type { ProcessorOutput } from './output';
import type { RuntimeStats, StreamMetrics } from './types';
import type { WindowedApply } from './windowed-apply';

/** Settings of the emitter. */
export interface EmitterSettings {
  /** This instance's id for the emitter lock. */
  owner: string;
  idleFlushMs: number;
  emitIntervalMs: number;
  /**
   * Each input partition's end in Kafka, the next offset to be written (logical `topic:partition`), or
   * undefined when not known: a partition with records past the stored offset is not idle
   * (window-store.ts, laggingOf).
   */
  logEnds?: () => Promise<ReadonlyMap<string, bigint> | undefined>;
}

/**
 * The emitter of a windowed processor: reads the watermark from the store, closes the due windows
 * and produces their results and revisions (../planner.ts, planEmission), then acknowledges them in the
 * store. One instance per processor emits at a time (a lock in the store).
 */
export class Emitter {
  private timer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private lastSweep = 0;
  private stopping = false;

  constructor(
    private readonly def: AnyWindowedAggregation,
    private readonly store: WindowStore,
    private readonly output: ProcessorOutput,
    private readonly windows: WindowedApply,
    private readonly stats: RuntimeStats,
    private readonly metrics: StreamMetrics,
    private readonly log: StreamLogger,
    private readonly settings: EmitterSettings,
  ) {}

  /** Sweeps every `emitIntervalMs` besides after chunks. */
  start(): void {
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.sweep().finally(() => {
          if (!this.stopping) tick();
        });
      }, this.settings.emitIntervalMs);
    };
    tick();
  }

  /** Stops the periodic sweeps (the sweep in progress finishes; see `stop`). */
  halt(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
  }

  /** Waits for the sweep in progress and releases the emitter lock. */
  async stop(): Promise<void> {
    this.halt();
    await this.sweeping;
    await Promise.resolve(this.store.unlock(this.settings.owner)).catch(() => undefined);
  }

  /** Asks for a sweep soon (after a chunk was applied). */
  request(): void {
    // At most one sweep per 50 ms from the consume path: each costs a few Redis round trips, and the
    // p99 of window close → result is still well under a second (bench:stream).
    if (this.sweepTimer) return;
    const wait = Math.max(0, this.lastSweep + 50 - Date.now());
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.sweep();
    }, wait);
  }

  /** Closes due windows and emits results and revisions; one sweep at a time. */
  private async sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    this.sweeping = (async () => {
      try {
        do {
          this.sweepAgain = false;
          this.lastSweep = Date.now();
          await this.sweepOnce();
        } while (this.sweepAgain && !this.stopping);
      } catch (err) {
        this.log.error({ err }, 'emitter sweep failed; retrying on the next tick');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const { def, store } = this;
    const ends = await this.settings.logEnds?.();
    const wm = await store.watermark(Date.now(), this.settings.idleFlushMs, ends);
    const held = this.windows.observe(wm);
    // Exported for the console's overview (docs/console.md, "Pipeline figures"); -Infinity: no record yet.
    if (Number.isFinite(held)) this.metrics.watermark(def.name, held);
    if (!(await store.lock(this.settings.owner, Math.max(3 * this.settings.emitIntervalMs, 3_000)))) return;
    const limit = 500;
    const score = closeScore(wm);
    const closed = score === undefined ? 0 : await store.close(score, limit);
    const closedAt = Date.now();
    const wks = await store.pending(limit);
    if (wks.length === 0) return;
    this.windows.forget(wks);
    const plan = planEmission(def, await store.read(wks));
    // The window is marked emitted only after Kafka acknowledged its result: a crash in between
    // re-emits the same key and revision (an idempotent upsert downstream).
    await Promise.all([
      ...plan.outputs.map((o) => this.output.send(o.topic, o.key, o.value)),
      this.output.deadLetter(plan.letters),
    ]);
    const ackedAt = Date.now();
    await store.ack(plan.acks);
    this.stats.emitted += plan.outputs.length;
    this.metrics.emitted(def.name, plan.outputs.length);
    if (closed > 0) {
      const ms = ackedAt - closedAt;
      for (let i = 0; i < closed; i++) {
        this.stats.emitLatenciesMs.push(ms);
        this.metrics.emitLatency(def.name, ms);
      }
    }
    if (wks.length >= limit || closed >= limit) this.sweepAgain = true;
  }
}
