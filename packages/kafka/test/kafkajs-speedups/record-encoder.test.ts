import { describe, expect, it } from 'vitest';
import { createBatchingProducer, fastRecordEncoding } from '../../src/index';
import { randomBytes } from 'node:crypto';
import { Kafka } from 'kafkajs';
import {
  crc32c,
  fastRecordEncoder,
  kafkajsCrc32c,
  kafkajsRecordEncoder,
  type RecordInput,
} from '../../src/kafkajs-speedups/record-encoder';

/** The bytes an Encoder holds (its `buffer` getter). */
const bytes = (e: object) => Buffer.from((e as { buffer: Buffer }).buffer);

describe('fastRecordEncoder', () => {
  const fast = fastRecordEncoder(kafkajsRecordEncoder);
  const keys: unknown[] = ['SL-21231-0001', 'é-ü-中', '', Buffer.from([0, 1, 2, 255]), null, undefined];
  const values: unknown[] = [
    '{"a":1}',
    'x'.repeat(900),
    'é'.repeat(70_000), // multi-byte varint lengths
    Buffer.alloc(300, 7),
    '',
    null,
  ];
  const headerSets: (Record<string, unknown> | undefined)[] = [
    undefined,
    {},
    { ondijon_sensitivity: Buffer.from('S1'), ondijon_class: Buffer.from('S1 operational') },
    { ondijon_sensitivity: 'S3', 'clé-é': 'välue', empty: '', bin: Buffer.alloc(200, 1) },
  ];
  const deltas = [0, 1, 63, 64, 127, 128, 8191, 8192, 1_000_000, -1, -64, -65, 2 ** 30 - 1];

  it('writes exactly the bytes of kafkajs Record v0 encoder', () => {
    let n = 0;
    const mismatches: string[] = [];
    for (const key of keys)
      for (const value of values)
        for (const headers of headerSets)
          for (const d of deltas) {
            const input: RecordInput = { key, value, offsetDelta: Math.abs(d) % 600, timestampDelta: d };
            if (headers !== undefined) input.headers = headers;
            if (!bytes(fast(input)).equals(bytes(kafkajsRecordEncoder(input))))
              mismatches.push(JSON.stringify({ ...input, value: String(value).slice(0, 20) }));
            n += 1;
          }
    expect(mismatches).toEqual([]);
    expect(n).toBe(keys.length * values.length * headerSets.length * deltas.length);
  });

  it('hands unusual inputs to kafkajs (array headers, big deltas, numbers) with the same result or error', () => {
    const unusual: RecordInput[] = [
      { key: 'k', value: 'v', headers: { many: ['a', Buffer.from('b')] } },
      { key: 'k', value: 'v', timestampDelta: 2 ** 40 },
      { key: 'k', value: 'v', timestampDelta: -(2 ** 31) - 5 },
    ];
    for (const input of unusual) expect(bytes(fast(input))).toEqual(bytes(kafkajsRecordEncoder(input)));
    // kafkajs throws on a null header value; so does the fast path (it falls back).
    expect(() => kafkajsRecordEncoder({ key: 'k', value: 'v', headers: { h: null } })).toThrow();
    expect(() => fast({ key: 'k', value: 'v', headers: { h: null } })).toThrow();
  });

  it('crc32c is the CRC-32C of kafkajs for every length and alignment, and the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const data = randomBytes(3000);
    for (let start = 0; start < 9; start++)
      for (let length = 0; length < 2_991; length += length < 40 ? 1 : 97) {
        const slice = data.subarray(start, start + length);
        expect(crc32c(slice)).toBe(kafkajsCrc32c(slice));
      }
  });

  it('is what kafkajs produce requests use once a batching producer was created', () => {
    createBatchingProducer(new Kafka({ brokers: ['127.0.0.1:1'], clientId: 'unit' }));
    expect(fastRecordEncoding()).toBe(true);
  });
});
