import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DATA_OWNER, type Envelope, type Lineage } from './envelope';
import { OnDijonError } from './errors';
import { LINEAGE_REGISTRY_TOPIC } from './kafka-topics';
import { MQTT_TOPIC_ROOT } from './mqtt-topics';
import { TELEMETRY_SCHEMA_VERSION } from './telemetry';
import { stringifyAscii } from './wire';

// CloudEvents Kafka protocol binding, binary content mode (docs/architecture.md, "Record format"):
// every attribute is a `ce_<name>` header (UTF-8 text), `datacontenttype` is the `content-type`
// header and the record value holds only `data` (JSON). This is the one module that writes and reads
// it. Readers decide per record from the `ce_specversion` header: without it the value is a
// structured-mode envelope (the format written before), so existing data and mixed topics read the same.
//
// Attributes that are the same for every record of a topic are not repeated per record: they are
// the topic's constants (`topicConstants`, derived from the topic registry), omitted from the headers
// when equal and put back by the reader. `owner` is always Dijon Métropole (a literal of the schema);
// telemetry lineage's `inputs` and `producer` are always `mqtt` and `ingest`, its `schemaversion` is
// the telemetry schema version and its `dataschema` follows from its `type` (one family per type).
//
// The rest of a telemetry record's lineage (producer version, the policy's field actions) is the same
// for every record of a family at a policy revision, so ingest writes it once to the lineage registry
// topic (`ref.s0.lineage.v1`, compacted, keyed by the hash of the lineage text) and each record carries
// only that hash in `ce_lineageref` (the schema-registry pattern). Readers resolve it from an in-memory
// map that `createConsumer` (packages/kafka lineage-follower.ts) fills from the registry topic before a
// batch is handed over, so decoding stays synchronous; records written with `ce_lineage` read as before.
//
// Four more attributes of a telemetry record follow from what the record already holds, and are left out
// of its headers when they do (a header present always wins, so a record that differs keeps it):
// - `sensitivity` is the class in the topic's name (`tel.s1.*` holds S1 records: ingest routes by class);
// - `subject` is the record key (ingest keys telemetry by the equipment, its subject);
// - `mqtttopic` follows from `source` (`ondijon/<family>/<operator>/<id>` was received on
//   `ondijon/v1/<family>/<operator>/<id>`, packages/contracts mqtt-topics.ts);
// - `ingestedat` is the Kafka record timestamp (ingest sets it, `BinaryRecord.timestamp`).
// A reader therefore passes the record's key and timestamp (`RecordMeta`) with its headers and value.

/** Header that marks a binary-mode record (CloudEvents Kafka binding). */
export const CE_SPECVERSION_HEADER = 'ce_specversion';
/** Header of `datacontenttype` in binary mode. */
export const CE_CONTENT_TYPE_HEADER = 'content-type';
/** Header of the `lineage` extension (JSON text of what differs from the topic's constant lineage). */
export const CE_LINEAGE_HEADER = 'ce_lineage';
/**
 * Header that replaces `ce_lineage` on telemetry: the lineage registry key (`lineageRef`) of that JSON
 * text, whose value is the text itself in the registry topic.
 */
export const CE_LINEAGEREF_HEADER = 'ce_lineageref';

/** Envelope attributes in schema order (the order of `Envelope`, so decoded objects keep it). */
const ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
  'ingestedat',
  'operator',
  'owner',
  'contractref',
  'commune',
  'sensitivity',
  'policyrevision',
  'schemaversion',
  'sequence',
  'mqtttopic',
  'lineage',
] as const;

type Attribute = (typeof ATTRIBUTES)[number];

const headerOf = (a: Attribute): string =>
  a === 'datacontenttype' ? CE_CONTENT_TYPE_HEADER : a === 'lineage' ? CE_LINEAGE_HEADER : `ce_${a}`;

/** Header name of each attribute (`data` has none: it is the value). */
export const CE_HEADERS: Readonly<Record<Exclude<Attribute, 'data'>, string>> = Object.freeze(
  Object.fromEntries(ATTRIBUTES.filter((a) => a !== 'data').map((a) => [a, headerOf(a)])) as Record<
    Exclude<Attribute, 'data'>,
    string
  >,
);

/**
 * The headers of a binary-mode record (text values): the CloudEvents required attributes, the
 * content type, and every other attribute optional (a topic's constants are left out). Exported as a
 * JSON Schema to docs/schemas (`pnpm contracts:export`).
 */
