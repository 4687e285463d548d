import {
  type DeadLetter,
  OnDijonError,
  TOPICS,
  isOnDijonError,
  toFieldIssues,
  type TopicName,
  type Sensitivity,
  decodeRecordValue,
  isBinaryRecord,
  structuredText,
  type HeaderValue,
} from '@ondijon/contracts';
import {
  type NoiseKey,
  type NoiseMemory,
  type Policy,
  PrivacyBudgetLedger,
  type Rng,
  type BudgetEntry,
  datasetPolicy,
  effectiveCoarsening,
} from '@ondijon/governance';
import type { StoreReader, StoreWriter, ReleaseInfo } from '@ondijon/opendata';
import type { Logger } from '@ondijon/service-kit';
import type { z } from 'zod';
import { preReleaseCheck, releaseBlocked } from './check';
import { DATASET_SPECS, type DatasetSpec } from './datasets';
import type { EquipmentPresence } from './equipment';
import { deadLetterOf } from './dead-letter';
import { buildRelease, fingerprintOf, type PreviousRelease, type StagedAggregate } from './release';
import { tableFromRows } from './rows';
import type { Fence, LeaseRunner } from './redis-state';
import type { NoiseMemoryStore, StagingStore, StageOutcome } from './staging';
import { dayBounds, iso, parisDay } from './time';

/** One record as consumed from Kafka. */
export interface ConsumedRecord {
  /** Topic it was read from (the physical name). */
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | string | null;
  /** Kafka headers: a `ce_specversion` header marks a CloudEvents binary-mode record. */
  headers?: Readonly<Record<string, HeaderValue>>;
  /** Key and timestamp: attributes a binary-mode record may leave to them (packages/contracts cloudevents-binary.ts). */
  key?: Buffer | string | null;
  timestamp?: string;
}

/** What became of one consumed record. */
export type IngestResult =
  { outcome: StageOutcome | 'unknown-topic' } | { outcome: 'invalid'; deadLetter: DeadLetter };

/** When releases are made. */
export type ReleaseTrigger = 'event-time' | 'interval' | 'manual';

/** Outcome of one release attempt. */
export type PublishOutcome =
  | {
      datasetId: string;
      day: string;
      outcome: 'released';
      releaseId: string;
      sequence: number;
      reused: boolean;
    }
  | { datasetId: string; day: string; outcome: 'unchanged' | 'not-due' }
  /** Another instance of the group holds the release lease: it publishes, or this one will next round. */
  | { datasetId: string; day: string; outcome: 'leased-elsewhere' }
  | { datasetId: string; day: string; outcome: 'blocked'; code: string; message: string };

/** Hooks for metrics, so the core stays free of prom-client. */
export interface PublisherObserver {
  record(topic: string, outcome: StageOutcome | 'invalid' | 'unknown-topic'): void;
  release(datasetId: string, outcome: PublishOutcome['outcome'], code?: string): void;
  budget(datasetId: string, day: string, spent: number): void;
}

/** Dependencies of the publisher core. */
export interface PublisherCoreDeps {
  policy: Policy;
  /** Dataset ids to publish (default: every dataset of the policy with a spec). */
  datasets?: readonly string[];
  /** Source topic per dataset, overriding the policy's (tests use their own topics). */
  topicOverrides?: Readonly<Record<string, string>>;
  staging: StagingStore;
  noise: NoiseMemoryStore;
  /**
   * Release leases of a group of instances sharing their state (Redis), one per dataset: a period is
   * published only while holding its dataset's lease, and every write after staging carries its fencing
   * token. Absent: one instance alone.
   */
  lease?: LeaseRunner | undefined;
  /**
   * Runs `fn` alone among the group's instances for the store's shared objects (the catalogue lock):
   * the privacy-budget register is computed from every dataset's releases and written under it.
   * Absent: `fn` runs directly (one instance alone).
   */
  exclusive?: (<T>(fn: () => Promise<T>) => Promise<T>) | undefined;
  writer: StoreWriter;
  reader: StoreReader;
  rng: Rng;
  log: Logger;
  clock?: () => Date;
  publishDelayOverrideHours?: number | undefined;
  /** Equipment per commune from the registry (structural zeros); absent: no structural zero is published. */
  equipment?: EquipmentPresence | undefined;
  trigger: ReleaseTrigger;
  observer?: PublisherObserver;
  /**
   * Whether everything currently on a topic has been staged (no consumer lag). The event-time
   * trigger waits for it: partitions are consumed in separate batches, and one partition's records
   * must not close a period for the others.
   */
  caughtUp?: (topic: string) => Promise<boolean> | boolean;
}

