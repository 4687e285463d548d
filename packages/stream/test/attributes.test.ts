import { describe, expect, it } from 'vitest';
import { decode, runProcessor, telemetryEnvelope, type RawRecord } from '../src/index';
import { binaryLamp, countAttributes, countData, countsByWindow } from './support';

// Attribute-only processors (`reads: 'attributes'`, define.ts): a binary-mode record's value is never
// read. The harness takes the runtime's decode (engine.ts) for binary records given with headers, so
// these checks hold on Kafka too (runtime.int.test.ts runs the same records there).

/** A record value any read of which throws (Buffer.toString is how every decoder reads a value). */
function unreadable(text: string): Buffer {
  const b = Buffer.from(text);
  b.toString = () => {
    throw new Error('the record value was read');
  };
  return b;
}

const records = (valueOf: (text: string) => Buffer | string) => {
  const out: {
    topic: 'tel.s1.lighting.v1';
    key: string;
    timestamp: string;
    headers: Record<string, string>;
    value: unknown;
  }[] = [];
  for (let i = 0; i < 60; i++) {
    const b = binaryLamp(i);
    out.push({
      topic: 'tel.s1.lighting.v1',
      key: b.key,
      timestamp: b.timestamp,
      headers: b.headers,
      value: valueOf(b.value),
    });
  }
  return out;
};

describe('attribute-only processors', () => {
  it('aggregate the same counts as the data path, per operator and window', () => {
    const attributes = runProcessor(
      countAttributes,
      records((t) => t),
    );
    const data = runProcessor(
      countData,
      records((t) => t),
    );
    expect(attributes.deadLetters).toEqual([]);
    expect(data.deadLetters).toEqual([]);
    expect(countsByWindow(attributes.latest.values()).size).toBe(6); // 2 communes × 3 hours
    expect(countsByWindow(attributes.latest.values())).toEqual(countsByWindow(data.latest.values()));
  });

  it('never read the value: a value that throws when read is counted; the data path dead-letters it', () => {
    const attributes = runProcessor(countAttributes, records(unreadable));
    expect(attributes.deadLetters).toEqual([]);
    expect(countsByWindow(attributes.latest.values())).toEqual(
      countsByWindow(
        runProcessor(
          countData,
          records((t) => t),
        ).latest.values(),
      ),
    );
    // A value that is not JSON: counted from its attributes, dead-lettered by a processor that needs data.
    const poison = { ...records((t) => t)[0]!, value: '{not json' };
    const counted = runProcessor(countAttributes, [poison]);
    expect([...counted.latest.values()].map((v) => v.data.inputRecords)).toEqual([1]);
    const lettered = runProcessor(countData, [poison]);
    expect(lettered.latest.size).toBe(0);
    expect(lettered.deadLetters.map((d) => [d.code, d.reason])).toEqual([
      ['ONDIJON_RECORD_INVALID', 'record value is not JSON'],
    ]);
  });

  it('validate the attributes they get, and give no data', () => {
    const b = binaryLamp(1);
    const raw = (headers: Record<string, string>): RawRecord => ({
      topic: 'tel.s1.lighting.v1',
      key: 'SL-1',
      value: unreadable(b.value),
      headers,
      partition: 0,
      offset: '0',
      timestamp: b.timestamp,
    });
    const ok = decode(countAttributes, raw(b.headers));
    expect(ok.ok && 'data' in ok.record.value).toBe(false);
    expect(ok.ok && (ok.record.value as { subject?: string }).subject).toBe('SL-1');
    // Invalid attributes: a dead letter (which copies the record, value included).
    const bad = decode(countAttributes, { ...raw({ ...b.headers, ce_time: 'yesterday' }), value: b.value });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.deadLetter.issues?.map((i) => i.path)).toContain('time');
    // Structured mode: the value holds the attributes, so it is parsed and validated whole.
    const structured = decode(countAttributes, {
      ...raw({}),
      headers: undefined,
      value: JSON.stringify(telemetryEnvelope('streetlight', JSON.parse(b.value), { equipmentId: 'SL-1' })),
    });
    expect(structured.ok && 'data' in structured.record.value).toBe(false);
  });
});