export const BinaryHeaders = z
  .object({
    ce_specversion: z.literal('1.0'),
    ce_id: z.string().min(1),
    ce_source: z.string().min(1),
    ce_type: z.string().min(1),
    'content-type': z.literal('application/json'),
    ce_subject: z.string().optional(),
    ce_time: z.string().optional(),
    ce_dataschema: z.string().optional(),
    ce_ingestedat: z.string().optional(),
    ce_operator: z.string().optional(),
    ce_owner: z.string().optional(),
    ce_contractref: z.string().optional(),
    ce_commune: z.string().optional(),
    ce_sensitivity: z.string().optional(),
    ce_policyrevision: z.string().optional(),
    ce_schemaversion: z.string().optional(),
    ce_sequence: z.string().regex(/^\d+$/).optional(),
    ce_mqtttopic: z.string().optional(),
    /** JSON of the lineage keys that differ from the topic's constants. */
    ce_lineage: z.string().optional(),
    /** Instead of `ce_lineage`: the registry key of that JSON (16 hex digits, see `lineageRef`). */
    ce_lineageref: z
      .string()
      .regex(/^[0-9a-f]{16}$/)
      .optional(),
  })
  .catchall(z.string());

/** Attribute values that are the same for every record of a topic, left out of the headers. */
export interface TopicConstants {
  /** String attributes (`owner`, `schemaversion`…) omitted when equal. */
  attributes: Readonly<Partial<Record<Attribute, string>>>;
  /** Lineage keys omitted when equal (compared as JSON). */
  lineage: Readonly<Partial<Lineage>>;
  /**
   * `dataschema` as it follows from `type`, when a topic's records state it that way (telemetry: one
   * schema per family, the family in the type): omitted when equal, put back from `type`.
   */
  dataschemaOf?: (type: string) => string | undefined;
  /** `mqtttopic` as it follows from `source`: omitted when equal, put back from `source`. */
  mqtttopicOf?: (source: string) => string | undefined;
  /** `subject` is the record key: omitted when equal (the writer passes the key), put back from the key. */
  subjectIsKey?: boolean;
  /**
   * `ingestedat` is the record timestamp: the writer that asks for it (`recordTimestamp`) gets the
   * timestamp to give the record instead of the header; put back from the record's timestamp.
   */
  ingestedatIsTimestamp?: boolean;
}

/** What a binary-mode record holds besides its headers and value, that its decoder may need. */
export interface RecordMeta {
  /** The record key (kafkajs gives a Buffer). */
  key?: Buffer | string | null;
  /** The record timestamp, milliseconds since the epoch (kafkajs gives a decimal string). */
  timestamp?: string | number | null;
}

const OWNER_ONLY: TopicConstants = Object.freeze({
  attributes: Object.freeze({ owner: DATA_OWNER }),
  lineage: Object.freeze({}),
});
/** `fr.dijon.ondijon.telemetry.<family>.v<N>` (envelope.ts `telemetryEventType`). */
const TELEMETRY_TYPE = /^fr\.dijon\.ondijon\.telemetry\.([a-z0-9-]+)\.(v\d+)$/;

/** The telemetry `dataschema` of a type (services/ingest pipeline.ts `telemetryEnvelope` writes the same). */
function telemetryDataschema(type: string): string | undefined {
  const m = TELEMETRY_TYPE.exec(type);
  return m === null ? undefined : `urn:ondijon:schemas:telemetry/${m[1]}.${m[2]}.json`;
}

const SOURCE_ROOT = 'ondijon/';

/** The MQTT topic a telemetry `source` was received on (services/ingest pipeline.ts `telemetryEnvelope`). */
function telemetryMqttTopic(source: string): string | undefined {
  return source.startsWith(SOURCE_ROOT)
    ? `${MQTT_TOPIC_ROOT}/${source.slice(SOURCE_ROOT.length)}`
    : undefined;
}

/** The constants of a telemetry topic of class `sensitivity` (the class in its name). */
function telemetryConstants(sensitivity: string): TopicConstants {
  return Object.freeze({
    attributes: Object.freeze({ owner: DATA_OWNER, schemaversion: TELEMETRY_SCHEMA_VERSION, sensitivity }),
    lineage: Object.freeze({ inputs: ['mqtt'], producer: 'ingest' }),
    dataschemaOf: telemetryDataschema,
    mqtttopicOf: telemetryMqttTopic,
    subjectIsKey: true,
    ingestedatIsTimestamp: true,
  });
}

