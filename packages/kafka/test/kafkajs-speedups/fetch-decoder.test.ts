import { afterEach, describe, expect, it } from 'vitest';
import { fastFetchDecoding, installKafkajsSpeedups, setFastFetchDecoding } from '../../src/index';
import { createRequire } from 'node:module';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from '../../src/kafkajs-speedups/record-encoder';
import {
  DECODE_MESSAGES_MODULE,
  decodeCompressedBatchFast,
  decodeRecordBatchFast,
  fastFetchStats,
  kafkajsRecordBatchDecoder,
  setFetchHeaderSubset,
  SYNC_GUNZIP_MAX_BYTES,
  type DecoderLike,
} from '../../src/kafkajs-speedups/fetch-decoder';

// The named call that installs the speed-ups (no import does: CONTRIBUTING.md rule 17).
installKafkajsSpeedups();
const require = createRequire(import.meta.url);
const protocolDir = path.dirname(path.dirname(path.dirname(path.dirname(DECODE_MESSAGES_MODULE))));
type DecoderClass = new (buffer: Buffer) => DecoderLike;
const Decoder = require(path.join(protocolDir, 'decoder.js')) as DecoderClass;
// Loaded here, after the install: they capture the switching decoder, as a consumer's fetches do.
const decodeMessages = require(DECODE_MESSAGES_MODULE) as (decoder: DecoderLike) => Promise<unknown[]>;
const fetchV11 = require(path.join(protocolDir, 'requests', 'fetch', 'v11', 'response.js')) as {
  decode: (raw: Buffer) => Promise<FetchResponse>;
};
const Batch = require(path.join(protocolDir, '..', 'consumer', 'batch.js')) as new (
  topic: string,
  fetchedOffset: string,
  partitionData: unknown,
) => { messages: unknown[] };

interface FetchResponse {
  responses: { topicName: string; partitions: { partition: number; messages: unknown[] }[] }[];
}

// ---- Building record batches byte by byte (KIP-98 layout), so every field can take any value. ----

/** A header on the wire: a null key or value is written with length -1. */
type WireHeader = [key: Buffer | string | null, value: Buffer | string | null];

interface WireRecord {
  attributes?: number;
  timestampDelta?: bigint | number;
  offsetDelta?: number;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  /** null: header count -1. */
  headers?: WireHeader[] | null;
}

interface WireBatch {
  baseOffset?: bigint;
  leaderEpoch?: number;
  magic?: number;
  attributes?: number;
  lastOffsetDelta?: number;
  firstTimestamp?: bigint;
  maxTimestamp?: bigint;
  producerId?: bigint;
  producerEpoch?: number;
  firstSequence?: number;
  /** Written as the record count instead of `records.length`. */
  recordCount?: number;
  records: WireRecord[];
}

