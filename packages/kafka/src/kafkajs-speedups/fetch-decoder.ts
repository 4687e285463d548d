// A faster decoder of v2 record batches (magic 2) over kafkajs' own, installed in the CommonJS module
// cache before kafkajs decodes its first fetch response. kafkajs' fetch responses (v4 to v11) capture
// `recordBatch/v0/decoder` when `fetch/v4/decodeMessages` first loads, on the first fetch; the export
// installed here is a switch that calls the fast decoder or kafkajs' one. Installed by
// `installKafkajsSpeedups` (index.ts), never on import.
import { createRequire } from 'node:module';
import path from 'node:path';
import { unzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);

/** kafkajs' protocol Decoder, as far as this module uses it. */
export interface DecoderLike {
  buffer: Buffer;
  offset: number;
}

/** A record as kafkajs' Record v0 decoder returns it (the `KafkaMessage` of a consumer, plus fields). */
export interface DecodedRecord {
  magicByte: number;
  attributes: number;
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, unknown>;
  isControlRecord: boolean;
  batchContext: BatchContext & { magicByte: number };
}

/** The fields kafkajs' record batch decoder returns besides `records`. */
export interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
}

/** What kafkajs' record batch decoder returns. */
export type DecodedBatch = BatchContext & { records: DecodedRecord[] };

/** kafkajs' record batch decoder: reads one batch at the decoder's offset and moves past it. */
export type RecordBatchDecoder = (fetchDecoder: DecoderLike) => Promise<DecodedBatch>;

const kafkajsMain = require.resolve('kafkajs');
const protocolDir = path.join(path.dirname(kafkajsMain), 'src', 'protocol');
/** Path of kafkajs' record batch decoder, as the CommonJS cache knows it. */
export const RECORD_BATCH_DECODER_MODULE = path.join(protocolDir, 'recordBatch', 'v0', 'decoder.js');
/** Path of the module of kafkajs' fetch responses that captures the record batch decoder when it loads. */
export const DECODE_MESSAGES_MODULE = path.join(protocolDir, 'requests', 'fetch', 'v4', 'decodeMessages.js');

/** kafkajs' own record batch decoder (the fallback; tests compare with it). */
export const kafkajsRecordBatchDecoder = require(RECORD_BATCH_DECODER_MODULE) as RecordBatchDecoder;

const TimestampTypes = require(path.join(protocolDir, 'timestampTypes.js')) as {
  CREATE_TIME: number;
  LOG_APPEND_TIME: number;
};

// Layout of a v2 record batch (KIP-98, https://kafka.apache.org/documentation/#recordbatch): offsets
// from the batch start of each field.
const LENGTH_AT = 8;
const LEADER_EPOCH_AT = 12;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const FIRST_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const PRODUCER_EPOCH_AT = 51;
const FIRST_SEQUENCE_AT = 53;
const RECORD_COUNT_AT = 57;
const RECORDS_AT = 61;
/** Bytes of a batch header after FirstOffset and Length (the smallest `Length` with a record count). */
const MIN_BATCH_LENGTH = RECORDS_AT - LEADER_EPOCH_AT;

const COMPRESSION_CODEC_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG_MASK = 0x08;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;

/** Batches decoded by each path since the process started (tests check which path ran). */
export interface FastFetchStats {
  /** Batches decoded by the fast decoder. */
  fast: number;
  /** Of those, compressed batches (decompressed by kafkajs' codec, read by the fast reader). */
  compressed: number;
  /** Of the compressed ones, gzip batches decompressed in place (`SYNC_GUNZIP_MAX_BYTES`), not by kafkajs' codec. */
  gunzippedInPlace: number;
  /** Batches handed to kafkajs' decoder while the fast one is on (partial, unusual, unknown codec). */
  fallback: number;
}

const stats: FastFetchStats = { fast: 0, compressed: 0, gunzippedInPlace: 0, fallback: 0 };

/** A copy of the counts of batches decoded by each path in this process. */
export function fastFetchStats(): FastFetchStats {
  return { ...stats };
}

// Read position and validity of the record being decoded. Module state rather than a reader object: the
// helpers below inline and allocate nothing. `ok` turns false when a read would leave the record (or the
// batch); the whole batch then goes to kafkajs' decoder, which decides what such bytes give.
let pos = 0;
let ok = true;

