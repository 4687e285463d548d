import {
  compileValidator,
  DATA_OWNER,
  kafkaDeadLetter,
  maxSensitivity,
  OnDijonError,
  Sensitivity,
  toFieldIssues,
  TOPICS,
  uuidFromName,
  type DeadLetter,
  type Envelope,
  type ErrorCode,
  type LateRecord,
  type TopicName,
  decodeRecordValue,
  isBinaryRecord,
  isOnDijonError,
  structuredText,
  type HeaderValue,
} from '@ondijon/contracts';
import type {
  AnyProcessor,
  ContributorDefaults,
  InputRecord,
  ProcessorContext,
  AnyWindowedAggregation,
} from './define';
import { ZodObject, type z } from 'zod';
import { fastParse } from './fast-validate';
import type { TimeWindow } from './windows';

/** Processor callbacks seen by the engine, which handles every topic generically. */
type Loose = (...args: unknown[]) => unknown;

// The pure core shared by the in-memory harness and the Kafka/Redis runtime, so both give the same
// results for the same records: decoding, window assignment, folding, lateness and emission shape.

/** A raw Kafka record before decoding. */
export interface RawRecord {
  /** Logical topic name (registry), whatever physical topic it came from. */
  topic: TopicName;
  key: string | null;
  value: Buffer | string | null;
  /** Kafka headers: a `ce_specversion` header marks a CloudEvents binary-mode record. */
  headers?: Readonly<Record<string, HeaderValue>>;
  partition: number;
  offset: string;
  /**
   * Kafka record timestamp (ms since the epoch, decimal): with the key, a binary-mode telemetry record's
   * `ingestedat` and `subject` when they have no header (packages/contracts cloudevents-binary.ts).
   */
  timestamp?: string;
}

/** Runtime bookkeeping of one window and group, stored next to the accumulator. */
export interface WindowMeta {
  /** Input records folded in (after dedupe). */
  records: number;
  /** Of which late (folded after the window closed). */
  late: number;
  /** Input records per operator (lineage). */
  byOperator: Record<string, number>;
  /** Distinct subjects (equipment ids): for contributor counts, never output. */
  subjects: Record<string, 1>;
  /** Maximum input sensitivity. */
  sensitivity: Sensitivity;
  /** Policy revision of the most recent input. */
  policyRevision: string;
  /** Logical input topics seen. */
  inputs: string[];
}

/** The state of one window and group: the processor's accumulator and the runtime's meta. */
export interface WindowState {
  acc: unknown;
  meta: WindowMeta;
}

/** A decoding outcome: a record for the processor, or a dead letter. */
export type Decoded =
  | { ok: true; record: InputRecord<TopicName>; eventTime: number; envelope: Envelope<unknown> | undefined }
  | { ok: false; deadLetter: DeadLetter };

/** The logger shape the runtime and harness need (pino-compatible; processors never see it). */
export interface StreamLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): StreamLogger;
}

/** A logger that writes nothing (tests, benchmarks). */
export const silentStreamLogger: StreamLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  child: () => silentStreamLogger,
};

/** Builds a dead letter for a record this processor cannot use. */
export function deadLetterFor(
  processor: string,
  raw: RawRecord,
  code: ErrorCode,
  reason: string,
  issues?: DeadLetter['issues'],
  now = new Date(),
): DeadLetter {
  return kafkaDeadLetter(
    deadLetterPayload(raw),
    {
      code,
      reason,
      issues,
      idScope: processor,
      rejectedBy: `processors/${processor}`,
      expectedSchema: raw.topic,
      sensitivity: TOPICS[raw.topic].class,
    },
    now,
  );
}

/**
 * The record a dead letter copies: a binary-mode record's event re-encoded in structured mode, so the
 * dead letter (structured) keeps its attributes; its value as it is when that value is not JSON.
 */
function deadLetterPayload(raw: RawRecord): RawRecord {
  if (!isBinaryRecord(raw.headers)) return raw;
  try {
    const text = raw.value === null ? null : typeof raw.value === 'string' ? raw.value : raw.value.toString();
    return { ...raw, value: structuredText(raw.headers, text, raw.topic, raw) };
  } catch {
    return raw;
  }
}

/** The zod schema of a registered topic, widened (the registry's union of schemas is not callable as is). */
export function schemaOf(topic: TopicName): z.ZodType {
  return TOPICS[topic].schema as z.ZodType;
}