/** Zigzag LEB128 of a signed 64-bit value (for int32 values, the same bytes as the 32-bit varint). */
function varLong(n: bigint | number): Buffer {
  const big = BigInt(n);
  let v = BigInt.asUintN(64, (big << 1n) ^ (big >> 63n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

const bytesOf = (x: Buffer | string): Buffer => (typeof x === 'string' ? Buffer.from(x, 'utf8') : x);
const varBytes = (x: Buffer | string | null | undefined): Buffer =>
  x === null || x === undefined ? varLong(-1) : Buffer.concat([varLong(bytesOf(x).length), bytesOf(x)]);

function recordBytes(r: WireRecord, index: number): Buffer {
  const headers =
    r.headers === null
      ? [varLong(-1)]
      : [
          varLong((r.headers ?? []).length),
          ...(r.headers ?? []).flatMap(([k, v]) => [varBytes(k), varBytes(v)]),
        ];
  const body = Buffer.concat([
    Buffer.from([r.attributes ?? 0]),
    varLong(r.timestampDelta ?? index),
    varLong(r.offsetDelta ?? index),
    varBytes(r.key === undefined ? `key-${index}` : r.key),
    varBytes(r.value === undefined ? `{"n":${index}}` : r.value),
    ...headers,
  ]);
  return Buffer.concat([varLong(body.length), body]);
}

function int64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

function batchBytes(batch: WireBatch): Buffer {
  const attributes = batch.attributes ?? 0;
  const recordsRaw = Buffer.concat(batch.records.map(recordBytes));
  const records = (attributes & 0x07) === 1 ? gzipSync(recordsRaw) : recordsRaw;
  const afterCrc = Buffer.alloc(2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);
  afterCrc.writeInt16BE(attributes, 0);
  afterCrc.writeInt32BE(batch.lastOffsetDelta ?? Math.max(batch.records.length - 1, 0), 2);
  afterCrc.writeBigInt64BE(batch.firstTimestamp ?? 1_760_000_000_000n, 6);
  afterCrc.writeBigInt64BE(batch.maxTimestamp ?? 1_760_000_000_999n, 14);
  afterCrc.writeBigInt64BE(batch.producerId ?? -1n, 22);
  afterCrc.writeInt16BE(batch.producerEpoch ?? -1, 30);
  afterCrc.writeInt32BE(batch.firstSequence ?? -1, 32);
  afterCrc.writeInt32BE(batch.recordCount ?? batch.records.length, 36);
  const checked = Buffer.concat([afterCrc, records]);
  const head = Buffer.alloc(4 + 1 + 4);
  head.writeInt32BE(batch.leaderEpoch ?? 0, 0);
  head.writeInt8(batch.magic ?? 2, 4);
  head.writeUInt32BE(crc32c(checked), 5);
  const length = Buffer.alloc(4);
  length.writeInt32BE(head.length + checked.length);
  return Buffer.concat([int64(batch.baseOffset ?? 0n), length, head, checked]);
}

/** A buffer with `bytes` at a non-zero offset of a bigger allocation, as in a real fetch response. */
function embedded(bytes: Buffer): Buffer {
  const whole = Buffer.alloc(bytes.length + 37, 0xee);
  bytes.copy(whole, 17);
  return whole.subarray(17, 17 + bytes.length);
}

// ---- Comparing decodes: every own property in order, its type, and where each Buffer's memory is. ----

/**
 * A canonical form of a decode: objects as their prototype and own entries in order (so an own
 * "__proto__" header or a missing header shows), Buffers as their bytes plus, when they share memory
 * with the input, their offset in it (kafkajs slices; a copy would show as `shared: false`).
 */
function canon(v: unknown, input: ArrayBufferLike | null): unknown {
  if (v === null || v === undefined || typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint')
    return { [typeof v]: String(v) };
  if (typeof v === 'function') return { function: v.name };
  if (v === Object.prototype) return 'Object.prototype';
  if (Buffer.isBuffer(v)) {
    const shared = input !== null && v.buffer === input;
    return { hex: v.toString('hex'), shared, at: shared ? v.byteOffset : null };
  }
  if (Array.isArray(v)) return v.map((x) => canon(x, input));
  if (typeof v === 'object') {
    const proto: unknown = Object.getPrototypeOf(v);
    const entries = Reflect.ownKeys(v).map((k) => {
      const d = Object.getOwnPropertyDescriptor(v, k)!;
      return [String(k), d.enumerable, canon(d.value, input)];
    });
    return { proto: proto === Object.prototype ? 'Object' : Object.prototype.toString.call(v), entries };
  }
  return { other: typeof v };
}

/** A call's result or its error (name and message), so a throwing decode compares too. */
async function settle<T>(f: () => Promise<T> | T): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await f() };
  } catch (error) {
    const e = error as Error;
    return { error: `${e.name}: ${e.message}` };
  }
}

/** Decodes one batch with kafkajs' decoder and with the fast one, from the same bytes. */
async function decodeBoth(bytes: Buffer) {
  const input = embedded(bytes);
  const stockDecoder = new Decoder(input);
  const fastDecoder = new Decoder(input);
  const stock = await settle(() => kafkajsRecordBatchDecoder(stockDecoder));
  // Uncompressed batches are decodeRecordBatchFast's, compressed ones decodeCompressedBatchFast's (a
  // codec that throws leaves the batch to kafkajs, as the installed decoder does).
  const fast =
    decodeRecordBatchFast(fastDecoder) ?? (await decodeCompressedBatchFast(fastDecoder).catch(() => null));
  return {
    stock: canon(stock, input.buffer),
    fast: fast === null ? null : canon({ value: fast }, input.buffer),
    stockOffset: stockDecoder.offset,
    fastOffset: fastDecoder.offset,
  };
}

/** A partition's record set as fetch responses carry it (int32 size, then the batches). */
function recordSet(bytes: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(bytes.length);
  return Buffer.concat([size, bytes]);
}

/** Runs `f` with the fast decoder off, then on, and returns both results in canonical form. */
async function offThenOn(input: Buffer, f: () => Promise<unknown>) {
  expect(setFastFetchDecoding(false)).toBe(false);
  const stock = canon(await settle(f), input.buffer);
  expect(setFastFetchDecoding(true)).toBe(true);
  const fast = canon(await settle(f), input.buffer);
  return { stock, fast };
}

afterEach(() => {
  setFastFetchDecoding(true);
  setFetchHeaderSubset(null);
});

/** kafkajs' record headers with only the keys of `keep`, in their order (an own "__proto__" stays own). */
function onlyHeaders(headers: Record<string, unknown>, keep: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(headers))
    if (keep.has(k))
      Object.defineProperty(out, k, {
        value: headers[k],
        writable: true,
        enumerable: true,
        configurable: true,
      });
  return out;
}

