import { z } from 'zod';
import { DATA_OWNER, type Envelope, type Lineage } from './envelope';
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
// telemetry lineage's `inputs` and `producer` are always `mqtt` and `ingest`.

/** Header that marks a binary-mode record (CloudEvents Kafka binding). */
export const CE_SPECVERSION_HEADER = 'ce_specversion';
/** Header of `datacontenttype` in binary mode. */
export const CE_CONTENT_TYPE_HEADER = 'content-type';
/** Header of the `lineage` extension (JSON text of what differs from the topic's constant lineage). */
export const CE_LINEAGE_HEADER = 'ce_lineage';

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
  })
  .catchall(z.string());

/** Attribute values that are the same for every record of a topic, left out of the headers. */
export interface TopicConstants {
  /** String attributes (`owner`, `schemaversion`…) omitted when equal. */
  attributes: Readonly<Partial<Record<Attribute, string>>>;
  /** Lineage keys omitted when equal (compared as JSON). */
  lineage: Readonly<Partial<Lineage>>;
}

const OWNER_ONLY: TopicConstants = Object.freeze({
  attributes: Object.freeze({ owner: DATA_OWNER }),
  lineage: Object.freeze({}),
});
const TELEMETRY: TopicConstants = Object.freeze({
  attributes: Object.freeze({ owner: DATA_OWNER }),
  lineage: Object.freeze({ inputs: ['mqtt'], producer: 'ingest' }),
});

/**
 * The constants of a topic (by registry name, e.g. `tel.s1.lighting.v1`): telemetry (`tel.*`, `pii.*`)
 * records come from ingest out of MQTT; every record's owner is Dijon Métropole.
 */
export function topicConstants(topic: string | undefined): TopicConstants {
  if (topic === undefined) return OWNER_ONLY;
  // Asked per record by every reader: the answer is kept per topic name.
  let c = constantsByTopic.get(topic);
  if (c === undefined) {
    c = TELEMETRY_TOPIC.test(topic) ? TELEMETRY : OWNER_ONLY;
    if (constantsByTopic.size >= 1024) constantsByTopic.clear();
    constantsByTopic.set(topic, c);
  }
  return c;
}

const constantsByTopic = new Map<string, TopicConstants>();

/** A telemetry topic name, also behind a run prefix (`<run>.tel.s1.lighting.v1`). */
const TELEMETRY_TOPIC = /(?:^|\.)(?:tel|pii)\.s[0-3]\.[a-z0-9-]+\.v\d+$/;

/** A record in binary mode: headers (text) and the value (JSON of `data`, ASCII-only). */
export interface BinaryRecord {
  headers: Record<string, string>;
  value: string;
}

/**
 * Encodes an envelope in binary content mode. Attributes absent from the envelope get no header;
 * `sequence` is written in decimal, `lineage` as JSON of what differs from the topic's constants.
 */
export function toBinary(envelope: Envelope<unknown>, constants: TopicConstants = OWNER_ONLY): BinaryRecord {
  const headers: Record<string, string> = {};
  const env = envelope as unknown as Record<string, unknown>;
  for (const a of ATTRIBUTES) {
    if (a === 'data' || a === 'lineage') continue;
    const v = env[a];
    if (v === undefined) continue;
    if (constants.attributes[a] === v) continue;
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
  if (kept > 0) headers[CE_LINEAGE_HEADER] = JSON.stringify(lineage);
  return { headers, value: envelope.data === undefined ? '' : stringifyAscii(envelope.data) };
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
const SEQUENCE_AT = ATTRIBUTES.indexOf('sequence');
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
 * Throws a SyntaxError if the value is not JSON. `readData` false: the value is not read at all (no
 * text, no parse; the result has no `data` key), for readers that need only the attributes.
 */
export function fromBinary(
  headers: Readonly<Record<string, HeaderValue>>,
  value: Buffer | string | null | undefined,
  constants: TopicConstants = OWNER_ONLY,
  readData = true,
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
        out.lineage = lineageOf(raw, constants);
        continue;
      }
      const a = ATTRIBUTES[i]!;
      const v = raw ?? constants.attributes[a];
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
 * `readData` false: a binary record's value is not read (its envelope has no `data`); a structured
 * record's value is parsed all the same (its attributes are in it).
 */
export function decodeRecordValue(
  headers: Readonly<Record<string, HeaderValue>> | undefined | null,
  value: Buffer | string | null | undefined,
  topic?: string,
  readData = true,
): unknown {
  if (isBinaryRecord(headers)) return fromBinary(headers!, value, topicConstants(topic), readData);
  const text =
    value === null || value === undefined ? 'null' : typeof value === 'string' ? value : value.toString();
  return JSON.parse(text) as unknown;
}

/** The record's event as structured-mode JSON text (binary records re-encoded; others unchanged). */
export function structuredText(
  headers: Readonly<Record<string, HeaderValue>> | undefined | null,
  value: string | null,
  topic?: string,
): string | null {
  if (!isBinaryRecord(headers)) return value;
  return JSON.stringify(fromBinary(headers!, value, topicConstants(topic)));
}
