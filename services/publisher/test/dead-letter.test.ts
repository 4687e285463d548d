import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeadLetter, HEADERS, toBinary, topicConstants, type Envelope } from '@ondijon/contracts';
import { loadPolicy, seededRng } from '@ondijon/governance';
import type { StoreReader, StoreWriter } from '@ondijon/opendata';
import { silentLogger } from '@ondijon/service-kit';
import { deadLetterHeaders, deadLetterOf } from '../src/dead-letter';
import { PublisherCore } from '../src/publisher';
import { NoiseStore, Staging } from '../src/staging';
import { lightingDay } from './helpers';
import { envelopeOf } from './int-helpers';

const TOPIC = 'test-lighting';
const SOURCE = 'agg.s1.lighting-commune-hour.v1';
const NOW = new Date('2026-01-20T00:00:00Z');

/** A core over one overridden lighting topic; rejected records never reach the store. */
function core(): PublisherCore {
  const dir = join(tmpdir(), 'publisher-dead-letter-unit');
  return new PublisherCore({
    policy: loadPolicy(),
    datasets: ['lighting-commune-hour'],
    topicOverrides: { 'lighting-commune-hour': TOPIC },
    staging: new Staging(dir),
    noise: new NoiseStore(dir),
    writer: {} as StoreWriter,
    reader: {} as StoreReader,
    rng: seededRng('dead-letter-test'),
    log: silentLogger(),
    clock: () => NOW,
    trigger: 'manual',
  });
}

/** A lighting aggregate envelope with `values.energyKwh` removed. */
function withoutEnergy(): string {
  const env = JSON.parse(envelopeOf(lightingDay()[0]!, 'lighting-commune-hour')) as {
    data: { values: Record<string, unknown> };
  };
  delete env.data.values.energyKwh;
  return JSON.stringify(env);
}

describe('CloudEvents binary-mode aggregate records', () => {
  it('stage like the same event in structured mode', () => {
    const structured = envelopeOf(lightingDay()[0]!, 'lighting-commune-hour');
    const binary = toBinary(JSON.parse(structured) as Envelope<unknown>, topicConstants(SOURCE));
    const a = core().ingest({ topic: TOPIC, partition: 0, offset: '1', value: Buffer.from(structured) });
    const b = core().ingest({
      topic: TOPIC,
      partition: 0,
      offset: '1',
      value: Buffer.from(binary.value),
      headers: Object.fromEntries(Object.entries(binary.headers).map(([k, v]) => [k, Buffer.from(v)])),
    });
    expect(a.outcome).not.toBe('invalid');
    expect(b).toEqual(a);
  });

  it('an invalid one is dead-lettered with its event in structured mode', () => {
    const env = JSON.parse(withoutEnergy()) as Envelope<unknown>;
    const binary = toBinary(env, topicConstants(SOURCE));
    const result = core().ingest({
      topic: TOPIC,
      partition: 0,
      offset: '2',
      value: Buffer.from(binary.value),
      headers: binary.headers,
    });
    expect(result.outcome).toBe('invalid');
    if (result.outcome !== 'invalid') return;
    expect(result.deadLetter.issues?.map((i) => i.path)).toEqual(['data.values.energyKwh']);
    expect(JSON.parse(Buffer.from(result.deadLetter.payloadBase64!, 'base64').toString())).toEqual(env);
  });
});

describe('dead letters of invalid aggregate records', () => {
  it('a record missing a field is dead-lettered with the field named and the payload kept', () => {
    const value = Buffer.from(withoutEnergy());
    const result = core().ingest({ topic: TOPIC, partition: 2, offset: '41', value });
    expect(result.outcome).toBe('invalid');
    if (result.outcome !== 'invalid') return;
    const d = DeadLetter.parse(result.deadLetter);
    expect(d).toMatchObject({
      code: 'ONDIJON_RECORD_INVALID',
      origin: 'kafka',
      kafkaTopic: TOPIC,
      kafkaPartition: 2,
      kafkaOffset: '41',
      expectedSchema: SOURCE,
      sensitivity: 'S1',
      rejectedBy: 'publisher',
      replays: 0,
      receivedAt: NOW.toISOString(),
      payloadBytes: value.length,
      payloadSha256: createHash('sha256').update(value).digest('hex'),
    });
    expect(d.reason).toContain('data.values.energyKwh');
    expect(d.reason).toContain(SOURCE);
    expect(d.issues?.map((i) => i.path)).toEqual(['data.values.energyKwh']);
    expect(Buffer.from(d.payloadBase64!, 'base64').equals(value)).toBe(true);
  });

  it('a value that is not JSON, or absent, is dead-lettered with a reason saying so', () => {
    const c = core();
    for (const [value, words] of [
      ['{"specversion":', 'is not JSON'],
      [null, 'has no value'],
    ] as const) {
      const result = c.ingest({ topic: TOPIC, partition: 0, offset: '7', value });
      expect(result.outcome).toBe('invalid');
      if (result.outcome !== 'invalid') continue;
      const d = DeadLetter.parse(result.deadLetter);
      expect(d.reason).toContain(words);
      expect(d.reason).toContain(SOURCE);
      expect(d.issues).toBeUndefined();
      expect(d.payloadBytes).toBe(value === null ? 0 : Buffer.byteLength(value));
    }
  });

  it('a valid record is staged, with no dead letter', () => {
    const value = envelopeOf(lightingDay()[0]!, 'lighting-commune-hour');
    expect(core().ingest({ topic: TOPIC, partition: 0, offset: '0', value })).toEqual({ outcome: 'new' });
  });

  it('the id is stable per topic, partition and offset (a replayed batch dead-letters the same ids)', () => {
    const base = { topic: TOPIC, partition: 1, offset: '5', value: 'x', expectedSchema: SOURCE } as const;
    const a = deadLetterOf({ ...base, sensitivity: 'S1' }, NOW);
    const b = deadLetterOf({ ...base, sensitivity: 'S1' }, new Date(NOW.getTime() + 60_000));
    expect(b.id).toBe(a.id);
    expect(deadLetterOf({ ...base, offset: '6', sensitivity: 'S1' }).id).not.toBe(a.id);
    expect(deadLetterOf({ ...base, partition: 2, sensitivity: 'S1' }).id).not.toBe(a.id);
    expect(deadLetterOf({ ...base, topic: 'other', sensitivity: 'S1' }).id).not.toBe(a.id);
  });

  it('the reason names the first three failing fields and counts the others', () => {
    const issues = ['a', 'b', 'c', 'd', 'e'].map((path) => ({
      path,
      message: 'Required',
      code: 'invalid_type',
    }));
    const d = deadLetterOf(
      {
        topic: TOPIC,
        partition: 0,
        offset: '1',
        value: '{}',
        expectedSchema: SOURCE,
        sensitivity: 'S2',
        issues,
      },
      NOW,
    );
    expect(d.reason).toContain('a: Required; b: Required; c: Required; and 2 more');
    expect(d.reason).not.toContain('d: Required');
    expect(d.issues).toHaveLength(5);
    expect(DeadLetter.parse(d).sensitivity).toBe('S2');
    expect(deadLetterHeaders(d)[HEADERS.sensitivity]).toBe('S2');
  });
});
