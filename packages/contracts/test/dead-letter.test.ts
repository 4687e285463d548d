import { describe, expect, it } from 'vitest';
import { DeadLetter, ERROR_CODES, MQTT_REASON, errorCodes, mqttReasonFor } from '../src/index';

const base = {
  id: 'b3c1d2e4-0000-5000-8000-000000000000',
  code: 'ONDIJON_SCHEMA_INVALID',
  reason: 'dimLevelPct: Too big',
  issues: [{ path: 'dimLevelPct', message: 'Too big', code: 'too_big' }],
  origin: 'mqtt',
  mqttTopic: 'ondijon/v1/streetlight/citelum/SL-1',
  expectedSchema: 'streetlight',
  payloadBase64: Buffer.from('{"seq":1}').toString('base64'),
  payloadBytes: 9,
  payloadSha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  sensitivity: 'S1',
  receivedAt: '2026-01-15T06:30:01.000Z',
  rejectedBy: 'ingest',
};

describe('dead letter', () => {
  it('accepts a rejection with its payload kept, defaulting replays to 0', () => {
    const r = DeadLetter.parse(base);
    expect(r.replays).toBe(0);
  });

  it('accepts an excluded source with the payload withheld', () => {
    const r = DeadLetter.safeParse({
      ...base,
      code: 'ONDIJON_SOURCE_EXCLUDED',
      payloadBase64: null,
      payloadWithheld: 'excluded-source',
      sensitivity: 'S4',
    });
    expect(r.success).toBe(true);
  });

  it('rejects an unknown code and an unknown attribute', () => {
    expect(DeadLetter.safeParse({ ...base, code: 'ONDIJON_OOPS' }).error?.issues[0]?.path).toEqual(['code']);
    expect(DeadLetter.safeParse({ ...base, raw: 'x' }).success).toBe(false);
  });

  it('maps every code to an MQTT 5 reason code', () => {
    const allowed = new Set<number>(Object.values(MQTT_REASON));
    for (const code of errorCodes) expect(allowed.has(mqttReasonFor(code))).toBe(true);
    expect(mqttReasonFor('ONDIJON_SCHEMA_INVALID')).toBe(0x99);
    expect(mqttReasonFor('ONDIJON_SOURCE_EXCLUDED')).toBe(0x87);
    expect(mqttReasonFor('ONDIJON_TOPIC_INVALID')).toBe(0x90);
    expect(mqttReasonFor('ONDIJON_KAFKA_UNAVAILABLE')).toBe(0x83);
    expect(Object.keys(ERROR_CODES)).toEqual(errorCodes);
  });
});