/**
 * Decodes `bytes` with kafkajs' decoder and with the fast one keeping only `keep`'s headers: the fast
 * batch must be kafkajs' with its records' headers filtered to `keep`.
 */
async function decodeBothWithSubset(bytes: Buffer, keep: readonly string[]) {
  const input = embedded(bytes);
  const stockDecoder = new Decoder(input);
  const fastDecoder = new Decoder(input);
  const stock = await settle(() => kafkajsRecordBatchDecoder(stockDecoder));
  if ('value' in stock)
    for (const r of stock.value.records) r.headers = onlyHeaders(r.headers, new Set(keep));
  setFetchHeaderSubset(keep);
  try {
    const fast =
      decodeRecordBatchFast(fastDecoder) ?? (await decodeCompressedBatchFast(fastDecoder).catch(() => null));
    return {
      stock: canon(stock, input.buffer),
      fast: fast === null ? null : canon({ value: fast }, input.buffer),
      stockOffset: stockDecoder.offset,
      fastOffset: fastDecoder.offset,
    };
  } finally {
    setFetchHeaderSubset(null);
  }
}

// ---- The combinations. ----

const KEYS: (Buffer | string | null)[] = [
  null,
  '',
  'SL-21231-0001',
  'é-ü-中',
  Buffer.from([0, 255, 128]),
  'k'.repeat(70_000),
];
const JSON_VALUE = JSON.stringify({
  equipmentId: 'SL-21231-0001',
  at: '2025-10-09T10:00:00.000Z',
  pad: 'x'.repeat(620),
});
const VALUES: (Buffer | string | null)[] = [null, '', JSON_VALUE, Buffer.alloc(100_000, 7)];
const HEADER_SETS: (WireHeader[] | null)[] = [
  null,
  [],
  [['ondijon_sensitivity', 'S1']],
  [
    ['ondijon_sensitivity', 'S1'],
    ['ondijon_class', 'S1 operational'],
    ['clé-é', 'välue'],
    ['empty', ''],
    ['bin', Buffer.alloc(200, 1)],
  ],
  [
    ['h', 'a'],
    ['h', 'b'],
    ['other', 'x'],
    ['h', 'c'],
  ],
  [
    ['n', null],
    ['n', 'then'],
    ['n2', 'first'],
    ['n2', null],
  ],
  [[null, 'null key']],
  [
    ['constructor', 'c'],
    ['toString', 't'],
    ['__proto__', 'p1'],
    ['__proto__', 'p2'],
    ['hasOwnProperty', null],
    ['2', 'integer-like'],
    ['1', 'first integer-like'],
  ],
  // More distinct keys than the key cache holds, keys alike but for one byte, long ones, invalid UTF-8.
  Array.from({ length: 40 }, (_, i): WireHeader => [`key-${i % 37}`, String(i)]),
  [
    ['ab1', '1'],
    ['ab2', '2'],
    ['ab1', '3'],
    ['k'.repeat(65), 'long'],
    ['k'.repeat(65), 'long again'],
    [Buffer.from([0xff, 0xfe, 0x41]), 'bad'],
    [Buffer.from([0xc3]), 'cut'],
    [Buffer.from([0xc3, 0xa9]), 'é'],
  ],
];
const TIMESTAMP_DELTAS: (bigint | number)[] = [
  0,
  1,
  -1,
  63,
  64,
  -65,
  2 ** 31,
  2 ** 47,
  2 ** 48 - 1,
  2 ** 48,
  -(2 ** 48),
  2n ** 55n,
  -(2n ** 62n),
  2n ** 63n - 1n,
  -(2n ** 63n),
];
const FIRST_TIMESTAMPS = [1_760_000_000_000n, 0n, -1n, -(2n ** 53n) - 5n, 2n ** 53n - 2n, 2n ** 62n];
const BASE_OFFSETS = [
  0n,
  12_345n,
  99_999_990n,
  100_000_000n,
  1_760_000_000_000n,
  2n ** 53n - 10n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n - 100n,
  -1n,
];
const OFFSET_DELTAS = [0, 1, 5, 1000, 2 ** 20, 2 ** 31 - 1, -1, -(2 ** 31)];