const TELEMETRY_BY_CLASS = new Map(['S0', 'S1', 'S2', 'S3'].map((c) => [c, telemetryConstants(c)]));

/**
 * The constants of a topic (by registry name, e.g. `tel.s1.lighting.v1`): telemetry (`tel.*`, `pii.*`)
 * records come from ingest out of MQTT; every record's owner is Dijon Métropole.
 */
export function topicConstants(topic: string | undefined): TopicConstants {
  if (topic === undefined) return OWNER_ONLY;
  // Asked per record by every reader: the answer is kept per topic name.
  let c = constantsByTopic.get(topic);
  if (c === undefined) {
    const m = TELEMETRY_TOPIC.exec(topic);
    c = m === null ? OWNER_ONLY : TELEMETRY_BY_CLASS.get(`S${m[1]}`)!;
    if (constantsByTopic.size >= 1024) constantsByTopic.clear();
    constantsByTopic.set(topic, c);
  }
  return c;
}

const constantsByTopic = new Map<string, TopicConstants>();

/** A telemetry topic name, also behind a run prefix (`<run>.tel.s1.lighting.v1`). */
const TELEMETRY_TOPIC = /(?:^|\.)(?:tel|pii)\.s([0-3])\.[a-z0-9-]+\.v\d+$/;

/**
 * The physical name of the lineage registry topic beside a physical topic (same run prefix:
 * `<run>.tel.s1.lighting.v1` → `<run>.ref.s0.lineage.v1`).
 */
export function lineageRegistryTopicFor(topic: string): string {
  const m = /^(.*?)(?:ref|tel|pii|dlq|late|agg)\.s[0-4]\.[a-z0-9-]+\.v\d+$/.exec(topic);
  return `${m?.[1] ?? ''}${LINEAGE_REGISTRY_TOPIC}`;
}

/** A lineage to write to the registry topic: key `ref`, value `text`. */
export interface LineageEntry {
  ref: string;
  text: string;
}

/** A record in binary mode: headers (text) and the value (JSON of `data`, ASCII-only). */
export interface BinaryRecord {
  headers: Record<string, string>;
  value: string;
  /**
   * With `lineageRef`: the registry entry the record references (in `ce_lineageref`), which must be
   * acknowledged on the registry topic before the record is written.
   */
  lineage?: LineageEntry;
  /**
   * With `recordTimestamp`, on a topic whose `ingestedat` is the record timestamp: the timestamp the
   * record must be written with (milliseconds since the epoch, decimal), `ingestedat` having no header.
   */
  timestamp?: string;
}

/** Options of `toBinary`. */
export interface ToBinaryOptions {
  /** Write the lineage as a registry reference (`ce_lineageref`) instead of its JSON (`ce_lineage`). */
  lineageRef?: boolean;
  /** The record's key: on a topic whose subject is the key, `subject` has no header when equal. */
  key?: string | null;
  /**
   * The writer sets the record timestamp to `BinaryRecord.timestamp`: on a topic whose `ingestedat` is
   * the record timestamp, `ingestedat` then has no header (when it is an ISO time in milliseconds).
   */
  recordTimestamp?: boolean;
}

/** Milliseconds of an ISO time written as `Date.toISOString` writes it, else undefined (the header is kept). */
function isoMillis(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) && new Date(ms).toISOString() === v ? ms : undefined;
}

/**
 * The registry key of a lineage JSON text: the first 16 hex digits (64 bits) of its SHA-256. The key is
 * the hash of the exact text the registry holds, so an entry is checked against its key when it is read.
 */
export function lineageRef(text: string): string {
  let ref = refOfText.get(text);
  if (ref === undefined) {
    ref = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
    if (refOfText.size >= 1024) refOfText.clear();
    refOfText.set(text, ref);
  }
  return ref;
}

const refOfText = new Map<string, string>();
/** Lineage JSON texts by registry key, as read from the registry topic (or written by this process). */
const lineageTexts = new Map<string, string>();

/**
 * Makes a registry entry known to this process's decoder. False (and nothing kept) when the text is
 * not the one its key is the hash of: a record that names the key then fails as an unknown lineage.
 */
export function registerLineage(ref: string, text: string): boolean {
  if (lineageRef(text) !== ref) return false;
  lineageTexts.set(ref, text);
  return true;
}

/** True when the decoder can resolve this registry key. */
export function isLineageKnown(ref: string): boolean {
  return lineageTexts.has(ref);
}

