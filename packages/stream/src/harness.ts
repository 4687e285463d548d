import type { DeadLetter, Envelope, LateRecord, TopicName, TopicValue } from '@ondijon/contracts';
import { isOnDijonError } from '@ondijon/contracts';
import type { AnyProcessor, AnyStatelessProcessor, AnyWindowedAggregation } from './define';
import {
  buildAggregate,
  decode,
  deadLetterFor,
  fold,
  groupKey,
  groupsOf,
  initState,
  isLate,
  lateRecordFor,
  processorContext,
  validateOutput,
  type RawRecord,
  type WindowState,
} from './engine';
import { windowsFor, type TimeWindow } from './windows';

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
  /** Poison records and processor failures, as they would go to `dlq.s3.stream.v1`. */
  deadLetters: DeadLetter[];
  /** Late records routed to `late.s2.stream.v1` (processors with `late: 'route'`). */
  late: LateRecord[];
  logs: HarnessLog[];
  /** For aggregations: the latest revision of each key (what an upserting consumer ends up with). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as `value` above
  latest: Map<string, Envelope<any>>;
}

interface MemWindow {
  state: WindowState;
  group: unknown;
  window: TimeWindow;
  closed: boolean;
  /** Last emitted revision, -1 before the first emission. */
  revision: number;
  dirty: boolean;
  ids: Set<string>;
}

/**
 * Runs a processor over records in memory, with the same decoding, windows, dedupe, lateness and
 * emission rules as the Kafka/Redis runtime (they share `engine.ts`). No Kafka, no Redis.
 */