/** kafkajs' `Decoder.readVarInt` (same arithmetic, so the same value for any bytes), bounded by `end`. */
function readVarInt(buf: Buffer, end: number): number {
  let result = 0;
  let shift = 0;
  let byte: number;
  do {
    if (pos >= end) {
      ok = false;
      return 0;
    }
    byte = buf[pos++]!;
    result += (byte & 0x7f) << shift;
    shift += 7;
  } while (byte >= 0x80);
  return (result >>> 1) ^ -(result & 1);
}

/**
 * kafkajs' `Decoder.readVarLong` then `decodeZigZag64`, as a number when the varint has at most 7 bytes
 * (|value| < 2^48, exact in a double), else as the same BigInt arithmetic kafkajs' Long does (its Long is a
 * BigInt that neither wraps nor masks shifts). Past 10 bytes kafkajs throws: `ok` turns false.
 */
function readVarLong(buf: Buffer, end: number): number | bigint {
  const start = pos;
  let result = 0;
  let scale = 1;
  for (let n = 0; n < 7; n++) {
    if (pos >= end) {
      ok = false;
      return 0;
    }
    const byte = buf[pos++]!;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    scale *= 128;
  }
  pos = start;
  let big = 0n;
  let shift = 0;
  let byte: number;
  do {
    if (shift > 63 || pos >= end) {
      ok = false;
      return 0;
    }
    byte = buf[pos++]!;
    big += BigInt(byte & 0x7f) << BigInt(shift);
    shift += 7;
  } while (byte >= 0x80);
  return (big >> 1n) ^ -(big & 1n);
}

/**
 * kafkajs' `Decoder.readVarIntBytes`: null for length -1, else a slice sharing memory with the fetch
 * response (kafkajs slices, never copies). Other negative lengths and lengths past the record are left to
 * kafkajs (its slice would clamp or count from the end).
 */
function readVarIntBytes(buf: Buffer, end: number): Buffer | null {
  const length = readVarInt(buf, end);
  if (length === -1) return null;
  if (length < 0 || pos + length > end) {
    ok = false;
    return null;
  }
  const bytes = buf.subarray(pos, pos + length);
  pos += length;
  return bytes;
}

// Header keys recently decoded, as bytes and text: headers repeat the same few keys on every record, and
// a cached key is both one allocation fewer and a string V8 has already internalized as a property name.
const KEY_CACHE_SIZE = 32;
const KEY_CACHE_MAX_BYTES = 64;
const cachedKeyBytes: Uint8Array[] = [];
const cachedKeyText: string[] = [];
/** Per cached key: whether records keep its value (`setFetchHeaderSubset`). */
const cachedKeyKept: boolean[] = [];
let nextKeySlot = 0;
/** The slot of the last key found in the cache. */
let lastKeySlot = -1;

/**
 * The header keys records keep in this process (`setFetchHeaderSubset`), null for all (kafkajs' records).
 * The cache of keys remembers each key's answer.
 */
let headerSubset: ReadonlySet<string> | null = null;
/** Whether the key last read by `readHeaderKey` is kept. */
let lastKeyKept = true;

/** `buf.toString('utf8', start, end)` (the same string for the same bytes), from the cache when there. */
function headerKeyText(buf: Buffer, start: number, length: number): string {
  if (length > KEY_CACHE_MAX_BYTES) {
    const text = buf.toString('utf8', start, start + length);
    lastKeyKept = headerSubset === null || headerSubset.has(text);
    return text;
  }
  // Records repeat their header keys in the same order: the slot after the last match is tried first
  // (CloudEvents binary mode has ~17 headers per record; a scan from slot 0 compared ~8 keys per header).
  const slots = cachedKeyBytes.length;
  search: for (let n = 0, c = lastKeySlot + 1; n < slots; n++, c++) {
    if (c >= slots) c = 0;
    const bytes = cachedKeyBytes[c]!;
    if (bytes.length !== length) continue;
    for (let k = 0; k < length; k++) if (bytes[k] !== buf[start + k]) continue search;
    lastKeySlot = c;
    lastKeyKept = cachedKeyKept[c]!;
    return cachedKeyText[c]!;
  }
  const text = buf.toString('utf8', start, start + length);
  cachedKeyBytes[nextKeySlot] = new Uint8Array(buf.subarray(start, start + length)); // a copy: the fetch buffer is not kept
  cachedKeyText[nextKeySlot] = text;
  lastKeyKept = headerSubset === null || headerSubset.has(text);
  cachedKeyKept[nextKeySlot] = lastKeyKept;
  lastKeySlot = nextKeySlot;
  nextKeySlot = (nextKeySlot + 1) % KEY_CACHE_SIZE;
  return text;
}