/** The lineage text of a registry key; throws ONDIJON_LINEAGE_UNKNOWN naming the key when it is not known. */
function resolveLineage(ref: string): string {
  const text = lineageTexts.get(ref);
  if (text !== undefined) return text;
  throw new OnDijonError(
    'ONDIJON_LINEAGE_UNKNOWN',
    `lineage ${ref} (header ${CE_LINEAGEREF_HEADER}) is not in the lineage registry topic ${LINEAGE_REGISTRY_TOPIC}`,
    { details: { lineageRef: ref } },
  );
}

/**
 * Encodes an envelope in binary content mode. Attributes absent from the envelope get no header;
 * `sequence` is written in decimal, `lineage` as JSON of what differs from the topic's constants (or,
 * with `lineageRef`, as the registry key of that JSON, the entry returned with the record).
 */
export function toBinary(
  envelope: Envelope<unknown>,
  constants: TopicConstants = OWNER_ONLY,
  options: ToBinaryOptions = {},
): BinaryRecord {
  const headers: Record<string, string> = {};
  const env = envelope as unknown as Record<string, unknown>;
  let timestamp: string | undefined;
  for (const a of ATTRIBUTES) {
    if (a === 'data' || a === 'lineage') continue;
    const v = env[a];
    if (v === undefined) continue;
    if (constants.attributes[a] === v) continue;
    if (a === 'dataschema' && constants.dataschemaOf !== undefined && typeof envelope.type === 'string')
      if (constants.dataschemaOf(envelope.type) === v) continue;
    if (a === 'mqtttopic' && constants.mqtttopicOf !== undefined && typeof envelope.source === 'string')
      if (constants.mqtttopicOf(envelope.source) === v) continue;
    if (a === 'subject' && constants.subjectIsKey === true && options.key === v) continue;
    if (a === 'ingestedat' && constants.ingestedatIsTimestamp === true && options.recordTimestamp === true) {
      const ms = isoMillis(v);
      if (ms !== undefined) {
        timestamp = String(ms);
        continue;
      }
    }
    headers[headerOf(a)] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const lineage: Record<string, unknown> = {};
  let kept = 0;
  for (const [k, v] of Object.entries(envelope.lineage)) {
    const c = (constants.lineage as Record<string, unknown>)[k];
    if (c !== undefined && JSON.stringify(c) === JSON.stringify(v)) continue;
    lineage[k] = v;
    kept++;
  }
  const value = envelope.data === undefined ? '' : stringifyAscii(envelope.data);
  const out: BinaryRecord = { headers, value };
  if (timestamp !== undefined) out.timestamp = timestamp;
  if (kept === 0) return out;
  const text = JSON.stringify(lineage);
  if (options.lineageRef !== true) {
    headers[CE_LINEAGE_HEADER] = text;
    return out;
  }
  const ref = lineageRef(text);
  lineageTexts.set(ref, text);
  headers[CE_LINEAGEREF_HEADER] = ref;
  out.lineage = { ref, text };
  return out;
}

/** A Kafka header value as kafkajs gives it. */
export type HeaderValue = Buffer | string | (Buffer | string | undefined)[] | undefined | null;

function headerText(v: HeaderValue): string | undefined {
  if (v === undefined || v === null) return undefined;
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined) return undefined;
  return typeof one === 'string' ? one : one.toString('utf8');
}

/** True if the record is in binary content mode (it has a `ce_specversion` header). */
export function isBinaryRecord(headers: Readonly<Record<string, HeaderValue>> | undefined | null): boolean {
  return headers !== undefined && headers !== null && headers[CE_SPECVERSION_HEADER] !== undefined;
}

const DECIMAL = /^(?:0|[1-9]\d{0,15})$/;

// Decoding is the hot path of every reader of a telemetry topic (bench:stream: `fromBinary` was a
// quarter of the windowed runtime's CPU, `pnpm bench:stream` with BENCH_CPU_PROFILE). Header names are
// built once, and header values that repeat (most attributes of a record are the same as the previous
// record's: type, operator, policy revision, lineage…) are decoded once: the text of the same bytes is
// the same string.

