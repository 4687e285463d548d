import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { replaceFileAtomic } from '@ondijon/opendata';
import { readJson } from './durable';
import type { BudgetSpend, Fence, PendingPeriod } from './redis-state';
import { fingerprintOf, type StagedAggregate } from './release';

/** Writes a staging file atomically and durably (its temp file next to it, so on the same filesystem). */
const writeStaged = (path: string, data: string) => replaceFileAtomic(path, data, dirname(path));

/** What is staged for one dataset and day. */
interface PeriodState {
  datasetId: string;
  day: string;
  cells: Record<string, StagedAggregate>;
  /** Fingerprint of the input of the latest release written (or found in the store). */
  released?: string | undefined;
  /** Fingerprint of an input whose release was blocked: not retried until the input changes. */
  blocked?: string | undefined;
  /** Latest window end seen on this period (event time). */
  maxWindowEnd: string;
}

/** Outcome of staging one aggregate. */
export type StageOutcome = 'new' | 'revised' | 'unchanged' | 'stale';

/**
 * Where staged aggregates are kept: a local folder (`Staging`, one instance) or Redis (`RedisStaging`,
 * shared by N instances). Writes after staging take the fence of the release lease when there is one.
 */
export interface StagingStore {
  load(): Promise<void>;
  stage(datasetId: string, day: string, agg: StagedAggregate): StageOutcome;
  flush(): Promise<void>;
  pending(): PendingPeriod[] | Promise<PendingPeriod[]>;
  watermark(datasetId: string): Date | undefined | Promise<Date | undefined>;
  cells(datasetId: string, day: string): StagedAggregate[] | Promise<StagedAggregate[]>;
  mark(
    datasetId: string,
    day: string,
    fingerprint: string,
    outcome: 'released' | 'blocked',
    fence?: Fence,
  ): Promise<void>;
  readonly size: number;
}

/** Where drawn noise is kept; with a shared store, saving a fresh draw also spends its ε, once. */
export interface NoiseMemoryStore {
  load(datasetId: string, day: string): Promise<[string, number, string, number][]>;
  save(
    datasetId: string,
    day: string,
    entries: [string, number, string, number][],
    fence?: Fence,
    spend?: BudgetSpend,
  ): Promise<void>;
  /** ε the shared ledger holds for a day (absent: no ledger but the releases' notes). */
  spentOn?(datasetId: string, day: string): Promise<number>;
}

/**
 * Aggregates waiting for (or covered by) a release, durably kept on local disk per dataset and day
 * (`<dir>/staging/<dataset>/<day>.json`). The consumer commits Kafka offsets only after `flush()`,
 * so a crash loses nothing: records after the last commit are replayed and re-staged idempotently.
 * Private: it holds S1/S2 aggregates and never goes to the open-data store.
 */
export class Staging implements StagingStore {
  readonly #dir: string;
  readonly #periods = new Map<string, PeriodState>();
  readonly #touched = new Set<string>();
  // Writes of a period file are serialised and serialise the state when they run, so a later write
  // always carries the latest state (a flush and a release mark never overwrite each other's news).
  #writes: Promise<unknown> = Promise.resolve();

  /** A staging area rooted at `dir`. */
  constructor(dir: string) {
    this.#dir = join(dir, 'staging');
  }

  #file(datasetId: string, day: string): string {
    return join(this.#dir, datasetId, `${day}.json`);
  }

