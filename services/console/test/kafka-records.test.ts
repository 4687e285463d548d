import { describe, expect, it } from 'vitest';
import { CE_HEADERS, CE_SPECVERSION_HEADER } from '@ondijon/contracts';
import { decodeTelemetry, decodeTelemetryForState } from '../src/kafka-records';

const TOPIC = 'tel.s1.lighting.v1';
const data = { intervalS: 900, state: 'on', dimLevelPct: 80, faults: ['lamp'] };
const attributes = {
  subject: 'SL-000001',
  time: '2026-12-06T10:00:00.000Z',
  operator: 'citelum',
  type: 'fr.dijon.ondijon.telemetry.streetlight.v1',
};

describe('console record decoding', () => {
  it('reads the same subject, time, operator, type and data as the whole envelope, binary or structured', () => {
    // As kafkajs gives them: header values are Buffers.
    const headers = {
      [CE_SPECVERSION_HEADER]: Buffer.from('1.0'),
      [CE_HEADERS.id]: Buffer.from('0194f0a0-0000-7000-8000-000000000001'),
      [CE_HEADERS.source]: Buffer.from('ondijon/ingest'),
      [CE_HEADERS.datacontenttype]: Buffer.from('application/json'),
      ...Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [
          CE_HEADERS[k as keyof typeof attributes],
          Buffer.from(v),
        ]),
      ),
    };
    const value = Buffer.from(JSON.stringify(data));
    const whole = decodeTelemetry(value, headers, TOPIC)!;
    const light = decodeTelemetryForState(value, headers, TOPIC)!;
    expect(light).toEqual({ ...attributes, data });
    for (const k of ['subject', 'time', 'operator', 'type', 'data'] as const)
      expect(light[k]).toEqual(whole[k]);

    const structured = Buffer.from(JSON.stringify({ specversion: '1.0', ...attributes, data }));
    expect(decodeTelemetryForState(structured, {}, TOPIC)).toMatchObject({ ...attributes, data });
    expect(decodeTelemetryForState(Buffer.from('{not json'), headers, TOPIC)).toBeUndefined();
    expect(decodeTelemetryForState(null, headers, TOPIC)).toBeUndefined();

    // As ingest writes telemetry: no `ce_subject` header, the subject is the record key.
    const { [CE_HEADERS.subject]: _subject, ...keyed } = headers;
    const key = Buffer.from(attributes.subject);
    expect(decodeTelemetryForState(value, keyed, TOPIC, key)).toEqual({ ...attributes, data });
    expect(decodeTelemetry(value, keyed, TOPIC, key)!.subject).toBe(attributes.subject);
    expect(decodeTelemetryForState(value, keyed, TOPIC)!.subject).toBeUndefined();
  });

  it('reads the subject from the record key when the record has no ce_subject header', () => {
    const headers = {
      [CE_SPECVERSION_HEADER]: Buffer.from('1.0'),
      [CE_HEADERS.time]: Buffer.from(attributes.time),
      [CE_HEADERS.operator]: Buffer.from(attributes.operator),
      [CE_HEADERS.type]: Buffer.from(attributes.type),
    };
    const value = Buffer.from(JSON.stringify(data));
    const key = Buffer.from(attributes.subject);
    expect(decodeTelemetryForState(value, headers, TOPIC, key)).toEqual({ ...attributes, data });
    // The header, when there, is the subject.
    const other = { ...headers, [CE_HEADERS.subject]: Buffer.from('SL-000002') };
    expect(decodeTelemetryForState(value, other, TOPIC, key)?.subject).toBe('SL-000002');
    expect(decodeTelemetryForState(value, headers, TOPIC, null)?.subject).toBeUndefined();
  });
});