/** Header name of each attribute, by index in ATTRIBUTES (`data`: none). */
const HEADER_NAMES: readonly string[] = ATTRIBUTES.map((a) => (a === 'data' ? '' : headerOf(a)));
const DATA_AT = ATTRIBUTES.indexOf('data');
const LINEAGE_AT = ATTRIBUTES.indexOf('lineage');
const DATASCHEMA_AT = ATTRIBUTES.indexOf('dataschema');
const SEQUENCE_AT = ATTRIBUTES.indexOf('sequence');
const SUBJECT_AT = ATTRIBUTES.indexOf('subject');
const MQTTTOPIC_AT = ATTRIBUTES.indexOf('mqtttopic');
const INGESTEDAT_AT = ATTRIBUTES.indexOf('ingestedat');

/** The ISO time of a record timestamp (milliseconds since the epoch), or undefined. */
function isoOfMillis(ts: string | number): string | undefined {
  const ms = Number(ts);
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= 8.64e15 ? new Date(ms).toISOString() : undefined;
}

/** An attribute a topic leaves out of the headers because the record holds it elsewhere (see the top). */
function derivedAttribute(
  i: number,
  out: Record<string, unknown>,
  constants: TopicConstants,
  record: RecordMeta | undefined,
): string | undefined {
  if (i === DATASCHEMA_AT)
    return typeof out.type === 'string' ? constants.dataschemaOf?.(out.type) : undefined;
  if (i === SUBJECT_AT)
    return constants.subjectIsKey === true && record?.key != null ? attributeText(i, record.key) : undefined;
  if (i === MQTTTOPIC_AT)
    return typeof out.source === 'string' ? constants.mqtttopicOf?.(out.source) : undefined;
  if (i === INGESTEDAT_AT)
    return constants.ingestedatIsTimestamp === true && record?.timestamp != null
      ? isoOfMillis(record.timestamp)
      : undefined;
  return undefined;
}
/** Header values longer than this are decoded every time (never cached). */
const CACHED_VALUE_MAX_BYTES = 512;
/** Per attribute: the bytes and text of the last value decoded (the bytes copied: fetch buffers are reused). */
const lastBytes: (Buffer | undefined)[] = ATTRIBUTES.map(() => undefined);
const lastText: (string | undefined)[] = ATTRIBUTES.map(() => undefined);
/** Per attribute: +1 per repeat, -1 per change, within ±16; a value that keeps changing is not copied. */
const repeats: number[] = ATTRIBUTES.map(() => 0);
/** Records decoded since an attribute that keeps changing was last given a chance to be cached. */
let sinceRetry = 0;

/** Byte equality; a loop for short values (Buffer.equals is a call into C++, dearer under ~64 bytes). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  if (n > 64) return a.equals(b);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** Attribute index of each header name. */
const ATTRIBUTE_OF_HEADER = new Map<string, number>(
  HEADER_NAMES.map((h, i): [string, number] => [h, i]).filter(([h]) => h !== ''),
);
/** The record's header values by attribute index (scratch, emptied after each record). */
const slots: HeaderValue[] = ATTRIBUTES.map(() => undefined);

/** The text of attribute `i`'s header (as `headerText`), from the last value's when the bytes are the same. */
function attributeText(i: number, v: HeaderValue): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Buffer.isBuffer(v)) return headerText(v);
  const prev = lastBytes[i];
  if (prev !== undefined && prev.length === v.length && sameBytes(prev, v)) {
    if (repeats[i]! < 16) repeats[i]! += 1;
    return lastText[i];
  }
  const text = v.toString('utf8');
  if (repeats[i]! > -16) repeats[i]! -= 1;
  if (v.length <= CACHED_VALUE_MAX_BYTES && (repeats[i]! > -16 || sinceRetry === 0)) {
    lastBytes[i] = Buffer.from(v);
    lastText[i] = text;
  }
  return text;
}

/** Lineage values by the text of their header and the topic's constants (same text, same lineage). */
const lineages = new Map<string, { constants: TopicConstants; lineage: unknown }>();

/** Freezes a JSON value and everything in it (a lineage shared by the records that carry the same text). */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function lineageOf(raw: string | undefined, constants: TopicConstants): unknown {
  const key = raw ?? '';
  const hit = lineages.get(key);
  if (hit !== undefined && hit.constants === constants) return hit.lineage;
  let own: unknown = {};
  if (raw !== undefined) {
    try {
      own = JSON.parse(raw) as unknown;
    } catch {
      own = raw;
    }
  }
  const lineage =
    typeof own === 'object' && own !== null && !Array.isArray(own)
      ? orderedLineage({ ...constants.lineage, ...(own as Record<string, unknown>) })
      : own;
  if (lineages.size >= 256) lineages.clear();
  // Shared by every record with this header: frozen, so no reader can change another record's lineage.
  lineages.set(key, { constants, lineage: deepFreeze(lineage) });
  return lineage;
}