/** kafkajs' `Decoder.readVarIntString` (null for length -1, UTF-8 otherwise), for header keys. */
function readHeaderKey(buf: Buffer, end: number): string | null {
  const length = readVarInt(buf, end);
  if (length === -1) {
    lastKeyKept = headerSubset === null || headerSubset.has('null');
    return null;
  }
  if (length < 0 || pos + length > end) {
    ok = false;
    return null;
  }
  const text = headerKeyText(buf, pos, length);
  pos += length;
  return text;
}

/**
 * `readVarIntBytes` for a value the record does not keep: the same checks (so the same batches fall
 * back to kafkajs), no slice.
 */
function skipVarIntBytes(buf: Buffer, end: number): void {
  const length = readVarInt(buf, end);
  if (length === -1) return;
  if (length < 0 || pos + length > end) {
    ok = false;
    return;
  }
  pos += length;
}

/**
 * The headers object of kafkajs' Record v0 decoder: it folds the header array with
 * `{ ...obj, [key]: obj[key] === undefined ? value : Array.isArray(obj[key]) ? obj[key].concat([value]) :
 * [obj[key], value] }`, so a repeated key gives an array, a null key is the property "null", and a key
 * inherited from Object.prototype ("constructor", "__proto__") starts as an array holding the inherited
 * value. This reproduces all of it, assigning in place instead of copying the object per header. With a
 * header subset (`setFetchHeaderSubset`) the other keys' values are skipped, neither sliced nor stored.
 */
