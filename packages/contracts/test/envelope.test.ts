import { describe, expect, it } from 'vitest';
import {
  DATA_OWNER,
  Envelope,
  TOPICS,
  envelopeOf,
  eventId,
  sampleTelemetry,
  storedTelemetrySchemas,
  telemetryEventType,
} from '../src/index';

function envelope(overrides: Record<string, unknown> = {}) {
  const { presenceDetections: _, ...data } = sampleTelemetry('streetlight');
  return {
    specversion: '1.0',
    id: eventId('SL-21231-0001', data.seq),
    source: 'ondijon/streetlight/citelum/SL-21231-0001',
    type: telemetryEventType('streetlight'),
    time: data.observedAt,
    datacontenttype: 'application/json',
    dataschema: 'https://data.metropole-dijon.fr/schemas/streetlight.v1.json',
    data,
    ingestedat: '2026-01-15T06:30:01.000Z',
    operator: 'citelum',
    owner: DATA_OWNER,
    contractref: 'DM-EP-2021-014',
    commune: '21231',
    sensitivity: 'S1',
    policyrevision: '2026-11-28.1',
    schemaversion: '1.0.0',
    sequence: data.seq,
    mqtttopic: 'ondijon/v1/streetlight/citelum/SL-21231-0001',
    lineage: {
      inputs: ['mqtt'],
      producer: 'ingest',
      producerVersion: '0.1.0',
      fieldActions: { presenceDetections: 'drop' },
    },
    ...overrides,
  };
}

describe('envelope', () => {
  it('accepts a CloudEvents 1.0 telemetry envelope, and the topic schema checks data', () => {
    expect(Envelope.safeParse(envelope()).success).toBe(true);
    expect(TOPICS['tel.s1.lighting.v1'].schema.safeParse(envelope()).success).toBe(true);
    expect(
      envelopeOf(storedTelemetrySchemas.streetlight).safeParse(envelope({ data: { seq: 1 } })).success,
    ).toBe(false);
  });

  it.each([
    ['specversion', { specversion: '0.3' }],
    ['owner', { owner: 'Citelum' }],
    ['type', { type: 'com.example.telemetry' }],
    ['sensitivity', { sensitivity: 'S5' }],
    ['commune', { commune: 'Dijon' }],
    ['time', { time: 'yesterday' }],
    ['lineage.inputs', { lineage: { inputs: [], producer: 'ingest', producerVersion: '1' } }],
  ])('rejects a bad %s', (path, overrides) => {
    const r = Envelope.safeParse(envelope(overrides));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('rejects unknown attributes (extensions are a closed list)', () => {
    expect(Envelope.safeParse(envelope({ plate: 'AB-123-CD' })).success).toBe(false);
  });

  it('names event types per family', () => {
    expect(telemetryEventType('winter-vehicle')).toBe('fr.dijon.ondijon.telemetry.winter-vehicle.v1');
  });
});