/** A topic's schema without `data` (attribute-only processors), with its compiled check. */
interface AttributesSchema {
  schema: z.ZodType;
  /** True only if zod accepts the attributes unchanged; undefined: always ask zod. */
  keeps: ((v: unknown) => boolean) | undefined;
}
const attributeSchemas = new Map<TopicName, AttributesSchema>();

/** The topic's envelope schema without `data` (the topic's own attribute rules, not a looser copy). */
function attributesSchemaOf(topic: TopicName): AttributesSchema {
  let a = attributeSchemas.get(topic);
  if (!a) {
    const full = schemaOf(topic);
    const schema = full instanceof ZodObject && 'data' in full.shape ? full.omit({ data: true }) : full;
    a = { schema, keeps: compileValidator(schema, { fromJson: true }) };
    attributeSchemas.set(topic, a);
  }
  return a;
}

function isEnvelope(v: unknown): v is Envelope<unknown> {
  return typeof v === 'object' && v !== null && (v as { specversion?: unknown }).specversion === '1.0';
}

/** A poison record: a dead letter with its code, reason and field issues. */
function rejected(
  processor: AnyProcessor,
  raw: RawRecord,
  code: ErrorCode,
  reason: string,
  issues?: DeadLetter['issues'],
): Decoded {
  return { ok: false, deadLetter: deadLetterFor(processor.name, raw, code, reason, issues) };
}

/**
 * Decodes and validates a raw record against its topic schema (poison records become dead letters).
 * An attribute-only processor (`reads: 'attributes'`, define.ts) gets a binary-mode record's attributes
 * without its value ever being read, validated against the envelope schema without `data`.
 */
export function decode(processor: AnyProcessor, raw: RawRecord): Decoded {
  const attributesOnly = processor.kind === 'windowed' && processor.reads === 'attributes';
  const headersOnly = attributesOnly && isBinaryRecord(raw.headers);
  let json: unknown;
  try {
    // Binary mode (attributes in headers, `data` in the value) or structured mode, per record.
    json = decodeRecordValue(raw.headers, raw.value, raw.topic, !headersOnly, raw);
  } catch (error) {
    // A lineage reference the registry topic does not hold (the consumer read it to its end first,
    // packages/kafka lineage-follower.ts) keeps its own code and names the reference.
    if (isOnDijonError(error, 'ONDIJON_LINEAGE_UNKNOWN'))
      return rejected(processor, raw, error.code, error.message);
    return rejected(processor, raw, 'ONDIJON_RECORD_INVALID', 'record value is not JSON');
  }
  if (headersOnly) {
    // Binary mode, value not read: the attributes are checked against the envelope without `data`.
    const check = attributesSchemaOf(raw.topic);
    const parsed = check.keeps?.(json)
      ? { success: true as const, data: json }
      : check.schema.safeParse(json);
    if (!parsed.success)
      return rejected(
        processor,
        raw,
        'ONDIJON_RECORD_INVALID',
        `record attributes do not match the envelope of ${raw.topic}`,
        toFieldIssues(parsed.error).slice(0, 20),
      );
    return decoded(processor, raw, parsed.data);
  }
  // Fast path (hand-checked attributes, zod for `data`); anything it does not accept takes the full
  // zod parse, which decides and names the failing fields.
  const parsed = fastParse(raw.topic, json) ?? schemaOf(raw.topic).safeParse(json);
  if (!parsed.success)
    return rejected(
      processor,
      raw,
      'ONDIJON_RECORD_INVALID',
      `record does not match the schema of ${raw.topic}`,
      toFieldIssues(parsed.error).slice(0, 20),
    );
  let value = parsed.data;
  if (attributesOnly && isEnvelope(value)) {
    // Structured mode: the value was parsed for its attributes; the processor gets them alone.
    const { data: _data, ...attributes } = value;
    value = attributes;
  }
  return decoded(processor, raw, value);
}

/** A validated value as the processor's record, with its event time (windowed processors). */
function decoded(processor: AnyProcessor, raw: RawRecord, value: unknown): Decoded {
  const record = {
    topic: raw.topic,
    value,
    key: raw.key,
    partition: raw.partition,
    offset: raw.offset,
  } as InputRecord<TopicName>;
  const envelope = isEnvelope(value) ? value : undefined;
  let eventTime = Number.NaN;
  if (processor.kind === 'windowed') {
    eventTime = processor.eventTime
      ? processor.eventTime(record)
      : envelope
        ? Date.parse(envelope.time)
        : Number.NaN;
    if (!Number.isFinite(eventTime)) {
      return {
        ok: false,
        deadLetter: deadLetterFor(processor.name, raw, 'ONDIJON_RECORD_INVALID', 'record has no event time'),
      };
    }
  }
  return { ok: true, record, eventTime, envelope };
}