function readHeaders(buf: Buffer, end: number): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  const count = readVarInt(buf, end);
  if (count < -1) ok = false; // kafkajs' `new Array(count)` throws
  for (let i = 0; i < count && ok; i++) {
    const key = String(readHeaderKey(buf, end));
    if (!lastKeyKept) {
      skipVarIntBytes(buf, end);
      continue;
    }
    const value = readVarIntBytes(buf, end);
    const previous = headers[key];
    const next =
      previous === undefined ? value : Array.isArray(previous) ? previous.concat([value]) : [previous, value];
    // A computed key in an object literal defines an own property; assigning "__proto__" would set the prototype.
    if (key === '__proto__')
      Object.defineProperty(headers, key, {
        value: next,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    else headers[key] = next;
  }
  return headers;
}

/**
 * Keeps only these header keys in the records the fast decoder gives in this process (null: every key,
 * kafkajs' records; the default). For a process whose readers all read a known few headers at a high
 * rate (the console reads 6 of the ~17 a telemetry record carries: services/console/src/main.ts): the
 * other values are neither sliced nor stored. A record of a batch left to kafkajs' decoder (see
 * `decodeRecordBatchFast`) still has every key, so a reader must not rely on a key being absent. Tests
 * compare with kafkajs' records filtered to the subset.
 */
export function setFetchHeaderSubset(keys: readonly string[] | null): void {
  headerSubset = keys === null ? null : new Set(keys);
  for (let c = 0; c < cachedKeyText.length; c++)
    cachedKeyKept[c] = headerSubset === null || headerSubset.has(cachedKeyText[c]!);
}

const MIN_SAFE_BIGINT = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/** The number of an int64 when it is a safe integer (else NaN: the BigInt path is taken). */
const safeNumber = (n: bigint): number => (n >= MIN_SAFE_BIGINT && n <= MAX_SAFE_BIGINT ? Number(n) : NaN);

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000'];

/**
 * `String(n)` of a safe integer. V8 prints a number beyond 2^31 with its general double-to-text code,
 * ~140 ns for a 13-digit offset or timestamp (micro-bench, Node 20); two small-integer halves print in ~50.
 */
function safeIntegerText(n: number): string {
  if (n < 1e8) return String(n); // negatives too
  const high = Math.floor(n / 1e8);
  const low = String(n - high * 1e8);
  return String(high) + (low.length === 8 ? low : ZEROS[8 - low.length]! + low);
}

/**
 * `String(base + delta)` as kafkajs computes it with its BigInt Long (`Long.fromValue(first).add(delta)
 * .toString()`), in doubles when the sum is a safe integer (then exact), else in BigInt.
 */
function addToString(base: number, baseBig: bigint, delta: number | bigint): string {
  if (typeof delta === 'number') {
    const sum = base + delta;
    // A rounded sum is at least 2^53 in magnitude, so never safe: a safe sum is the exact one.
    if (Number.isSafeInteger(sum)) return safeIntegerText(sum);
    return String(baseBig + BigInt(delta));
  }
  return String(baseBig + delta);
}

/** What the batch header says, read once for both paths (uncompressed and compressed). */
interface BatchHead {
  start: number;
  batchEnd: number;
  magicByte: number;
  attributes: number;
  recordCount: number;
  context: BatchContext;
  firstOffsetBig: bigint;
  firstTimestampBig: bigint;
}

/** The batch header at `start`, or null for what the fast paths leave to kafkajs (see the callers). */
function readBatchHead(buf: Buffer, start: number): BatchHead | null {
  if (buf.length - start < RECORDS_AT) return null;
  const length = buf.readInt32BE(start + LENGTH_AT);
  const batchEnd = start + LEADER_EPOCH_AT + length;
  if (length < MIN_BATCH_LENGTH || batchEnd > buf.length) return null;
  const magicByte = buf.readInt8(start + MAGIC_AT);
  if (magicByte !== 2) return null;
  const attributes = buf.readInt16BE(start + ATTRIBUTES_AT);
  const recordCount = buf.readInt32BE(start + RECORD_COUNT_AT);
  const firstOffsetBig = buf.readBigInt64BE(start);
  const firstTimestampBig = buf.readBigInt64BE(start + FIRST_TIMESTAMP_AT);
  const timestampType =
    (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? TimestampTypes.LOG_APPEND_TIME : TimestampTypes.CREATE_TIME;
  const context: BatchContext = {
    firstOffset: firstOffsetBig.toString(),
    firstTimestamp: firstTimestampBig.toString(),
    partitionLeaderEpoch: buf.readInt32BE(start + LEADER_EPOCH_AT),
    inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
    isControlBatch: (attributes & CONTROL_FLAG_MASK) > 0,
    lastOffsetDelta: buf.readInt32BE(start + LAST_OFFSET_DELTA_AT),
    producerId: buf.readBigInt64BE(start + PRODUCER_ID_AT).toString(),
    producerEpoch: buf.readInt16BE(start + PRODUCER_EPOCH_AT),
    firstSequence: buf.readInt32BE(start + FIRST_SEQUENCE_AT),
    maxTimestamp: buf.readBigInt64BE(start + MAX_TIMESTAMP_AT).toString(),
    timestampType,
  };
  return {
    start,
    batchEnd,
    magicByte,
    attributes,
    recordCount,
    context,
    firstOffsetBig,
    firstTimestampBig,
  };
}

/**
 * Reads `count` records from `buf` at `from` (each within its Length, the last ending at or before
 * `end`) into kafkajs' record objects; null when kafkajs would read the bytes otherwise.
 */
function readRecords(
  head: BatchHead,
  buf: Buffer,
  from: number,
  end: number,
  count: number,
): DecodedRecord[] | null {
  const { context, magicByte, firstOffsetBig, firstTimestampBig } = head;
  const firstOffsetNumber = safeNumber(firstOffsetBig);
  const firstTimestampNumber = safeNumber(firstTimestampBig);
  const isControlBatch = context.isControlBatch;
  // One object shared by every record of the batch, as in kafkajs.
  const batchContext = { ...context, magicByte };
  // kafkajs: `timestampType === LOG_APPEND_TIME && maxTimestamp` (a non-empty string, so always truthy).
  const logAppendTime = context.timestampType === TimestampTypes.LOG_APPEND_TIME;

  const records: DecodedRecord[] = new Array<DecodedRecord>(Math.max(count, 0));
  ok = true;
  pos = from;
  for (let i = 0; i < count; i++) {
    // Each record is read within its Length, as kafkajs does from a slice; the next starts after it.
    const recordLength = readVarInt(buf, end);
    const recordEnd = pos + recordLength;
    // A record has at least its attributes byte (kafkajs' readInt8 throws on an empty one).
    if (!ok || recordLength < 1 || recordEnd > end) return null;
    const recordAttributes = buf.readInt8(pos++);
    const timestampDelta = readVarLong(buf, recordEnd);
    const offsetDelta = readVarInt(buf, recordEnd);
    const key = readVarIntBytes(buf, recordEnd);
    const value = readVarIntBytes(buf, recordEnd);
    const headers = readHeaders(buf, recordEnd);
    if (!ok) return null;
    records[i] = {
      magicByte,
      attributes: recordAttributes,
      timestamp: logAppendTime
        ? context.maxTimestamp
        : addToString(firstTimestampNumber, firstTimestampBig, timestampDelta),
      offset: addToString(firstOffsetNumber, firstOffsetBig, offsetDelta),
      key,
      value,
      headers,
      isControlRecord: isControlBatch,
      batchContext,
    };
    pos = recordEnd;
  }
  return records;
}

/**
 * Decodes the uncompressed v2 record batch at `fetchDecoder.offset` into exactly the objects of kafkajs'
 * decoder (tested field by field), or returns null, without moving the decoder, for anything else:
 * compressed batches (see `decodeCompressedBatchFast`), other magic bytes, a partial batch at the end of
 * the fetch (kafkajs throws the `KafkaJSPartialMessageError` that ends the partition's records), bytes
 * kafkajs would read past a record.
 */
export function decodeRecordBatchFast(fetchDecoder: DecoderLike): DecodedBatch | null {
  const buf = fetchDecoder.buffer;
  const head = readBatchHead(buf, fetchDecoder.offset);
  if (head === null || (head.attributes & COMPRESSION_CODEC_MASK) !== 0 || head.recordCount < -1) return null;
  const records = readRecords(head, buf, head.start + RECORDS_AT, head.batchEnd, head.recordCount);
  if (records === null) return null;
  // kafkajs' decoder: FirstOffset (8) and Length (4) read, then `forward(length)`.
  fetchDecoder.offset = head.batchEnd;
  return { ...head.context, records };
}

/** A kafkajs compression codec (its own gzip, or one registered in `CompressionCodecs`). */
interface Codec {
  decompress(buffer: Buffer): Promise<Buffer>;
}

const { lookupCodecByAttributes, Codecs } = require(
  path.join(protocolDir, 'message', 'compression', 'index.js'),
) as {
  lookupCodecByAttributes: (attributes: number) => Codec | null;
  /** kafkajs' codec registry (`CompressionCodecs`): a function per codec id that returns the codec. */
  Codecs: Record<number, (() => Codec) | undefined>;
};
/** kafkajs' own gzip codec (`zlib.unzip`, promisified), unless a process registered another for gzip. */
const kafkajsGzipCodec = require(path.join(protocolDir, 'message', 'compression', 'gzip.js')) as Codec;
const GZIP = 1;
/** kafkajs' own entry for gzip in its registry: `() => require('./gzip')`. */
const kafkajsGzipEntry = Codecs[GZIP];

/**
 * `lookupCodecByAttributes(attributes)`, without its `require` per batch while gzip is kafkajs' own: the
 * registry's entry calls `require('./gzip')` every time, which under tsx's resolver hook cost 9 % of the
 * console's busy time (bench:console's profile; one batch per ~5 records). The same module object
 * `require` returns from its cache; another codec, or one registered in place of kafkajs' gzip, is
 * looked up as kafkajs does.
 */
function codecOf(attributes: number): Codec | null {
  if ((attributes & COMPRESSION_CODEC_MASK) === GZIP && Codecs[GZIP] === kafkajsGzipEntry)
    return kafkajsGzipCodec;
  return lookupCodecByAttributes(attributes);
}

/**
 * Largest compressed records section of a gzip batch decompressed with `zlib.unzipSync` in place of
 * kafkajs' codec (`zlib.unzip`: the same bytes out, the same error for bad input). An asynchronous unzip
 * builds a stream, hands the work to libuv's thread pool and resolves a promise: 26–42 µs of CPU per call
 * against 6–10 µs in place for a batch of 1 to 30 small records (Node 20, this machine's micro-benchmark of
 * both on one batch). Ingest lingers 2 ms (services/ingest config.ts `KAFKA_LINGER_MS`), so its gzip
 * batches hold a few records each and a reader of every record (the console's feed) paid that hop per batch
 * (bench:console's profile, docs/console.md). Past this size the inflate itself dominates (about a
 * millisecond) and stays off the event loop, as kafkajs does it.
 */
export const SYNC_GUNZIP_MAX_BYTES = 64 * 1024;

/**
 * Decodes a compressed v2 record batch as kafkajs does (the codec kafkajs looks up for the batch's
 * attributes decompresses the records; a count of zero or less gives none), then reads the records
 * with the fast reader: the same objects as kafkajs' decoder (tested). Null, without moving the
 * decoder, for what `decodeRecordBatchFast` leaves to kafkajs and for codecs kafkajs does not know
 * (kafkajs then throws or reads the batch as uncompressed). The decoder moves past the batch only once
 * the records are read, so a fallback starts from the batch again.
 */
export async function decodeCompressedBatchFast(fetchDecoder: DecoderLike): Promise<DecodedBatch | null> {
  const buf = fetchDecoder.buffer;
  const head = readBatchHead(buf, fetchDecoder.offset);
  if (head === null || (head.attributes & COMPRESSION_CODEC_MASK) === 0) return null;
  let codec: Codec | null;
  try {
    codec = codecOf(head.attributes);
  } catch {
    return null; // kafkajs throws its own error for a codec it has not implemented
  }
  if (codec === null) return null;
  // kafkajs: `const length = recordsDecoder.readInt32(); if (length <= 0) return []`.
  if (head.recordCount <= 0) {
    fetchDecoder.offset = head.batchEnd;
    return { ...head.context, records: [] };
  }
  const compressed = buf.subarray(head.start + RECORDS_AT, head.batchEnd);
  let decompressed: Buffer;
  if (codec === kafkajsGzipCodec && compressed.length <= SYNC_GUNZIP_MAX_BYTES) {
    decompressed = unzipSync(compressed);
    stats.gunzippedInPlace += 1;
  } else decompressed = await codec.decompress(compressed);
  const records = readRecords(head, decompressed, 0, decompressed.length, head.recordCount);
  if (records === null) return null;
  fetchDecoder.offset = head.batchEnd;
  return { ...head.context, records };
}

let installed = false;
let enabled = true;

/** The decoder installed in kafkajs: the fast one when enabled and able, else kafkajs' own. */
const switchingDecoder: RecordBatchDecoder = (fetchDecoder) => {
  if (!enabled) return kafkajsRecordBatchDecoder(fetchDecoder);
  let batch: DecodedBatch | null = null;
  try {
    batch = decodeRecordBatchFast(fetchDecoder);
  } catch {
    // Not expected (every read is bounds-checked); kafkajs' decoder then decides, from the same position.
  }
  if (batch === null) {
    const buf = fetchDecoder.buffer;
    const at = fetchDecoder.offset;
    // A compressed batch: decompressed by kafkajs' codec, its records read by the fast reader.
    if (buf.length - at >= RECORDS_AT && (buf.readInt16BE(at + ATTRIBUTES_AT) & COMPRESSION_CODEC_MASK) !== 0)
      return decodeCompressedBatchFast(fetchDecoder).then(
        (compressed) => {
          if (compressed === null) {
            stats.fallback += 1;
            return kafkajsRecordBatchDecoder(fetchDecoder);
          }
          stats.fast += 1;
          stats.compressed += 1;
          return compressed;
        },
        () => {
          // The codec failed: kafkajs' decoder decompresses again and reports it as it would.
          stats.fallback += 1;
          return kafkajsRecordBatchDecoder(fetchDecoder);
        },
      );
    stats.fallback += 1;
    return kafkajsRecordBatchDecoder(fetchDecoder);
  }
  stats.fast += 1;
  return Promise.resolve(batch);
};

/**
 * Installs the switching decoder in kafkajs; false when it is too late (kafkajs' fetch responses
 * already captured its decoder: kafkajs is left as it is).
 */
export function installFetchDecoder(): boolean {
  if (!installed) {
    if (require.cache[DECODE_MESSAGES_MODULE] !== undefined) return false;
    require.cache[RECORD_BATCH_DECODER_MODULE]!.exports = switchingDecoder;
    installed = true;
  }
  return fastFetchDecoding();
}

/**
 * Turns the fast fetch decoder on or off for every consumer of this process from the next batch on (for
 * benchmarks comparing both); returns whether it is on. It cannot be turned on when it was not installed
 * (`ONDIJON_KAFKAJS_SPEEDUPS=off`, another kafkajs version, or kafkajs had fetched before the install).
 */
export function setFastFetchDecoding(on: boolean): boolean {
  enabled = on;
  return fastFetchDecoding();
}

/** True when kafkajs' fetch responses decode uncompressed v2 record batches with the fast decoder in this process. */
export function fastFetchDecoding(): boolean {
  return installed && enabled && require.cache[RECORD_BATCH_DECODER_MODULE]?.exports === switchingDecoder;
}
