// A faster encoder of kafkajs' Record v0 (the one record of a produce request) and a faster CRC-32C
// (of each record batch), installed in the CommonJS module cache before kafkajs loads and captures its
// own. Installed by `installKafkajsSpeedups` (index.ts), never on import.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** What kafkajs' Record v0 encoder takes (a message of `sendBatch` plus its deltas). */
export interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

/** kafkajs' Encoder, as far as this module uses it. */
interface EncoderLike {
  buf: Buffer;
  offset: number;
}

type RecordEncoder = (input: RecordInput) => EncoderLike;

const kafkajsMain = require.resolve('kafkajs');
const protocolDir = path.join(path.dirname(kafkajsMain), 'src', 'protocol');
/** Path of kafkajs' Record v0 module, as the CommonJS cache knows it. */
export const RECORD_MODULE = path.join(protocolDir, 'recordBatch', 'record', 'v0', 'index.js');
const PRODUCE_REQUEST_MODULE = path.join(protocolDir, 'requests', 'produce', 'v3', 'request.js');
/** Path of kafkajs' CRC-32C module (the checksum of every record batch it produces). */
export const CRC32C_MODULE = path.join(protocolDir, 'recordBatch', 'crc32C', 'index.js');
const RECORD_BATCH_MODULE = path.join(protocolDir, 'recordBatch', 'v0', 'index.js');

/** CRC-32C (Castagnoli, reflected 0x82f63b78) lookup tables for slicing by 8. */
const CRC_TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0]![i] = c;
  }
  for (let i = 0; i < 256; i++)
    for (let k = 1; k < 8; k++) t[k]![i] = (t[k - 1]![i]! >>> 8) ^ t[0]![t[k - 1]![i]! & 0xff]!;
  return t;
})();

/**
 * CRC-32C of a buffer, unsigned, 8 bytes per step (the same value as kafkajs' byte-at-a-time loop,
 * tested; that loop was ~4 µs per ingest record, over ~1 KB each).
 */