describe('decodeRecordBatchFast', () => {
  it('gives the objects of kafkajs record batch decoder for keys × values × headers', async () => {
    let n = 0;
    for (const key of KEYS)
      for (const value of VALUES)
        for (const headers of HEADER_SETS) {
          const bytes = batchBytes({
            baseOffset: 4200n,
            records: [
              { key, value, headers },
              { key: value, value: key, headers, offsetDelta: 3, timestampDelta: -2 },
            ],
          });
          const { stock, fast, stockOffset, fastOffset } = await decodeBoth(bytes);
          expect(fast).not.toBeNull();
          expect(fast).toStrictEqual(stock);
          expect(fastOffset).toBe(stockOffset);
          n += 1;
        }
    expect(n).toBe(KEYS.length * VALUES.length * HEADER_SETS.length);
    // Hundreds of decodes, each also by kafkajs: slow on a loaded machine (no timing is asserted).
  }, 60_000);

  it('with a header subset, gives the objects of kafkajs with only those headers, compressed or not', async () => {
    const subsets = [
      [],
      ['h', 'n2', 'ondijon_class', 'bin'],
      ['null', '__proto__', 'constructor', '2', 'hasOwnProperty'],
      ['ce_subject', 'ondijon_sensitivity', 'clé-é', 'empty', 'n', 'other'],
    ];
    let n = 0;
    for (const keep of subsets)
      for (const headers of HEADER_SETS)
        for (const attributes of [0x00, 0x01]) {
          const bytes = batchBytes({
            baseOffset: 4200n,
            attributes,
            records: [
              { key: 'k', value: 'v', headers },
              { key: null, value: null, headers, offsetDelta: 3 },
            ],
          });
          const { stock, fast, stockOffset, fastOffset } = await decodeBothWithSubset(bytes, keep);
          expect(fast).not.toBeNull();
          expect(fast).toStrictEqual(stock);
          expect(fastOffset).toBe(stockOffset);
          n += 1;
        }
    expect(n).toBe(subsets.length * HEADER_SETS.length * 2);
    // Each byte of a small batch corrupted: a header skipped is checked as one read (same fallbacks).
    const bytes = batchBytes({
      records: [
        {
          key: 'a',
          value: 'v1',
          headers: [
            ['h', 'x'],
            ['skip', 'y'],
          ],
        },
        { key: null, value: 'v2', headers: [['skip', null]] },
      ],
    });
    let decoded = 0;
    for (let i = 0; i < bytes.length; i++)
      for (const byte of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
        const corrupted = Buffer.from(bytes);
        corrupted[i] = byte;
        const { stock, fast, stockOffset, fastOffset } = await decodeBothWithSubset(corrupted, ['h']);
        if (fast === null) continue;
        decoded += 1;
        expect(fast, `byte ${i} set to ${byte}`).toStrictEqual(stock);
        expect(fastOffset).toBe(stockOffset);
      }
    expect(decoded).toBeGreaterThan(bytes.length);
    // Hundreds of decodes, each also by kafkajs: slow on a loaded machine (no timing is asserted).
  }, 60_000);

  it('gives the same offsets and timestamps for big, negative and long-varint numbers', async () => {
    for (const baseOffset of BASE_OFFSETS)
      for (const firstTimestamp of FIRST_TIMESTAMPS) {
        const records = OFFSET_DELTAS.map((offsetDelta, i) => ({
          offsetDelta,
          timestampDelta: TIMESTAMP_DELTAS[i % TIMESTAMP_DELTAS.length]!,
        }));
        records.push(...TIMESTAMP_DELTAS.map((timestampDelta, i) => ({ offsetDelta: i, timestampDelta })));
        const { stock, fast } = await decodeBoth(batchBytes({ baseOffset, firstTimestamp, records }));
        expect(fast).not.toBeNull();
        expect(fast).toStrictEqual(stock);
      }
  });

  it('gives the same batches for LOG_APPEND_TIME, transactional and control batches and unusual headers fields', async () => {
    const cases: WireBatch[] = [
      {
        attributes: 0x08,
        maxTimestamp: 1_760_000_123_456n,
        records: [{}, {}, { timestampDelta: 2n ** 60n }],
      },
      { attributes: 0x08, maxTimestamp: 0n, records: [{}] },
      {
        attributes: 0x10,
        producerId: 9_007_199_254_740_993n,
        producerEpoch: 3,
        firstSequence: 77,
        records: [{}, {}],
      },
      {
        attributes: 0x30,
        producerId: 42n,
        producerEpoch: 1,
        // A commit marker: key (version, type), value (version, coordinator epoch).
        records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 5]), headers: [] }],
      },
      { attributes: 0x38, records: [{ key: Buffer.from([0, 0, 0, 0]) }] },
      { leaderEpoch: -1, lastOffsetDelta: 99, records: [{ attributes: 0x7f }, { attributes: 0x80 - 256 }] },
      { recordCount: 0, records: [] },
      { recordCount: -1, records: [] },
      { recordCount: 1, records: [{}, {}] }, // fewer announced than present: the rest is skipped
    ];
    for (const batch of cases) {
      const { stock, fast, stockOffset, fastOffset } = await decodeBoth(batchBytes(batch));
      expect(fast).not.toBeNull();
      expect(fast).toStrictEqual(stock);
      expect(fastOffset).toBe(stockOffset);
    }
  });

  it('leaves compressed batches, other magics, partial batches and unreadable bytes to kafkajs, without moving', async () => {
    const whole = batchBytes({ records: [{}, {}, {}] });
    const cases: Buffer[] = [
      batchBytes({ attributes: 0x01, records: [{}, {}] }), // gzip: decodeCompressedBatchFast's
      batchBytes({ attributes: 0x05, records: [{}] }), // no such codec: kafkajs reads it uncompressed
      batchBytes({ magic: 1, records: [{}] }),
      whole.subarray(0, whole.length - 5), // the last batch of a fetch, cut by max bytes
      whole.subarray(0, 30),
      batchBytes({ recordCount: 3, records: [{}, {}] }), // more announced than present
      batchBytes({ recordCount: -2, records: [] }),
    ];
    for (const bytes of cases) {
      const input = embedded(bytes);
      const decoder = new Decoder(input);
      expect(decodeRecordBatchFast(decoder)).toBeNull();
      expect(decoder.offset).toBe(0);
    }
  });

  it('decodes gzip batches (kafkajs decompresses, the fast reader reads) into the objects of kafkajs', async () => {
    let n = 0;
    for (const headers of HEADER_SETS)
      for (const attributes of [0x01, 0x09, 0x11]) {
        const bytes = batchBytes({
          baseOffset: 2n ** 53n - 3n,
          attributes,
          records: Array.from({ length: 7 }, (_, i) => ({
            key: KEYS[i % KEYS.length],
            value: VALUES[i % VALUES.length],
            headers,
            timestampDelta: TIMESTAMP_DELTAS[i],
          })),
        });
        const { stock, fast, stockOffset, fastOffset } = await decodeBoth(bytes);
        expect(fast).not.toBeNull();
        expect(fast).toStrictEqual(stock);
        expect(fastOffset).toBe(stockOffset);
        n += 1;
      }
    expect(n).toBe(HEADER_SETS.length * 3);
    // A count of zero or less: no records, as kafkajs (which does not decompress them).
    for (const recordCount of [0, -1]) {
      const { stock, fast, stockOffset, fastOffset } = await decodeBoth(
        batchBytes({ attributes: 0x01, recordCount, records: [{}] }),
      );
      expect(fast).toStrictEqual(stock);
      expect(fastOffset).toBe(stockOffset);
    }
    // Hundreds of decodes, each also by kafkajs: slow on a loaded machine (no timing is asserted).
  }, 60_000);

  it('gunzips small batches in place and big ones as kafkajs does, into the objects of kafkajs either way', async () => {
    // Random values do not compress: 40 records of 2 KiB are a compressed section past the limit.
    const sizes = { small: 3, big: Math.ceil((SYNC_GUNZIP_MAX_BYTES * 1.25) / 2048) };
    for (const [size, count] of Object.entries(sizes)) {
      const bytes = batchBytes({
        attributes: 0x01,
        records: Array.from({ length: count }, (_, i) => ({
          value: randomBytes(2048),
          headers: [['ce_subject', `SL-${i}`]],
        })),
      });
      const before = fastFetchStats();
      const { stock, fast, stockOffset, fastOffset } = await decodeBoth(bytes);
      const after = fastFetchStats();
      expect(fast).not.toBeNull();
      expect(fast).toStrictEqual(stock);
      expect(fastOffset).toBe(stockOffset);
      expect(after.gunzippedInPlace - before.gunzippedInPlace, size).toBe(size === 'small' ? 1 : 0);
    }
  });

  it('uses a gzip codec registered in place of kafkajs own, as kafkajs does', async () => {
    const codecs = (require('kafkajs') as { CompressionCodecs: Record<number, unknown> }).CompressionCodecs;
    const own = codecs[1];
    let calls = 0;
    codecs[1] = () => ({
      compress: () => Promise.reject(new Error('not used')),
      decompress: (b: Buffer) => {
        calls += 1;
        return Promise.resolve(gunzipSync(b));
      },
    });
    try {
      const bytes = batchBytes({ attributes: 0x01, records: [{}, {}] });
      const before = fastFetchStats();
      const { stock, fast } = await decodeBoth(bytes);
      expect(fast).toStrictEqual(stock);
      expect(calls).toBe(2); // kafkajs' decoder, then the fast one
      expect(fastFetchStats().gunzippedInPlace).toBe(before.gunzippedInPlace);
    } finally {
      codecs[1] = own;
    }
  });

  it('leaves to kafkajs the compressed batches it cannot read the same way, without moving', async () => {
    const whole = batchBytes({ attributes: 0x01, records: [{}, {}, {}] });
    const cases: Buffer[] = [
      batchBytes({ records: [{}] }), // not compressed: decodeRecordBatchFast's
      batchBytes({ attributes: 0x05, records: [{}] }), // no such codec
      batchBytes({ attributes: 0x03, records: [{}] }), // lz4: no codec registered, kafkajs throws
      batchBytes({ attributes: 0x01, magic: 1, records: [{}] }),
      whole.subarray(0, whole.length - 5), // cut by max bytes
      batchBytes({ attributes: 0x01, recordCount: 4, records: [{}, {}] }), // more announced than present
    ];
    for (const bytes of cases) {
      const decoder = new Decoder(embedded(bytes));
      expect(await decodeCompressedBatchFast(decoder)).toBeNull();
      expect(decoder.offset).toBe(0);
    }
    // Not gzip at all: the codec throws, the decoder has not moved (kafkajs then reports the error).
    const garbage = batchBytes({ records: [{}, {}] });
    garbage.writeInt16BE(0x01, 21);
    const decoder = new Decoder(embedded(garbage));
    await expect(decodeCompressedBatchFast(decoder)).rejects.toThrow();
    expect(decoder.offset).toBe(0);
  });

  it('agrees with kafkajs on corrupted batches, result or error', async () => {
    // Every single-byte change of a small batch (ASCII values keep kafkajs' own loops short).
    const bytes = batchBytes({
      baseOffset: 10n,
      records: [
        { key: 'a', value: 'v1', headers: [['h', 'x']] },
        {
          key: null,
          value: 'v2',
          headers: [
            ['h', 'y'],
            ['h', null],
          ],
        },
      ],
    });
    let fastDecoded = 0;
    for (let i = 0; i < bytes.length; i++)
      for (const byte of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
        const corrupted = Buffer.from(bytes);
        corrupted[i] = byte;
        const { stock, fast, stockOffset, fastOffset } = await decodeBoth(corrupted);
        if (fast === null) continue;
        fastDecoded += 1;
        expect(fast, `byte ${i} set to ${byte}`).toStrictEqual(stock);
        expect(fastOffset).toBe(stockOffset);
      }
    expect(fastDecoded).toBeGreaterThan(bytes.length); // most corruptions still decode (CRC is not checked)
    // Hundreds of decodes, each also by kafkajs: slow on a loaded machine (no timing is asserted).
  }, 60_000);

  it('reads header keys from the bytes, not from an earlier fetch whose buffer was since overwritten', async () => {
    const input = embedded(batchBytes({ records: [{ headers: [['reused-a', '1']] }] }));
    const first = decodeRecordBatchFast(new Decoder(input))!;
    expect(Object.keys(first.records[0]!.headers)).toEqual(['reused-a']);
    const at = input.indexOf('reused-a');
    input.write('reused-b', at);
    const { stock, fast } = await decodeBoth(input);
    expect(fast).toStrictEqual(stock);
    expect(Object.keys(decodeRecordBatchFast(new Decoder(input))!.records[0]!.headers)).toEqual(['reused-b']);
  });

  it('notices what a wrong decoder would do (a dropped header, a copied value, a number offset)', async () => {
    const input = embedded(
      batchBytes({
        records: [
          {
            headers: [
              ['a', '1'],
              ['b', '2'],
            ],
          },
        ],
      }),
    );
    const stock = canon(await kafkajsRecordBatchDecoder(new Decoder(input)), input.buffer);
    const mutations: ((r: {
      headers: Record<string, unknown>;
      value: Buffer | null;
      offset: unknown;
    }) => void)[] = [
      (r) => delete r.headers.b,
      (r) => (r.value = Buffer.from(r.value!)),
      (r) => (r.offset = Number(r.offset)),
    ];
    for (const mutate of mutations) {
      const batch = decodeRecordBatchFast(new Decoder(input))!;
      mutate(batch.records[0] as never);
      expect(canon(batch, input.buffer)).not.toStrictEqual(stock);
    }
  });
});