/** The groups of a record as a list (a processor's `key` may return one, several or none). */
export function groupsOf(def: AnyWindowedAggregation, record: InputRecord<TopicName>): unknown[] {
  const g = def.key(record);
  if (g === undefined || g === null) return [];
  return Array.isArray(g) ? g : [g];
}

const oneKeyGroups = new Map<string, Map<unknown, string>>();

/** Stable text of a group: `k=v` pairs sorted by key, joined by `;`. */
export function groupKey(group: unknown): string {
  if (typeof group !== 'object' || group === null) return String(group);
  // Hot path (every record): a one-key group needs no sort.
  let only: string | undefined;
  let n = 0;
  for (const k in group) {
    if (!Object.prototype.hasOwnProperty.call(group, k)) continue;
    if (++n > 1) break;
    only = k;
  }
  if (n === 1) {
    const v = (group as Record<string, unknown>)[only!];
    if (typeof v !== 'string' && typeof v !== 'number') return `${only!}=${String(v)}`;
    // Cached per key and value (no string built per record).
    let byValue = oneKeyGroups.get(only!);
    if (!byValue) oneKeyGroups.set(only!, (byValue = new Map()));
    let text = byValue.get(v);
    if (text === undefined) {
      text = `${only!}=${String(v)}`;
      if (byValue.size >= 50_000) byValue.clear();
      byValue.set(v, text);
    }
    return text;
  }
  return Object.keys(group)
    .sort()
    .map((k) => `${k}=${String((group as Record<string, unknown>)[k])}`)
    .join(';');
}

/** Deterministic aggregate key: `processor|group|windowStart` (downstream upserts are idempotent). */
export function aggregateKey(processor: string, group: unknown, windowStart: number): string {
  return `${processor}|${groupKey(group)}|${new Date(windowStart).toISOString()}`;
}

/** A fresh window state. */
export function initState(def: AnyWindowedAggregation): WindowState {
  return {
    acc: def.init(),
    meta: {
      records: 0,
      late: 0,
      byOperator: {},
      subjects: {},
      sensitivity: 'S0',
      policyRevision: '',
      inputs: [],
    },
  };
}

/** Folds one record into a window state (mutates `state`). */
export function fold(
  def: AnyWindowedAggregation,
  state: WindowState,
  record: InputRecord<TopicName>,
  envelope: Envelope<unknown> | undefined,
  group: unknown,
  late: boolean,
): void {
  state.acc = (def.add as Loose)(state.acc, record, group);
  const m = state.meta;
  m.records += 1;
  if (late) m.late += 1;
  const operator = envelope?.operator ?? 'unknown';
  m.byOperator[operator] = (m.byOperator[operator] ?? 0) + 1;
  if (envelope?.subject) m.subjects[envelope.subject] = 1;
  m.sensitivity = maxSensitivity(m.sensitivity, envelope?.sensitivity ?? TOPICS[record.topic].class);
  if (envelope?.policyrevision) m.policyRevision = envelope.policyrevision;
  if (!m.inputs.includes(record.topic)) m.inputs.push(record.topic);
}

/** Whether a record for `window` is late: its window is closed, or stream time passed end + grace. */
export function isLate(
  def: AnyWindowedAggregation,
  window: TimeWindow,
  closed: boolean,
  watermark: number,
): boolean {
  return closed || window.end + def.graceMs <= watermark;
}

/** The late-topic record for a routed late record. */
export function lateRecordFor(
  processor: string,
  record: InputRecord<TopicName>,
  eventId: string,
  eventTime: number,
  window: TimeWindow,
  streamTime: number,
): LateRecord {
  return {
    processor,
    inputTopic: record.topic,
    partition: record.partition,
    offset: record.offset,
    eventId,
    eventTime: new Date(eventTime).toISOString(),
    windowStart: new Date(window.start).toISOString(),
    windowEnd: new Date(window.end).toISOString(),
    streamTime: new Date(Number.isFinite(streamTime) ? streamTime : eventTime).toISOString(),
  };
}

