import type { DeadLetter, Envelope, LateRecord, TopicName, TopicValue } from '@ondijon/contracts';
import type { AnyProcessor, AnyWindowedAggregation } from './define';
import { decode, type RawRecord } from './engine';
import { MemoryWindowStore } from './memory-store';
import {
  closeScore,
  decodeItems,
  DEFAULT_REVISE_HORIZON_MS,
  nextWatermark,
  planChunk,
  planEmission,
} from './planner';
import { processStateless } from './stateless';

/** One input of the harness: a value of the processor's (single) input topic, or a record with its coordinates. */
export type HarnessInput<In extends TopicName> =
  | TopicValue<In>
  | { topic: In; value: unknown; key?: string | null; partition?: number; offset?: string | number };

/** Options of `runProcessor`. */
export interface HarnessOptions {
  /**
   * Close every open window after the last record, as the runtime's idle flush does (default true).
   * Set false to see only what stream time alone closed.
   */
  flush?: boolean;
  /** Wall clock for `ingestedat` of outputs (default: a fixed instant, so outputs are reproducible). */
  now?: Date;
  /**
   * Event-time horizon after which a late record can no longer revise its window and is routed,
   * whatever the processor's late policy (default 6 days, as the runtime's `reviseHorizonMs`).
   */
  reviseHorizonMs?: number;
}

/** An output record of the harness. */
export interface HarnessOutput {
  topic: TopicName;
  key: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read any topic's fields without casts
  value: any;
}