export function crc32c(buf: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
  ];
  let crc = -1;
  let i = 0;
  const end8 = buf.length - (buf.length % 8);
  for (; i < end8; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[buf[i + 4]!]! ^
      t2[buf[i + 5]!]! ^
      t1[buf[i + 6]!]! ^
      t0[buf[i + 7]!]!;
  }
  for (; i < buf.length; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const Encoder = require(path.join(protocolDir, 'encoder.js')) as { prototype: object };

/** Bytes of a zigzag varint of a 32-bit integer (kafkajs writes lengths and small deltas so). */
function varIntSize(n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  let bytes = 1;
  while (v >= 0x80) {
    bytes += 1;
    v >>>= 7;
  }
  return bytes;
}

function writeVarInt(buf: Buffer, offset: number, n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  while (v >= 0x80) {
    buf[offset++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[offset++] = v;
  return offset;
}

/** A key, value or header value the fast path takes: bytes, text, or absent (length -1). */
function isPlain(x: unknown): x is Buffer | string | null | undefined {
  return x === null || x === undefined || typeof x === 'string' || Buffer.isBuffer(x);
}

function byteSize(x: Buffer | string): number {
  return typeof x === 'string' ? Buffer.byteLength(x, 'utf8') : x.length;
}

function writeBytes(buf: Buffer, offset: number, x: Buffer | string, size: number): number {
  offset = writeVarInt(buf, offset, size);
  if (typeof x === 'string') buf.write(x, offset, size, 'utf8');
  else x.copy(buf, offset);
  return offset + size;
}

/** Deltas the fast path takes: integers whose zigzag varint is the same in 32 and 64 bits. */
const isSmallInt = (n: unknown): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= -(2 ** 30) && n < 2 ** 30;

/**
 * Record v0 (Length varint, Attributes int8, TimestampDelta varlong, OffsetDelta varint, Key, Value,
 * Headers) written into one buffer of the exact size, the same bytes as kafkajs' encoder (tested). kafkajs
 * allocates a zeroed 512-byte buffer per record and per header, grows the record's by copying, and builds
 * header arrays and encoders: ~10 µs per record with ingest's two headers, ~4.6 without (micro-bench). Any
 * input outside the common shapes (header values that are neither bytes nor text, big deltas) goes to
 * kafkajs' own encoder, so the output is always kafkajs'.
 */
export function fastRecordEncoder(fallback: RecordEncoder): RecordEncoder {
  return (input) => {
    const { offsetDelta = 0, timestampDelta = 0, key, value, headers = {} } = input;
    if (!isSmallInt(offsetDelta) || !isSmallInt(timestampDelta) || !isPlain(key) || !isPlain(value))
      return fallback(input);
    const keySize = key === null || key === undefined ? -1 : byteSize(key);
    const valueSize = value === null || value === undefined ? -1 : byteSize(value);
    let headerCount = 0;
    let headersSize = 0;
    for (const name in headers) {
      if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
      const v = headers[name];
      // kafkajs measures every header value with Buffer.byteLength (null throws there): only bytes and text here.
      if (typeof v !== 'string' && !Buffer.isBuffer(v)) return fallback(input);
      const nameSize = Buffer.byteLength(name, 'utf8');
      const size = byteSize(v);
      headersSize += varIntSize(nameSize) + nameSize + varIntSize(size) + size;
      headerCount += 1;
    }
    const body =
      1 +
      varIntSize(timestampDelta) +
      varIntSize(offsetDelta) +
      (keySize < 0 ? varIntSize(-1) : varIntSize(keySize) + keySize) +
      (valueSize < 0 ? varIntSize(-1) : varIntSize(valueSize) + valueSize) +
      varIntSize(headerCount) +
      headersSize;
    const total = varIntSize(body) + body;
    const buf = Buffer.allocUnsafe(total);
    let o = writeVarInt(buf, 0, body);
    buf[o++] = 0; // attributes: none used
    o = writeVarInt(buf, o, timestampDelta);
    o = writeVarInt(buf, o, offsetDelta);
    o = keySize < 0 ? writeVarInt(buf, o, -1) : writeBytes(buf, o, key!, keySize);
    o = valueSize < 0 ? writeVarInt(buf, o, -1) : writeBytes(buf, o, value!, valueSize);
    o = writeVarInt(buf, o, headerCount);
    for (const name in headers) {
      if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
      const v = headers[name] as string | Buffer;
      o = writeBytes(buf, o, name, Buffer.byteLength(name, 'utf8'));
      o = writeBytes(buf, o, v, byteSize(v));
    }
    if (o !== total) return fallback(input); // cannot happen; never send a malformed record
    // An Encoder (kafkajs checks `buf` and reads `buffer`), without its constructor's 512-byte allocation.
    const encoder = Object.create(Encoder.prototype) as EncoderLike;
    encoder.buf = buf;
    encoder.offset = total;
    return encoder;
  };
}

/** kafkajs' own CRC-32C (tests compare with it). */
export const kafkajsCrc32c = require(CRC32C_MODULE) as (buf: Buffer) => number;

/** kafkajs' own Record v0 encoder (the fallback; tests compare with it). */
export const kafkajsRecordEncoder = require(RECORD_MODULE) as RecordEncoder;
const fast = fastRecordEncoder(kafkajsRecordEncoder);

/**
 * Installs the fast encoder and CRC-32C in kafkajs; false when it is too late (kafkajs' produce request
 * already captured its encoder: kafkajs is left as it is).
 */
export function installRecordEncoder(): boolean {
  if (require.cache[PRODUCE_REQUEST_MODULE] !== undefined || require.cache[RECORD_BATCH_MODULE] !== undefined)
    return fastRecordEncoding();
  require.cache[RECORD_MODULE]!.exports = fast;
  require.cache[CRC32C_MODULE]!.exports = crc32c;
  return true;
}

/** True when kafkajs' produce requests encode records with `fastRecordEncoder` and `crc32c` in this process. */
export function fastRecordEncoding(): boolean {
  return require.cache[RECORD_MODULE]?.exports === fast && require.cache[CRC32C_MODULE]?.exports === crc32c;
}