  /** Loads every staged period from disk. */
  async load(): Promise<void> {
    let datasets: string[] = [];
    try {
      datasets = await readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const d of datasets) {
      for (const f of await readdir(join(this.#dir, d))) {
        if (!f.endsWith('.json')) continue;
        const state = (await readJson(join(this.#dir, d, f))) as PeriodState | undefined;
        if (state) this.#periods.set(`${state.datasetId}|${state.day}`, state);
      }
    }
  }

  /** Stages an aggregate: the latest revision per key wins; an identical re-emission changes nothing. */
  stage(datasetId: string, day: string, agg: StagedAggregate): StageOutcome {
    const k = `${datasetId}|${day}`;
    let state = this.#periods.get(k);
    if (!state) {
      state = { datasetId, day, cells: {}, maxWindowEnd: agg.data.windowEnd };
      this.#periods.set(k, state);
    }
    const existing = state.cells[agg.key];
    if (existing && existing.data.revision > agg.data.revision) return 'stale';
    if (existing && existing.data.revision === agg.data.revision) return 'unchanged';
    state.cells[agg.key] = agg;
    if (Date.parse(agg.data.windowEnd) > Date.parse(state.maxWindowEnd))
      state.maxWindowEnd = agg.data.windowEnd;
    this.#touched.add(k);
    return existing ? 'revised' : 'new';
  }

  /** Writes every period changed since the last flush, durably. */
  async flush(): Promise<void> {
    const keys = [...this.#touched];
    this.#touched.clear();
    try {
      for (const k of keys) await this.#write(this.#periods.get(k)!);
    } catch (err) {
      // Not durable: keep them marked so the next flush retries (offsets are not committed meanwhile).
      for (const k of keys) this.#touched.add(k);
      throw err;
    }
  }

  #write(s: PeriodState): Promise<void> {
    const p = this.#writes.then(() => writeStaged(this.#file(s.datasetId, s.day), JSON.stringify(s)));
    this.#writes = p.catch(() => undefined);
    return p;
  }

  /** The staged aggregates of a period. */
  cells(datasetId: string, day: string): StagedAggregate[] {
    return Object.values(this.#periods.get(`${datasetId}|${day}`)?.cells ?? {});
  }

  /** Periods whose input changed since their last release (or blocked attempt). */
  pending(): PendingPeriod[] {
    const out = [];
    for (const s of this.#periods.values()) {
      const fingerprint = fingerprintOf(Object.values(s.cells));
      if (fingerprint !== s.released && fingerprint !== s.blocked)
        out.push({ datasetId: s.datasetId, day: s.day, fingerprint, maxWindowEnd: new Date(s.maxWindowEnd) });
    }
    return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.datasetId < b.datasetId ? -1 : 1));
  }

  /** Latest window end staged for a dataset (its event-time watermark). */
  watermark(datasetId: string): Date | undefined {
    let max: number | undefined;
    for (const s of this.#periods.values())
      if (s.datasetId === datasetId) max = Math.max(max ?? 0, Date.parse(s.maxWindowEnd));
    return max === undefined ? undefined : new Date(max);
  }

  /** Records the outcome of a release attempt for a period's input, durably. */
  async mark(
    datasetId: string,
    day: string,
    fingerprint: string,
    outcome: 'released' | 'blocked',
  ): Promise<void> {
    const s = this.#periods.get(`${datasetId}|${day}`);
    if (!s) return;
    if (outcome === 'released') {
      s.released = fingerprint;
      s.blocked = undefined;
    } else s.blocked = fingerprint;
    await this.#write(s);
  }

  /** Number of staged aggregates (for the metric). */
  get size(): number {
    let n = 0;
    for (const s of this.#periods.values()) n += Object.keys(s.cells).length;
    return n;
  }
}

/** Private memory of drawn noise, per dataset and day (`<dir>/noise/<dataset>/<day>.json`). */
export class NoiseStore implements NoiseMemoryStore {
  readonly #dir: string;

  /** A noise store rooted at `dir`. */
  constructor(dir: string) {
    this.#dir = join(dir, 'noise');
  }

  /** Every value drawn for a period: `[cellId, revision, field, value]`. */
  async load(datasetId: string, day: string): Promise<[string, number, string, number][]> {
    return (
      ((await readJson(join(this.#dir, datasetId, `${day}.json`))) as
        [string, number, string, number][] | undefined) ?? []
    );
  }

  /** Replaces the values of a period, durably (before the release that publishes them is written). */
  async save(datasetId: string, day: string, entries: [string, number, string, number][]): Promise<void> {
    await writeStaged(join(this.#dir, datasetId, `${day}.json`), JSON.stringify(entries));
  }
}