/** A noise memory that also lists its entries, so they can be saved. */
class ListedNoiseMemory implements NoiseMemory {
  readonly map = new Map<string, [string, number, string, number]>();
  get(k: NoiseKey): number | undefined {
    return this.map.get(`${k.cellId}|${k.revision}|${k.field}`)?.[3];
  }
  set(k: NoiseKey, value: number): void {
    this.map.set(`${k.cellId}|${k.revision}|${k.field}`, [k.cellId, Number(k.revision), k.field, value]);
  }
}

/**
 * The anonymisation gate without Kafka: stages aggregates, decides which periods are due, builds,
 * checks and writes releases. One release at a time.
 */
export class PublisherCore {
  readonly #d: PublisherCoreDeps;
  readonly #byTopic = new Map<string, { spec: DatasetSpec; schema: z.ZodType; sourceTopic: string }>();
  readonly #notesCache = new Map<
    string,
    { epsilon: number; period?: string | undefined; releaseId: string; publishedAt: string }
  >();
  readonly #forbidden: Set<string>;
  #chain: Promise<unknown> = Promise.resolve();

  /** A core over the given dependencies. */
  constructor(deps: PublisherCoreDeps) {
    this.#d = deps;
    const ids = deps.datasets ?? Object.keys(deps.policy.datasets).filter((id) => id in DATASET_SPECS);
    for (const id of ids) {
      const spec = DATASET_SPECS[id];
      if (!spec)
        throw new OnDijonError('ONDIJON_CONFIG_INVALID', `no release layout for dataset ${id}`, {
          details: { datasetId: id },
        });
      const rules = datasetPolicy(deps.policy, id);
      const registered = Object.hasOwn(TOPICS, rules.sourceTopic)
        ? TOPICS[rules.sourceTopic as TopicName]
        : undefined;
      if (!registered || registered.area !== 'agg')
        throw new OnDijonError(
          'ONDIJON_POLICY_INVALID',
          `dataset ${id}: ${rules.sourceTopic} is not an aggregate topic`,
          { details: { datasetId: id } },
        );
      const topic = deps.topicOverrides?.[id] ?? rules.sourceTopic;
      this.#byTopic.set(topic, { spec, schema: registered.schema, sourceTopic: rules.sourceTopic });
    }
    this.#forbidden = new Set();
    for (const fam of Object.values(deps.policy.families)) {
      for (const [name, fp] of Object.entries(fam.fields))
        if (fp.class === 'S3' || fp.class === 'S4') this.#forbidden.add(name);
    }
  }