describe('the fast decoder installed in kafkajs', () => {
  it('is on in this process', () => {
    expect(fastFetchDecoding()).toBe(true);
  });

  it("decodes a partition's record set like kafkajs: several batches, a cut last batch, a compressed one", async () => {
    const batches = [
      batchBytes({
        baseOffset: 0n,
        records: [
          {},
          {},
          {
            key: null,
            headers: [
              ['h', 'a'],
              ['h', 'b'],
            ],
          },
        ],
      }),
      batchBytes({ baseOffset: 3n, attributes: 0x01, records: [{}, { value: null }] }),
      batchBytes({ baseOffset: 5n, attributes: 0x10, producerId: 7n, records: [{}, {}] }),
      batchBytes({
        baseOffset: 7n,
        attributes: 0x30,
        producerId: 7n,
        records: [{ key: Buffer.from([0, 0, 0, 1]) }],
      }),
      batchBytes({
        baseOffset: 8n,
        attributes: 0x08,
        records: Array.from({ length: 50 }, () => ({ value: JSON_VALUE })),
      }),
    ];
    const all = Buffer.concat(batches);
    const last = batches.at(-1)!;
    for (const cut of [0, 1, 12, 61, 200, last.length - 1]) {
      const input = embedded(recordSet(all.subarray(0, all.length - cut)));
      const before = fastFetchStats();
      const { stock, fast } = await offThenOn(input, () => decodeMessages(new Decoder(input)));
      expect(fast).toStrictEqual(stock);
      const after = fastFetchStats();
      // The gzip batch too (decompressed, then read by the fast reader); a cut last batch falls back.
      expect(after.fast - before.fast).toBe(cut === 0 ? 5 : 4);
      expect(after.compressed - before.compressed).toBe(1);
    }
  });

  it('decodes a whole fetch response (v11) and builds the same consumer batches, aborted transactions filtered', async () => {
    const partition = (id: number, aborted: [bigint, bigint][], set: Buffer) => {
      const head = Buffer.alloc(4 + 2 + 8 * 3 + 4);
      head.writeInt32BE(id, 0);
      head.writeBigInt64BE(100n, 6);
      head.writeBigInt64BE(100n, 14);
      head.writeInt32BE(aborted.length, 30);
      const tail = Buffer.alloc(4);
      tail.writeInt32BE(-1);
      return Buffer.concat([
        head,
        ...aborted.flatMap(([p, o]) => [int64(p), int64(o)]),
        tail,
        recordSet(set),
      ]);
    };
    const topic = 'ondijon.raw.telemetry.v1';
    const name = Buffer.alloc(2);
    name.writeInt16BE(topic.length);
    const p0 = Buffer.concat([
      batchBytes({ baseOffset: 0n, records: [{}, {}] }),
      batchBytes({
        baseOffset: 2n,
        attributes: 0x10,
        producerId: 9n,
        records: [{ value: 'aborted' }, { value: 'aborted' }],
      }),
      batchBytes({
        baseOffset: 4n,
        attributes: 0x30,
        producerId: 9n,
        records: [{ key: Buffer.from([0, 0, 0, 0]) }],
      }),
      batchBytes({ baseOffset: 5n, attributes: 0x10, producerId: 9n, records: [{ value: 'committed' }] }),
      batchBytes({
        baseOffset: 6n,
        attributes: 0x30,
        producerId: 9n,
        records: [{ key: Buffer.from([0, 0, 0, 1]) }],
      }),
      batchBytes({ baseOffset: 7n, records: [{}, { headers: [['x', null]] }] }),
    ]);
    const p1 = batchBytes({ baseOffset: 2n ** 53n - 1n, records: [{}, {}, {}] });
    // throttle_time_ms, error_code, session_id, then one topic.
    const head = Buffer.alloc(4 + 2 + 4 + 4);
    head.writeInt32BE(1, 10);
    const raw = embedded(
      Buffer.concat([
        head,
        name,
        Buffer.from(topic),
        Buffer.from([0, 0, 0, 2]),
        partition(0, [[9n, 2n]], p0),
        partition(1, [], p1),
      ]),
    );
    const { stock, fast } = await offThenOn(raw, async () => {
      const response = await fetchV11.decode(raw);
      const [p0Data, p1Data] = response.responses[0]!.partitions;
      return {
        response,
        batches: [new Batch(topic, '1', p0Data).messages, new Batch(topic, '0', p1Data).messages],
      };
    });
    expect(fast).toStrictEqual(stock);
    const value = (stock as { entries: [string, boolean, unknown][] }).entries[0]![2];
    expect(JSON.stringify(value)).toContain(Buffer.from('committed').toString('hex'));
    expect(JSON.stringify(value)).toContain(Buffer.from('aborted').toString('hex')); // raw messages keep them
  });

  it('follows setFastFetchDecoding', () => {
    expect(setFastFetchDecoding(false)).toBe(false);
    expect(fastFetchDecoding()).toBe(false);
    expect(setFastFetchDecoding(true)).toBe(true);
    expect(fastFetchDecoding()).toBe(true);
  });
});
