import { CloudEvent, Kafka } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import {
  BinaryHeaders,
  CE_CONTENT_TYPE_HEADER,
  DATA_OWNER,
  decodeRecordValue,
  Envelope,
  eventId,
  fromBinary,
  isBinaryRecord,
  isLineageKnown,
  isOnDijonError,
  lineageRef,
  lineageRegistryTopicFor,
  registerLineage,
  sampleTelemetry,
  structuredText,
  telemetryEventType,
  toBinary,
  topicConstants,
  TOPICS,
  type Envelope as EnvelopeT,
} from '../src/index';

function telemetry(): EnvelopeT<unknown> {
  const { presenceDetections: _, ...data } = sampleTelemetry('streetlight');
  return Envelope.parse({
    specversion: '1.0',
    id: eventId('SL-21231-0001', data.seq),
    source: 'ondijon/streetlight/citelum/SL-21231-0001',
    type: telemetryEventType('streetlight'),
    subject: 'SL-21231-0001',
    time: data.observedAt,
    datacontenttype: 'application/json',
    dataschema: 'urn:ondijon:schemas:telemetry/streetlight.v1.json',
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
  });
}

function aggregate(): EnvelopeT<unknown> {
  return {
    specversion: '1.0',
    id: '0b0d4f7e-5a0c-5a33-9f0c-3b7a7f1b6a11',
    source: 'ondijon/processors/lighting-commune-hour',
    type: 'fr.dijon.ondijon.aggregate.lighting-commune-hour.v1',
    subject: 'commune=21231',
    time: '2026-01-15T07:00:00.000Z',
    datacontenttype: 'application/json',
    dataschema: 'urn:ondijon:topic:agg.s2.lighting-commune-hour.v1',
    data: { commune: '21231', energyWh: 1234.5, note: 'Métropole' },
    ingestedat: '2026-01-15T07:00:02.000Z',
    operator: 'ondijon',
    owner: DATA_OWNER,
    contractref: 'ondijon-internal',
    sensitivity: 'S2',
    policyrevision: '2026-11-28.1',
    schemaversion: '1.0.0',
    sequence: 0,
    lineage: {
      inputs: ['tel.s1.lighting.v1'],
      producer: 'lighting-commune-hour',
      producerVersion: '1.0.0',
      window: { start: '2026-01-15T06:00:00.000Z', end: '2026-01-15T07:00:00.000Z' },
      countsByOperator: { citelum: 12 },
    },
  };
}

const asBuffers = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Buffer.from(v)]));