  /** Topics consumed. */
  get topics(): string[] {
    return [...this.#byTopic.keys()];
  }

  /** Datasets published. */
  get datasetIds(): string[] {
    return [...this.#byTopic.values()].map((e) => e.spec.id);
  }

  #now(): Date {
    return this.#d.clock?.() ?? new Date();
  }

  /**
   * Parses and stages one Kafka record; never throws on bad input. An invalid record comes back with
   * its dead letter, which the caller must make durable before committing the record's offset.
   */
  ingest(record: ConsumedRecord): IngestResult {
    const { topic, value } = record;
    const entry = this.#byTopic.get(topic);
    if (!entry) {
      this.#d.observer?.record(topic, 'unknown-topic');
      return { outcome: 'unknown-topic' };
    }
    // undefined: the value is not JSON at all (there are no field issues to name).
    let parsed: z.ZodSafeParseResult<unknown> | undefined;
    try {
      // Binary mode (attributes in headers) or structured mode, per record.
      parsed = entry.schema.safeParse(
        isBinaryRecord(record.headers)
          ? decodeRecordValue(record.headers, value, entry.sourceTopic, true, record)
          : JSON.parse(value === null ? '' : value.toString()),
      );
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      const deadLetter = deadLetterOf(
        {
          ...record,
          value: structuredValue(record, entry.sourceTopic),
          expectedSchema: entry.sourceTopic,
          sensitivity: TOPICS[entry.sourceTopic as TopicName].class,
          issues: parsed ? toFieldIssues(parsed.error) : undefined,
        },
        this.#now(),
      );
      this.#d.log.warn(
        { topic, partition: record.partition, offset: record.offset, code: deadLetter.code },
        'aggregate record rejected',
      );
      this.#d.observer?.record(topic, 'invalid');
      return { outcome: 'invalid', deadLetter };
    }
    const env = parsed.data as {
      sensitivity: Sensitivity;
      policyrevision: string;
      data: StagedAggregate['data'] & { key: string };
    };
    const agg: StagedAggregate = {
      key: env.data.key,
      topic: entry.sourceTopic,
      sensitivity: env.sensitivity,
      policyRevision: env.policyrevision,
      data: env.data,
    };
    const outcome = this.#d.staging.stage(entry.spec.id, parisDay(new Date(env.data.windowStart)), agg);
    this.#d.observer?.record(topic, outcome);
    return { outcome };
  }

  /** Makes staged input durable (call before committing offsets). */
  async flush(): Promise<void> {
    await this.#d.staging.flush();
  }