/** An aggregate ready to produce: its Kafka key and its envelope. */
export interface AggregateOutput {
  topic: TopicName;
  key: string;
  value: Envelope<unknown>;
}

/** Builds and validates the aggregate envelope of a window at a revision (provenance and sensitivity filled in). */
export function buildAggregate(
  def: AnyWindowedAggregation,
  state: WindowState,
  group: unknown,
  window: TimeWindow,
  revision: number,
  now: Date = new Date(),
): AggregateOutput {
  const key = aggregateKey(def.name, group, window.start);
  const defaults: ContributorDefaults = {
    equipment: Object.keys(state.meta.subjects).length,
    operators: Object.keys(state.meta.byOperator).length,
  };
  const dominance = def.dominance?.(state.acc);
  const data = {
    key,
    processor: def.name,
    processorVersion: def.version,
    group,
    windowStart: new Date(window.start).toISOString(),
    windowEnd: new Date(window.end).toISOString(),
    revision,
    values: (def.result as Loose)(state.acc, window, group),
    contributors: def.contributors ? def.contributors(state.acc, defaults) : defaults,
    ...(dominance ? { dominance } : {}),
    inputRecords: state.meta.records,
    lateRecords: state.meta.late,
  };
  const commune =
    typeof group === 'object' && group !== null ? (group as { commune?: unknown }).commune : undefined;
  const envelope = {
    specversion: '1.0' as const,
    id: uuidFromName(`ondijon:aggregate:${key}:${revision}`),
    source: `ondijon/processors/${def.name}`,
    type: `fr.dijon.ondijon.aggregate.${def.name}.v1`,
    subject: key,
    time: data.windowEnd,
    datacontenttype: 'application/json' as const,
    dataschema: `urn:ondijon:topic:${def.output}`,
    data,
    ingestedat: now.toISOString(),
    operator: 'ondijon',
    owner: DATA_OWNER,
    contractref: 'ondijon-processing',
    ...(typeof commune === 'string' && /^\d{5}$/.test(commune) ? { commune } : {}),
    sensitivity: state.meta.sensitivity,
    policyrevision: state.meta.policyRevision || 'unknown',
    schemaversion: '1.0.0',
    sequence: revision,
    lineage: {
      inputs: state.meta.inputs.length > 0 ? [...state.meta.inputs].sort() : [...def.inputs],
      producer: def.name,
      producerVersion: def.version,
      window: { start: data.windowStart, end: data.windowEnd },
      countsByOperator: state.meta.byOperator,
    },
  };
  const parsed = schemaOf(def.output).safeParse(envelope);
  if (!parsed.success) {
    throw new OnDijonError(
      'ONDIJON_PROCESSOR_FAILED',
      `processor ${def.name} produced an aggregate that does not match ${def.output}`,
      {
        details: { issues: toFieldIssues(parsed.error).slice(0, 10), key },
      },
    );
  }
  return { topic: def.output, key, value: parsed.data as Envelope<unknown> };
}

/** The context handed to stateless processors. */
export function processorContext(
  def: AnyProcessor,
  log: (fields: Record<string, unknown>, msg: string) => void,
  inputTopic: string,
): ProcessorContext {
  return {
    processor: { name: def.name, version: def.version },
    log,
    derive(input, data, fields) {
      const sensitivity = maxSensitivity(input.sensitivity, fields.sensitivity ?? 'S0');
      return {
        ...input,
        id: fields.id ?? uuidFromName(`ondijon:derived:${def.name}:${input.id}:${fields.type}`),
        type: fields.type,
        ...(fields.subject === undefined ? {} : { subject: fields.subject }),
        data,
        sensitivity,
        lineage: { inputs: [inputTopic], producer: def.name, producerVersion: def.version },
      };
    },
  };
}

/** Validates a stateless output against its topic schema. */
export function validateOutput(def: AnyProcessor, topic: TopicName, value: unknown): unknown {
  const parsed = schemaOf(topic).safeParse(value);
  if (!parsed.success) {
    throw new OnDijonError(
      'ONDIJON_PROCESSOR_FAILED',
      `processor ${def.name} produced a record that does not match ${topic}`,
      {
        details: { issues: toFieldIssues(parsed.error).slice(0, 10) },
      },
    );
  }
  return parsed.data;
}

/** Sensitivity class of a topic from the registry (re-exported for the runtime's headers). */
export function topicClass(topic: TopicName): Sensitivity {
  return Sensitivity.parse(TOPICS[topic].class);
}