export function runProcessor(
  processor: AnyProcessor,
  records: readonly unknown[],
  options: HarnessOptions = {},
): HarnessResult {
  const now = options.now ?? new Date('2000-01-01T00:00:00.000Z');
  const result: HarnessResult = { outputs: [], deadLetters: [], late: [], logs: [], latest: new Map() };
  const log = (level: HarnessLog['level']) => (fields: Record<string, unknown>, msg: string) =>
    result.logs.push({ level, msg, fields });
  const lastOffset = new Map<string, bigint>();
  const nextOffset = new Map<string, bigint>();
  const streamTime = new Map<string, number>();
  const windows = new Map<string, MemWindow>();
  const single = processor.inputs.length === 1 ? (processor.inputs[0] as TopicName) : undefined;

  const watermark = () =>
    streamTime.size === 0 ? Number.NEGATIVE_INFINITY : Math.min(...streamTime.values());

  const emit = (def: AnyWindowedAggregation, w: MemWindow, revision: number) => {
    try {
      const out = buildAggregate(def, w.state, w.group, w.window, revision, now);
      result.outputs.push({ topic: out.topic, key: out.key, value: out.value });
      result.latest.set(out.key, out.value);
    } catch (err) {
      log('error')({ code: isOnDijonError(err) ? err.code : undefined, err }, 'aggregate rejected');
      throw err;
    }
    w.revision = revision;
    w.dirty = false;
  };

  const closeDue = (def: AnyWindowedAggregation, force: boolean) => {
    const wm = watermark();
    const due = [...windows.values()].filter(
      (w) => (!w.closed && (force || w.window.end + def.graceMs <= wm)) || (w.closed && w.dirty),
    );
    due.sort((a, b) => a.window.end - b.window.end || groupKey(a.group).localeCompare(groupKey(b.group)));
    for (const w of due) {
      w.closed = true;
      emit(def, w, w.revision + 1);
    }
  };

  records.forEach((input) => {
    const wrapped =
      typeof input === 'object' &&
      input !== null &&
      'topic' in input &&
      'value' in input &&
      !('specversion' in input);
    const w = input as {
      topic: TopicName;
      value: unknown;
      key?: string | null;
      partition?: number;
      offset?: string | number;
    };
    const topic = wrapped ? w.topic : single;
    if (!topic)
      throw new Error(`processor ${processor.name} has several inputs: give records as { topic, value }`);
    const value = wrapped ? w.value : input;
    const partition = wrapped ? (w.partition ?? 0) : 0;
    const tp = `${topic}:${partition}`;
    const offset = wrapped && w.offset !== undefined ? BigInt(w.offset) : (nextOffset.get(tp) ?? 0n);
    nextOffset.set(tp, offset + 1n);
    const subject = (value as { subject?: unknown } | null)?.subject;
    const raw: RawRecord = {
      topic,
      key: wrapped && w.key !== undefined ? w.key : typeof subject === 'string' ? subject : null,
      value: JSON.stringify(value) ?? 'null',
      partition,
      offset: offset.toString(),
    };
    // Offsets already applied on this partition are a replay: skipped, as the Redis offset check does.
    const last = lastOffset.get(tp);
    if (last !== undefined && offset <= last) return;
    lastOffset.set(tp, offset);
    const decoded = decode(processor, raw);
    if (!decoded.ok) {
      result.deadLetters.push(decoded.deadLetter);
      return;
    }
    const recLog = (fields: Record<string, unknown>, msg: string) =>
      log('info')({ ...fields, topic, partition, offset: raw.offset }, msg);
    if (processor.kind === 'stateless') {
      runStateless(processor, raw, decoded.record, recLog, result);
      return;
    }
    const def = processor;
    const ok = decoded;
    const eventId = decoded.envelope?.id ?? `${tp}:${raw.offset}`;
    streamTime.set(tp, Math.max(streamTime.get(tp) ?? Number.NEGATIVE_INFINITY, decoded.eventTime));
    // A processor that throws leaves no partial fold behind: the touched windows are restored.
    const touched = new Map<string, MemWindow | undefined>();
    try {
      foldRecord();
    } catch (err) {
      for (const [wk, before] of touched) {
        if (before) windows.set(wk, before);
        else windows.delete(wk);
      }
      const code = isOnDijonError(err) ? err.code : 'ONDIJON_PROCESSOR_FAILED';
      result.deadLetters.push(
        deadLetterFor(def.name, raw, code, err instanceof Error ? err.message : String(err)),
      );
      return;
    }
    closeDue(def, false);

    function foldRecord(): void {
      for (const group of groupsOf(def, ok.record)) {
        for (const window of windowsFor(def.window, ok.eventTime)) {
          const wk = `${window.start}|${groupKey(group)}`;
          let mw = windows.get(wk);
          if (!touched.has(wk))
            touched.set(wk, mw && { ...mw, state: structuredClone(mw.state), ids: new Set(mw.ids) });
          const late = isLate(def, window, mw?.closed ?? false, watermark());
          if (late && def.late === 'route') {
            result.late.push(lateRecordFor(def.name, ok.record, eventId, ok.eventTime, window, watermark()));
            continue;
          }
          if (!mw) {
            mw = {
              state: initState(def),
              group,
              window,
              closed: false,
              revision: -1,
              dirty: false,
              ids: new Set(),
            };
            windows.set(wk, mw);
          }
          if (mw.ids.has(eventId)) continue;
          mw.ids.add(eventId);
          fold(def, mw.state, ok.record, ok.envelope, group, late);
          if (late) mw.dirty = true;
        }
      }
    }
  });
  if (processor.kind === 'windowed' && options.flush !== false) closeDue(processor, true);
  return result;
}

function runStateless(
  def: AnyStatelessProcessor,
  raw: RawRecord,
  record: unknown,
  log: (f: Record<string, unknown>, m: string) => void,
  result: HarnessResult,
): void {
  try {
    const out = def.process(record, processorContext(def, log, raw.topic));
    const list = out === undefined || out === null ? [] : Array.isArray(out) ? out : [out];
    for (const o of list as { topic: TopicName; key?: string; value: unknown }[]) {
      const value = validateOutput(def, o.topic, o.value);
      result.outputs.push({ topic: o.topic, key: o.key ?? raw.key, value });
    }
  } catch (err) {
    const code = isOnDijonError(err) ? err.code : 'ONDIJON_PROCESSOR_FAILED';
    result.deadLetters.push(
      deadLetterFor(def.name, raw, code, err instanceof Error ? err.message : String(err)),
    );
  }
}