  /** When a period may be published: its last window ended the publication delay ago. */
  publishableAt(datasetId: string, day: string): Date {
    const rules = datasetPolicy(this.#d.policy, datasetId);
    const c = effectiveCoarsening(rules.coarsening, rules.personDerived);
    const delay = this.#d.publishDelayOverrideHours ?? c.publishDelayHours;
    return new Date(dayBounds(day).end.getTime() + delay * 3_600_000);
  }

  /**
   * Publishes every pending period that is due: its publication delay has passed and, with the
   * event-time trigger, the dataset's watermark has passed the period's end. `onDemand` ignores the
   * trigger mode (never the delay); `filter` narrows to a dataset or day.
   */
  publishDue(
    options: { onDemand?: boolean; datasetId?: string; day?: string } = {},
  ): Promise<PublishOutcome[]> {
    return this.#serial(async () => {
      const out: PublishOutcome[] = [];
      const now = this.#now();
      const known = new Set([...this.#byTopic.values()].map((e) => e.spec.id));
      const topicOf = new Map([...this.#byTopic].map(([topic, e]) => [e.spec.id, topic]));
      for (const p of await this.#d.staging.pending()) {
        if (!known.has(p.datasetId)) continue;
        if (options.datasetId && p.datasetId !== options.datasetId) continue;
        if (options.day && p.day !== options.day) continue;
        if (!options.onDemand && this.#d.trigger === 'manual') continue;
        const end = dayBounds(p.day).end;
        const waitsForEventTime = !options.onDemand && this.#d.trigger === 'event-time';
        const closed = async () =>
          ((await this.#d.staging.watermark(p.datasetId))?.getTime() ?? 0) >= end.getTime() &&
          ((await this.#d.caughtUp?.(topicOf.get(p.datasetId)!)) ?? true);
        if (now < this.publishableAt(p.datasetId, p.day) || (waitsForEventTime && !(await closed()))) {
          out.push({ datasetId: p.datasetId, day: p.day, outcome: 'not-due' });
          continue;
        }
        out.push(await this.#publishLeased(p.datasetId, p.day, now));
      }
      return out;
    });
  }

  /** Resolves once the release in progress (if any) has finished. */
  idle(): Promise<void> {
    return this.#serial(async () => {});
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  async #budgetEntries(datasetId: string): Promise<BudgetEntry[]> {
    const entries: BudgetEntry[] = [];
    for (const r of await this.#d.reader.releases(datasetId)) {
      const k = `${datasetId}/${r.releaseId}`;
      let n = this.#notesCache.get(k);
      if (!n) {
        const notes = await this.#d.reader.releaseNotes(datasetId, r.releaseId);
        n = {
          epsilon: notes.budget.epsilon,
          period: notes.budget.period,
          releaseId: r.releaseId,
          publishedAt: notes.publishedAt,
        };
        this.#notesCache.set(k, n);
      }
      if (n.epsilon > 0 && n.period)
        entries.push({
          datasetId,
          day: n.period,
          releaseId: n.releaseId,
          epsilon: n.epsilon,
          spentAt: n.publishedAt,
        });
    }
    return entries;
  }

  /** Reads the earlier releases of a period back from the store. */
  async previousReleases(
    spec: DatasetSpec,
    day: string,
  ): Promise<{ previous: PreviousRelease[]; lastFingerprint?: string; lastPolicy?: string }> {
    const start = iso(dayBounds(day).start);
    const previous: PreviousRelease[] = [];
    let lastFingerprint: string | undefined;
    let lastPolicy: string | undefined;
    for (const r of await this.#d.reader.releases(spec.id)) {
      if (r.period.start !== start) continue;
      const { rows } = await this.#d.reader.rows(spec.id, r.releaseId);
      previous.push({ releaseId: r.releaseId, table: tableFromRows(spec, day, rows) });
      const notes = await this.#d.reader.releaseNotes(spec.id, r.releaseId);
      lastFingerprint =
        typeof notes.lineage.inputFingerprint === 'string' ? notes.lineage.inputFingerprint : undefined;
      lastPolicy = notes.policyRevision;
    }
    return {
      previous,
      ...(lastFingerprint ? { lastFingerprint } : {}),
      ...(lastPolicy ? { lastPolicy } : {}),
    };
  }

  /** Publishes a period holding its dataset's release lease (directly when there is no lease). */
  async #publishLeased(datasetId: string, day: string, now: Date): Promise<PublishOutcome> {
    const lease = this.#d.lease;
    if (!lease) return this.#publishPeriod(datasetId, day, now, undefined);
    const r = await lease.run(datasetId, (fence) => this.#publishPeriod(datasetId, day, now, fence));
    if (r) return r.value;
    this.#d.observer?.release(datasetId, 'leased-elsewhere');
    return { datasetId, day, outcome: 'leased-elsewhere' };
  }

  /**
   * Runs `fn` holding the release lease of `datasetId` when there are leases (waiting up to `waitMs`);
   * undefined when another instance kept it.
   */
  async withLease<T>(
    datasetId: string,
    fn: (fence: Fence | undefined) => Promise<T>,
    waitMs: number,
  ): Promise<{ value: T } | undefined> {
    const lease = this.#d.lease;
    if (!lease) return { value: await fn(undefined) };
    return lease.run(datasetId, fn, waitMs);
  }

  async #publishPeriod(
    datasetId: string,
    day: string,
    now: Date,
    fence: Fence | undefined,
  ): Promise<PublishOutcome> {
    const { policy, log } = this.#d;
    const spec = DATASET_SPECS[datasetId]!;
    const rules = datasetPolicy(policy, datasetId);
    const staged = await this.#d.staging.cells(datasetId, day);
    const fingerprint = fingerprintOf(staged);
    const { previous, lastFingerprint, lastPolicy } = await this.previousReleases(spec, day);
    if (lastFingerprint === fingerprint && lastPolicy === policy.revision) {
      // Replayed input already released (e.g. a crash after the store write): nothing new.
      await this.#d.staging.mark(datasetId, day, fingerprint, 'released', fence);
      this.#d.observer?.release(datasetId, 'unchanged');
      return { datasetId, day, outcome: 'unchanged' };
    }
    const ledger = new PrivacyBudgetLedger(await this.#budgetEntries(datasetId));
    const memory = new ListedNoiseMemory();
    for (const e of await this.#d.noise.load(datasetId, day))
      memory.set({ cellId: e[0], revision: e[1], field: e[2] }, e[3]);
    // Values already published are the authority, whatever the private memory says.
    for (const p of previous) {
      for (const [id, s] of p.table.status) {
        const c = p.table.cells.get(id)!;
        if (s !== 'noised' || c.kind !== 'base') continue;
        for (const f of rules.noise?.fields ?? []) {
          const v = c.values[f];
          if (typeof v === 'number') memory.set({ cellId: id, revision: c.revision ?? -1, field: f }, v);
        }
      }
    }
    try {
      const built = buildRelease({
        spec,
        rules,
        policyRevision: policy.revision,
        day,
        staged,
        previous,
        noiseMemory: memory,
        rng: this.#d.rng,
        ledger,
        now,
        publishDelayOverrideHours: this.#d.publishDelayOverrideHours,
        equipment: this.#d.equipment,
      });
      const failures = preReleaseCheck(built, {
        spec,
        rules,
        previous,
        ledger,
        now,
        publishDelayOverrideHours: this.#d.publishDelayOverrideHours,
        forbiddenFields: this.#forbidden,
        pseudonymPrefix: policy.pseudonymisation.prefix,
        equipment: this.#d.equipment,
      });
      if (failures.length > 0) throw releaseBlocked(datasetId, day, failures);
      // A holder that died between spending a draw's ε and writing its release left the ε spent in the
      // shared ledger and the noise drawn: this release publishes that noise, so its notes carry that ε.
      if (rules.noise && built.epsilon === 0 && this.#d.noise.spentOn) {
        const carried =
          Math.round(((await this.#d.noise.spentOn(datasetId, day)) - ledger.spent(datasetId, day)) * 1e9) /
          1e9;
        if (carried > 0 && built.notes.budget?.period) {
          built.epsilon = carried;
          built.notes.budget = {
            ...built.notes.budget,
            epsilon: carried,
            cumulativeEpsilon: ledger.spent(datasetId, day) + carried,
          };
        }
      }
      // The drawn noise is made durable before anything is published, so it is never drawn again; with a
      // shared state the ε of a fresh draw is spent in the same atomic step (checked against the day's
      // limit, and once only: a retry finds the noise drawn and spends nothing).
      if (rules.noise)
        await this.#d.noise.save(
          datasetId,
          day,
          [...memory.map.values()],
          fence,
          built.epsilon > 0
            ? { id: fingerprint, epsilon: built.epsilon, epsilonPerDay: rules.noise.epsilonPerDay }
            : undefined,
        );
      await fence?.assertHeld();
      const info: ReleaseInfo = await this.#d.writer.writeRelease({
        datasetId,
        metadata: built.metadata,
        tableSchema: built.tableSchema,
        rows: built.rows,
        geo: true,
        notes: built.notes,
        publishedAt: now,
      });
      await this.#d.staging.mark(datasetId, day, fingerprint, 'released', fence);
      if (rules.noise) {
        const spent = ledger.spent(datasetId, day) + (info.reused ? 0 : built.epsilon);
        this.#d.observer?.budget(datasetId, day, spent);
        await fence?.assertHeld();
        await this.writeBudgetRegister();
      }
      log.info(
        {
          datasetId,
          day,
          releaseId: info.releaseId,
          rows: info.rowCount,
          suppressed: built.suppressed.size,
          secondary: built.secondary.length,
          epsilon: built.epsilon,
          reused: info.reused,
        },
        'release written',
      );
      this.#d.observer?.release(datasetId, 'released');
      return {
        datasetId,
        day,
        outcome: 'released',
        releaseId: info.releaseId,
        sequence: info.sequence,
        reused: info.reused,
      };
    } catch (err) {
      if (isOnDijonError(err, 'ONDIJON_RELEASE_BLOCKED') || isOnDijonError(err, 'ONDIJON_BUDGET_EXHAUSTED')) {
        log.error({ datasetId, day, code: err.code, details: err.details }, 'release blocked');
        await this.#d.staging.mark(datasetId, day, fingerprint, 'blocked', fence);
        this.#d.observer?.release(datasetId, 'blocked', err.code);
        return { datasetId, day, outcome: 'blocked', code: err.code, message: err.message };
      }
      throw err;
    }
  }

  /**
   * Writes the public register of privacy budget spent (every noised dataset, every day), read from the
   * releases and written under the catalogue lock, so that concurrent releases of different datasets
   * by other instances are all in it.
   */
  async writeBudgetRegister(): Promise<void> {
    const exclusive = this.#d.exclusive ?? (<T>(fn: () => Promise<T>) => fn());
    await exclusive(() => this.#writeBudgetRegister());
  }

  async #writeBudgetRegister(): Promise<void> {
    const datasets: Record<string, unknown> = {};
    for (const { spec } of this.#byTopic.values()) {
      const rules = datasetPolicy(this.#d.policy, spec.id);
      if (!rules.noise) continue;
      const entries = await this.#budgetEntries(spec.id);
      const byDay: Record<string, number> = {};
      for (const e of entries) byDay[e.day] = Math.round(((byDay[e.day] ?? 0) + e.epsilon) * 1e9) / 1e9;
      datasets[spec.id] = {
        mechanism: rules.noise.mechanism,
        epsilonPerRelease: rules.noise.epsilonPerRelease,
        epsilonPerDay: rules.noise.epsilonPerDay,
        noisedFields: rules.noise.fields,
        spentByDay: byDay,
        releases: entries.map((e) => ({
          day: e.day,
          releaseId: e.releaseId,
          epsilon: e.epsilon,
          spentAt: e.spentAt,
        })),
      };
    }
    await this.#d.writer.updateRegister('privacy-budget', {
      description:
        'Privacy budget (ε, discrete-Laplace noise) spent per dataset and day of data; sequential composition within a day.',
      policyRevision: this.#d.policy.revision,
      updatedAt: iso(this.#now()),
      datasets,
    });
  }

  /** Writes the public register of data uses (from the policy's processing register). */
  async writeUsesRegister(): Promise<void> {
    const { policy } = this.#d;
    const exclusive = this.#d.exclusive ?? (<T>(fn: () => Promise<T>) => fn());
    await exclusive(() =>
      this.#d.writer.updateRegister('data-uses', {
        description:
          'Declared uses of the data of the OnDijon telemetry pipeline (processing register) and the open-data datasets released from it.',
        owner: policy.owner,
        policyRevision: policy.revision,
        uses: policy.uses,
        openData: Object.entries(policy.datasets).map(([id, d]) => ({
          id,
          title: d.title,
          sourceTopic: d.sourceTopic,
          personDerived: d.personDerived,
          threshold: d.threshold ?? null,
          dominance: d.dominance ?? null,
          coarsening: d.coarsening,
          noise: d.noise ?? null,
        })),
      }),
    );
  }
}

/** The value a dead letter copies: a binary-mode record re-encoded in structured mode when it can be (dead letters stay structured). */
function structuredValue(record: ConsumedRecord, topic: string): Buffer | string | null {
  if (!isBinaryRecord(record.headers)) return record.value;
  try {
    const text = record.value === null ? null : record.value.toString();
    return structuredText(record.headers, text, topic, record);
  } catch {
    return record.value;
  }
}