describe('CloudEvents binary content mode (Kafka binding)', () => {
  it('puts every attribute in a ce_* header, datacontenttype in content-type, only data in the value', () => {
    const env = telemetry();
    const rec = toBinary(env, topicConstants('tel.s1.lighting.v1'));
    expect(rec.headers).toMatchObject({
      ce_specversion: '1.0',
      ce_id: env.id,
      ce_source: env.source,
      ce_type: env.type,
      ce_subject: 'SL-21231-0001',
      ce_time: env.time,
      [CE_CONTENT_TYPE_HEADER]: 'application/json',
      ce_operator: 'citelum',
      ce_contractref: 'DM-EP-2021-014',
      ce_commune: '21231',
      ce_policyrevision: '2026-11-28.1',
      ce_sequence: String(env.sequence),
    });
    // The topic's constants are not repeated per record: the owner, the class of its name, and the
    // MQTT topic that follows from `source`.
    expect(rec.headers.ce_owner).toBeUndefined();
    expect(rec.headers.ce_sensitivity).toBeUndefined();
    expect(rec.headers.ce_mqtttopic).toBeUndefined();
    // Without the key and the timestamp given to toBinary, subject and ingestedat keep their headers.
    expect(rec.timestamp).toBeUndefined();
    expect(rec.headers.ce_ingestedat).toBe(env.ingestedat);
    expect(JSON.parse(rec.headers.ce_lineage!)).toEqual({
      producerVersion: '0.1.0',
      fieldActions: { presenceDetections: 'drop' },
    });
    expect(JSON.parse(rec.value)).toEqual(env.data);
    expect(BinaryHeaders.safeParse(rec.headers).success).toBe(true);
    expect(BinaryHeaders.safeParse({ ...rec.headers, ce_id: '' }).success).toBe(false);
  });

  it('round-trips telemetry and aggregates to the same envelope, attributes in schema order', () => {
    for (const [topic, env] of [
      ['tel.s1.lighting.v1', telemetry()],
      ['agg.s2.lighting-commune-hour.v1', aggregate()],
    ] as const) {
      const c = topicConstants(topic);
      const rec = toBinary(env, c);
      const back = fromBinary(asBuffers(rec.headers), Buffer.from(rec.value), c);
      expect(back).toEqual(env);
      expect(Object.keys(back)).toEqual(Object.keys(env));
      expect(JSON.stringify(back)).toBe(JSON.stringify(env));
    }
    expect(
      TOPICS['tel.s1.lighting.v1'].schema.safeParse(
        decodeRecordValue(
          asBuffers(toBinary(telemetry(), topicConstants('tel.s1.lighting.v1')).headers),
          toBinary(telemetry(), topicConstants('tel.s1.lighting.v1')).value,
          'tel.s1.lighting.v1',
        ),
      ).success,
    ).toBe(true);
  });

  it('decodes repeated header values from their bytes: a reused buffer never gives a stale attribute', () => {
    const c = topicConstants('tel.s1.lighting.v1');
    const rec = toBinary(telemetry(), c);
    // One buffer per header, overwritten between records, as a consumer's fetch buffers are reused.
    const headers = asBuffers(rec.headers);
    const first = fromBinary(headers, rec.value, c);
    expect(first).toEqual(telemetry());
    headers.ce_commune!.write('21166');
    headers.ce_operator!.write('citelu2');
    const second = fromBinary(headers, rec.value, c) as Record<string, unknown>;
    expect(second.commune).toBe('21166');
    expect(second.operator).toBe('citelu2');
    expect(second.id).toBe(telemetry().id);
    // Many records, alternating values: each decodes to its own text.
    for (let i = 0; i < 3000; i++) {
      const id = `0190f3a0-0000-7000-8000-${String(i).padStart(12, '0')}`;
      const env = fromBinary(
        { ...headers, ce_id: Buffer.from(id), ce_commune: Buffer.from(i % 2 ? '21231' : '21166') },
        rec.value,
        c,
      ) as Record<string, unknown>;
      expect(env.id).toBe(id);
      expect(env.commune).toBe(i % 2 ? '21231' : '21166');
    }
    // The lineage of records with the same header is one frozen object: no reader changes another's.
    const again = fromBinary(asBuffers(rec.headers), rec.value, c);
    expect(again.lineage).toBe(first.lineage);
    expect(Object.isFrozen(again.lineage)).toBe(true);
    expect(Object.isFrozen((again.lineage as { fieldActions: object }).fieldActions)).toBe(true);
    expect(() => {
      (again.lineage as { producer: string }).producer = 'x';
    }).toThrow(TypeError);
    // A value that is not JSON leaves nothing behind for the next record.
    expect(() => fromBinary(asBuffers(rec.headers), '{', c)).toThrow(SyntaxError);
    const noCommune = asBuffers(rec.headers);
    delete noCommune.ce_commune;
    expect((fromBinary(noCommune, rec.value, c) as Record<string, unknown>).commune).toBeUndefined();
  });

  it('leaves dataschema and schemaversion out of telemetry headers only when the reader puts back the same', () => {
    const c = topicConstants('tel.s1.lighting.v1');
    const env = telemetry();
    const rec = toBinary(env, c);
    expect(rec.headers).not.toHaveProperty('ce_dataschema');
    expect(rec.headers).not.toHaveProperty('ce_schemaversion');
    expect(fromBinary(asBuffers(rec.headers), rec.value, c)).toEqual(env);
    // A value other than the constant keeps its header, and reads back as written.
    const other = {
      ...env,
      dataschema: 'urn:ondijon:schemas:telemetry/other.v1.json',
      schemaversion: '2.0.0',
    };
    const kept = toBinary(other, c);
    expect(kept.headers).toMatchObject({ ce_dataschema: other.dataschema, ce_schemaversion: '2.0.0' });
    expect(fromBinary(asBuffers(kept.headers), kept.value, c)).toEqual(other);
    // A type that names no family: nothing to derive, the header stays.
    const odd = { ...env, type: 'fr.dijon.other' };
    const oddRec = toBinary(odd, c);
    expect(oddRec.headers.ce_dataschema).toBe(env.dataschema);
    expect(fromBinary(asBuffers(oddRec.headers), oddRec.value, c)).toEqual(odd);
    // Records written before, with both headers, read the same.
    const before = { ...rec.headers, ce_dataschema: env.dataschema, ce_schemaversion: '1.0.0' };
    expect(fromBinary(asBuffers(before), rec.value, c)).toEqual(env);
    // Aggregate topics keep both (their dataschema names the topic, not a family).
    const agg = toBinary(aggregate(), topicConstants('agg.s2.lighting-commune-hour.v1'));
    expect(agg.headers).toMatchObject({ ce_dataschema: aggregate().dataschema, ce_schemaversion: '1.0.0' });
  });

  it('writes the lineage as a registry reference and reads it back resolved', () => {
    const c = topicConstants('tel.s1.lighting.v1');
    const env = telemetry();
    const inline = toBinary(env, c);
    const rec = toBinary(env, c, { lineageRef: true });
    expect(rec.headers).not.toHaveProperty('ce_lineage');
    expect(rec.lineage).toEqual({
      ref: lineageRef(inline.headers.ce_lineage!),
      text: inline.headers.ce_lineage,
    });
    expect(rec.headers.ce_lineageref).toBe(rec.lineage!.ref);
    expect(rec.headers.ce_lineageref).toMatch(/^[0-9a-f]{16}$/);
    expect(BinaryHeaders.safeParse(rec.headers).success).toBe(true);
    const back = fromBinary(asBuffers(rec.headers), rec.value, c);
    expect(back).toEqual(env);
    expect(JSON.stringify(back)).toBe(JSON.stringify(env));
    expect(JSON.parse(structuredText(rec.headers, rec.value, 'tel.s1.lighting.v1')!)).toEqual(env);
    // The same record with its lineage inline (as written before) decodes to the same envelope.
    expect(fromBinary(asBuffers(inline.headers), inline.value, c)).toEqual(back);
    // Everything the record has left in its headers, required attributes and content type included.
    for (const h of ['ce_specversion', 'ce_id', 'ce_source', 'ce_type', 'content-type'])
      expect(rec.headers[h], h).toBeTruthy();
  });

  it('fails a record whose lineage reference is unknown with ONDIJON_LINEAGE_UNKNOWN naming it', () => {
    const c = topicConstants('tel.s1.lighting.v1');
    const rec = toBinary(telemetry(), c, { lineageRef: true });
    const unknown = 'feedfacefeedface';
    expect(isLineageKnown(unknown)).toBe(false);
    let thrown: unknown;
    try {
      fromBinary(asBuffers({ ...rec.headers, ce_lineageref: unknown }), rec.value, c);
    } catch (error) {
      thrown = error;
    }
    expect(isOnDijonError(thrown, 'ONDIJON_LINEAGE_UNKNOWN')).toBe(true);
    expect((thrown as Error).message).toContain(unknown);
    // A registry entry is checked against its key: a text that is not the key's is not taken.
    expect(registerLineage(unknown, '{"producerVersion":"9"}')).toBe(false);
    expect(isLineageKnown(unknown)).toBe(false);
    const text = '{"producerVersion":"9.9.9"}';
    expect(registerLineage(lineageRef(text), text)).toBe(true);
    const env = fromBinary(asBuffers({ ...rec.headers, ce_lineageref: lineageRef(text) }), rec.value, c);
    expect(env.lineage).toEqual({ inputs: ['mqtt'], producer: 'ingest', producerVersion: '9.9.9' });
  });

  it('names the lineage registry topic beside a topic, run prefix kept', () => {
    expect(lineageRegistryTopicFor('tel.s1.lighting.v1')).toBe('ref.s0.lineage.v1');
    expect(lineageRegistryTopicFor('run-7.pii.s3.winter.v1')).toBe('run-7.ref.s0.lineage.v1');
    expect(TOPICS['ref.s0.lineage.v1']).toMatchObject({
      cleanupPolicy: 'compact',
      retentionMs: -1,
      class: 'S0',
    });
  });

  it('writes the value ASCII-only (non-ASCII escaped) and headers as UTF-8', () => {
    const rec = toBinary(aggregate());
    expect(rec.value).not.toMatch(/[^\x00-\x7f]/);
    expect(JSON.parse(rec.value)).toEqual(aggregate().data);
  });

  it('decides the mode per record from ce_specversion: structured records read as before', () => {
    const env = telemetry();
    const structured = JSON.stringify(env);
    // Structured records may carry ce_id/ce_type routing headers, but never ce_specversion.
    expect(isBinaryRecord({ ce_id: Buffer.from(env.id) })).toBe(false);
    expect(decodeRecordValue({ ce_id: env.id }, structured, 'tel.s1.lighting.v1')).toEqual(env);
    expect(decodeRecordValue(undefined, Buffer.from(structured))).toEqual(env);
    const rec = toBinary(env, topicConstants('tel.s1.lighting.v1'));
    expect(isBinaryRecord(rec.headers)).toBe(true);
    expect(decodeRecordValue(rec.headers, rec.value, 'tel.s1.lighting.v1')).toEqual(env);
    expect(JSON.parse(structuredText(rec.headers, rec.value, 'tel.s1.lighting.v1')!)).toEqual(env);
    expect(structuredText({}, structured)).toBe(structured);
  });

  it('leaves malformed attributes for the schema to reject, and throws on a value that is not JSON', () => {
    const rec = toBinary(telemetry(), topicConstants('tel.s1.lighting.v1'));
    const bad = fromBinary(
      { ...rec.headers, ce_sequence: '-1x' },
      rec.value,
      topicConstants('tel.s1.lighting.v1'),
    );
    expect(TOPICS['tel.s1.lighting.v1'].schema.safeParse(bad).success).toBe(false);
    const noId = { ...rec.headers };
    delete noId.ce_id;
    expect(
      TOPICS['tel.s1.lighting.v1'].schema.safeParse(
        fromBinary(noId, rec.value, topicConstants('tel.s1.lighting.v1')),
      ).success,
    ).toBe(false);
    expect(() => fromBinary(rec.headers, '{not json', topicConstants('tel.s1.lighting.v1'))).toThrow(
      SyntaxError,
    );
  });

  it('is a valid CloudEvent for an independent implementation (the cloudevents SDK Kafka binding)', () => {
    const env = telemetry();
    const rec = toBinary(env, topicConstants('tel.s1.lighting.v1'));
    // The SDK reads header values as text (kafkajs gives Buffers: a consumer decodes them as UTF-8).
    const message = {
      key: env.subject!,
      value: Buffer.from(rec.value),
      headers: rec.headers,
      body: undefined,
    };
    expect(Kafka.isEvent(message)).toBe(true);
    const event = Kafka.toEvent(message) as CloudEvent<unknown>;
    expect(event.validate()).toBe(true);
    expect(event.specversion).toBe('1.0');
    expect(event.id).toBe(env.id);
    expect(event.source).toBe(env.source);
    expect(event.type).toBe(env.type);
    expect(event.time).toBe(new Date(env.time).toISOString());
    expect(event.datacontenttype).toBe('application/json');
    expect(event.data).toEqual(env.data);
    expect(event.sensitivity).toBeUndefined(); // the topic's class, put back by our reader
    expect(event.operator).toBe('citelum');
  });

  it('leaves subject to the key and ingestedat to the record timestamp, and puts them back from them', () => {
    const env = telemetry();
    const c = topicConstants('tel.s1.lighting.v1');
    const rec = toBinary(env, c, { key: env.subject!, recordTimestamp: true });
    expect(rec.headers).not.toHaveProperty('ce_subject');
    expect(rec.headers).not.toHaveProperty('ce_ingestedat');
    expect(rec.timestamp).toBe(String(Date.parse(env.ingestedat)));
    const meta = { key: Buffer.from(env.subject!), timestamp: rec.timestamp };
    const back = fromBinary(asBuffers(rec.headers), Buffer.from(rec.value), c, true, meta);
    expect(back).toEqual(env);
    expect(JSON.stringify(back)).toBe(JSON.stringify(env));
    expect(JSON.parse(structuredText(rec.headers, rec.value, 'tel.s1.lighting.v1', meta)!)).toEqual(env);
    // A reader that does not pass them gets an event the schema refuses, never a wrong one.
    const without = decodeRecordValue(asBuffers(rec.headers), rec.value, 'tel.s1.lighting.v1');
    expect((without as Record<string, unknown>).subject).toBeUndefined();
    expect(TOPICS['tel.s1.lighting.v1'].schema.safeParse(without).success).toBe(false);
  });

  it('keeps the header of an attribute that differs from what the record would give', () => {
    const c = topicConstants('tel.s1.lighting.v1');
    const odd = {
      ...telemetry(),
      subject: 'SL-OTHER',
      sensitivity: 'S2' as const,
      mqtttopic: 'p/ondijon/v1/streetlight/citelum/SL-21231-0001',
      ingestedat: '2026-01-15T06:30:01Z', // not in Date.toISOString's form: kept as written
    };
    const rec = toBinary(odd, c, { key: 'SL-21231-0001', recordTimestamp: true });
    expect(rec.headers).toMatchObject({
      ce_subject: 'SL-OTHER',
      ce_sensitivity: 'S2',
      ce_mqtttopic: odd.mqtttopic,
      ce_ingestedat: odd.ingestedat,
    });
    expect(rec.timestamp).toBeUndefined();
    const meta = { key: 'SL-21231-0001', timestamp: '1' };
    expect(fromBinary(asBuffers(rec.headers), rec.value, c, true, meta)).toEqual(odd);
    // Each class of telemetry topic has its own: a record of class S2 on tel.s2.* leaves it out.
    const s2 = toBinary({ ...telemetry(), sensitivity: 'S2' }, topicConstants('tel.s2.winter.v1'));
    expect(s2.headers).not.toHaveProperty('ce_sensitivity');
    expect(
      (fromBinary(s2.headers, s2.value, topicConstants('tel.s2.winter.v1')) as EnvelopeT).sensitivity,
    ).toBe('S2');
  });
});