/** One log line a processor or the harness wrote. */
export interface HarnessLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** What `runProcessor` returns. */
export interface HarnessResult {
  /** Records produced to output topics, in production order (aggregates: every revision). */
  outputs: HarnessOutput[];
  /** Poison records, processor failures and invalid aggregates, as they would go to `dlq.s3.stream.v1`. */
  deadLetters: DeadLetter[];
  /**
   * Late records routed to `late.s2.stream.v1`: every late record of a processor with `late: 'route'`,
   * and, whatever the policy, those older than the revise horizon.
   */
  late: LateRecord[];
  logs: HarnessLog[];
  /** For aggregations: the latest revision of each key (what an upserting consumer ends up with). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as `value` above
  latest: Map<string, Envelope<any>>;
}

/** The records of the harness's input, wrapped or bare. */
interface Wrapped {
  topic: TopicName;
  value: unknown;
  key?: string | null;
  partition?: number;
  offset?: string | number;
  /**
   * Kafka headers: with a `ce_specversion` header the record is in CloudEvents binary mode (as ingest
   * writes it, `toBinary` of @ondijon/contracts) and `value` is the record value as is (text).
   */
  headers?: Record<string, string>;
  /** Kafka record timestamp (ms since the epoch, decimal): a binary record's `ingestedat` when it has no header. */
  timestamp?: string;
}

/**
 * Runs a processor over records in memory: the runtime's window engine (planner.ts) over the
 * in-memory store, one record per chunk, with an emitter sweep after each record. Decoding, windows,
 * dedupe, lateness, the revise horizon and emission are decided by the same code as on Kafka and
 * Redis. No Kafka, no Redis.
 */
export function runProcessor(
  processor: AnyProcessor,
  records: readonly unknown[],
  options: HarnessOptions = {},
): HarnessResult {
  const now = options.now ?? new Date('2000-01-01T00:00:00.000Z');
  const reviseHorizonMs = options.reviseHorizonMs ?? DEFAULT_REVISE_HORIZON_MS;
  const result: HarnessResult = { outputs: [], deadLetters: [], late: [], logs: [], latest: new Map() };
  const log = (level: HarnessLog['level']) => (fields: Record<string, unknown>, msg: string) =>
    result.logs.push({ level, msg, fields });
  const store = new MemoryWindowStore();
  const claims = new Map<string, { epoch: string; offset: bigint | undefined }>();
  const nextOffset = new Map<string, bigint>();
  const single = processor.inputs.length === 1 ? (processor.inputs[0] as TopicName) : undefined;
  let watermark = Number.NEGATIVE_INFINITY;

  /** The emitter's sweep: closes what the watermark passed (all when flushing), emits every due revision. */
  const sweep = (def: AnyWindowedAggregation, flush: boolean) => {
    const wm = store.watermark(0, Number.POSITIVE_INFINITY);
    watermark = nextWatermark(watermark, wm);
    const score = flush ? Number.POSITIVE_INFINITY : closeScore(wm);
    if (score !== undefined) store.close(score, Number.POSITIVE_INFINITY);
    const rows = store.read(store.pending(Number.POSITIVE_INFINITY));
    const plan = planEmission(def, rows, now);
    for (const out of plan.outputs) {
      result.outputs.push({ topic: out.topic, key: out.key, value: out.value });
      result.latest.set(out.key, out.value);
    }
    for (const letter of plan.letters) {
      log('error')({ code: letter.code, reason: letter.reason }, 'aggregate rejected');
      result.deadLetters.push(letter);
    }
    store.ack(plan.acks);
  };

  for (const input of records) {
    const wrapped =
      typeof input === 'object' &&
      input !== null &&
      'topic' in input &&
      'value' in input &&
      !('specversion' in input);
    const w = input as Wrapped;
    const topic = wrapped ? w.topic : single;
    if (!topic)
      throw new Error(`processor ${processor.name} has several inputs: give records as { topic, value }`);
    const value = wrapped ? w.value : input;
    const partition = wrapped ? (w.partition ?? 0) : 0;
    const tp = `${topic}:${partition}`;
    const offset = wrapped && w.offset !== undefined ? BigInt(w.offset) : (nextOffset.get(tp) ?? 0n);
    nextOffset.set(tp, offset + 1n);
    const binary = wrapped && w.headers !== undefined;
    const subject = binary ? w.headers!.ce_subject : (value as { subject?: unknown } | null)?.subject;
    const timestamp = wrapped ? w.timestamp : undefined;
    const raw: RawRecord = {
      topic,
      key: wrapped && w.key !== undefined ? w.key : typeof subject === 'string' ? subject : null,
      value: binary ? (value as string | null) : (JSON.stringify(value) ?? 'null'),
      ...(binary ? { headers: w.headers } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
      partition,
      offset: offset.toString(),
    };
    let claim = claims.get(tp);
    if (!claim) claims.set(tp, (claim = store.claim(tp)));
    // Offsets already applied on this partition are a replay: skipped, as the runtime does.
    if (claim.offset !== undefined && offset <= claim.offset) continue;
    const chunk = {
      tp,
      epoch: claim.epoch,
      firstOffset: raw.offset,
      lastOffset: raw.offset,
      prevOffset: claim.offset,
      wallNow: 0,
    };
    if (processor.kind === 'stateless') {
      const decoded = decode(processor, raw);
      if (!decoded.ok) result.deadLetters.push(decoded.deadLetter);
      else {
        const recLog = (fields: Record<string, unknown>, msg: string) =>
          log('info')({ ...fields, topic, partition, offset: raw.offset }, msg);
        const { outputs, letter } = processStateless(processor, raw, decoded, recLog);
        for (const o of outputs) result.outputs.push(o);
        if (letter) result.deadLetters.push(letter);
      }
      expectOk(store.advance({ ...chunk, maxEventTime: undefined }));
      claim.offset = offset;
      continue;
    }
    const def = processor;
    const { items, letters } = decodeItems(def, tp, [raw]);
    result.deadLetters.push(...letters);
    // An event id already counted in its window is refused by the store (as by Redis): planned again
    // without it.
    const skip = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const plan = planChunk({
        def,
        items,
        view: (wk) => store.read([wk])[0],
        watermark,
        reviseHorizonMs,
        skip,
      });
      const outcome =
        plan.writes.length === 0
          ? store.advance({ ...chunk, maxEventTime: items.length > 0 ? plan.maxEventTime : undefined })
          : store.apply({
              ...chunk,
              maxEventTime: plan.maxEventTime,
              ttlMs: Number.POSITIVE_INFINITY,
              graceMs: def.graceMs,
              windows: plan.writes,
            });
      if (outcome.status === 'conflict' && outcome.windows.length === 0 && attempt < 3) {
        for (const d of outcome.duplicates) skip.add(`${d.wk}\n${d.id}`);
        continue;
      }
      expectOk(outcome);
      result.deadLetters.push(...plan.failed);
      result.late.push(...plan.routed);
      break;
    }
    claim.offset = offset;
    sweep(def, false);
  }
  if (processor.kind === 'windowed' && options.flush !== false) sweep(processor, true);
  return result;
}

function expectOk(outcome: { status: string }): void {
  // One writer, fresh reads: the memory store can only refuse on a defect of the engine.
  if (outcome.status !== 'ok') throw new Error(`harness state update refused: ${outcome.status}`);
}