/**
 * The envelope of a binary-mode record, attributes in schema order, constants of the topic put back.
 * Nothing is validated here: the caller checks the result against the topic's schema as for a
 * structured record (a malformed `sequence` or `lineage` stays as text so the schema rejects it).
 * The lineage object is frozen and shared by the records whose lineage header is the same.
 * Throws a SyntaxError if the value is not JSON, ONDIJON_LINEAGE_UNKNOWN (naming it) if the record's
 * `ce_lineageref` is not known (`registerLineage`). `readData` false: the value is not read at all (no
 * text, no parse; the result has no `data` key), for readers that need only the attributes. `record`:
 * the record's key and timestamp, from which a telemetry record's `subject` and `ingestedat` are put back
 * when they have no header (without it they stay absent, and the envelope schema rejects the event).
 */
export function fromBinary(
  headers: Readonly<Record<string, HeaderValue>>,
  value: Buffer | string | null | undefined,
  constants: TopicConstants = OWNER_ONLY,
  readData = true,
  record?: RecordMeta,
): Envelope<unknown> {
  const out: Record<string, unknown> = {};
  if (++sinceRetry >= 1024) sinceRetry = 0;
  // One pass over the headers (V8's fast path for `for…in` with `headers[k]`), rather than a keyed
  // lookup per attribute.
  for (const k in headers) {
    const i = ATTRIBUTE_OF_HEADER.get(k);
    if (i !== undefined) slots[i] = headers[k];
  }
  try {
    for (let i = 0; i < ATTRIBUTES.length; i++) {
      if (i === DATA_AT) {
        if (!readData) continue;
        const text =
          value === null || value === undefined ? '' : typeof value === 'string' ? value : value.toString();
        out.data = text === '' ? null : (JSON.parse(text) as unknown);
        continue;
      }
      const raw = attributeText(i, slots[i]);
      slots[i] = undefined;
      if (i === LINEAGE_AT) {
        const ref = raw === undefined ? headerText(headers[CE_LINEAGEREF_HEADER]) : undefined;
        out.lineage = lineageOf(ref === undefined ? raw : resolveLineage(ref), constants);
        continue;
      }
      const a = ATTRIBUTES[i]!;
      const v = raw ?? constants.attributes[a] ?? derivedAttribute(i, out, constants, record);
      if (v === undefined) continue;
      out[a] = i === SEQUENCE_AT && DECIMAL.test(v) ? Number(v) : v;
    }
  } finally {
    slots.fill(undefined); // a value that is not JSON throws before every slot was read
  }
  return out as unknown as Envelope<unknown>;
}

const LINEAGE_KEYS = ['inputs', 'producer', 'producerVersion', 'window', 'countsByOperator', 'fieldActions'];

function orderedLineage(l: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of LINEAGE_KEYS) if (l[k] !== undefined) out[k] = l[k];
  for (const k of Object.keys(l)) if (!(k in out)) out[k] = l[k];
  return out;
}

/**
 * The record's event as a JSON value whatever its mode: the envelope of a binary record (per record,
 * from `ce_specversion`), else the parsed value (structured envelope, dead letter, reference record).
 * `topic` is the registry name, for its constants. Throws a SyntaxError if the value is not JSON.
 * `record`: its key and timestamp (see `fromBinary`).
 * `readData` false: a binary record's value is not read (its envelope has no `data`); a structured
 * record's value is parsed all the same (its attributes are in it).
 */
export function decodeRecordValue(
  headers: Readonly<Record<string, HeaderValue>> | undefined | null,
  value: Buffer | string | null | undefined,
  topic?: string,
  readData = true,
  record?: RecordMeta,
): unknown {
  if (isBinaryRecord(headers)) return fromBinary(headers!, value, topicConstants(topic), readData, record);
  const text =
    value === null || value === undefined ? 'null' : typeof value === 'string' ? value : value.toString();
  return JSON.parse(text) as unknown;
}

/** The record's event as structured-mode JSON text (binary records re-encoded; others unchanged). */
export function structuredText(
  headers: Readonly<Record<string, HeaderValue>> | undefined | null,
  value: string | null,
  topic?: string,
  record?: RecordMeta,
): string | null {
  if (!isBinaryRecord(headers)) return value;
  return JSON.stringify(fromBinary(headers!, value, topicConstants(topic), true, record));
}
