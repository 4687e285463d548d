import { CloudEvent, Kafka } from 'cloudevents';
import { describe, expect, it, vi } from 'vitest';
import {
  DeadLetter,
  decodeRecordValue,
  isBinaryRecord,
  lineageRef,
  TELEMETRY_SCHEMA_VERSION,
  TOPICS,
  WIRE_LIMITS,
  eventId,
  maxDeadLetterBytes,
  stringifyAscii,
  telemetryTopic,
} from '@ondijon/contracts';
import { loadIngestPolicy } from '../src/governance';
import {
  SequenceMemory,
  processMessage,
  serialiseEnvelope,
  telemetryEnvelope,
  type EnvelopeConstants,
  type EnvelopeVariables,
  type PipelineContext,
} from '../src/pipeline';
import { indexRegistry } from '../src/registry';
import { makeRegistry, payloadFor } from './fixtures';

const registry = makeRegistry('unit', 1);
const { policy } = loadIngestPolicy('');
const now = new Date('2026-11-28T12:00:00Z');
const ctx: PipelineContext = {
  registry: indexRegistry(registry),
  policy,
  mqttTopicPrefix: 'p/',
  maxPayloadBytes: 1024,
  maxFutureSkewMs: 60_000,
  maxPastAgeMs: 400 * 86_400_000,
  now: () => now,
};
const truck = registry.equipment.find((e) => e.family === 'winter-vehicle')!;
const topicOf = (e = truck) => `p/${telemetryTopic(e.family, e.operator, e.equipmentId)}`;
const payload = (over: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({ ...payloadFor('winter-vehicle', 5), observedAt: '2026-11-28T11:59:00Z', ...over }),
  );

describe('processMessage', () => {
  it('wraps a valid message in an envelope of its class topic, keyed by equipment id, agentId dropped', () => {
    const out = processMessage(ctx, { topic: topicOf(), payload: payload() });
    expect(out.kind).toBe('accepted');
    if (out.kind !== 'accepted') return;
    expect(out.record.topic).toBe('tel.s2.winter.v1');
    expect(out.record.key).toBe(truck.equipmentId);
    // Binary content mode (docs/architecture.md, "Record format"): attributes in headers, data in the value.
    expect(isBinaryRecord(out.record.headers)).toBe(true);
    const env = TOPICS['tel.s2.winter.v1'].schema.parse(
      decodeRecordValue(out.record.headers, out.record.value, 'tel.s2.winter.v1', true, out.record),
    );
    expect(env.id).toBe(eventId(truck.equipmentId, 5));
    expect(env.data).not.toHaveProperty('agentId');
    expect(JSON.parse(out.record.value)).toEqual(env.data);
    expect(out.record.value).not.toContain('agentId');
    expect(env.lineage.fieldActions).toMatchObject({ agentId: 'drop', position: 'keep' });
    expect(env.mqtttopic).toBe(telemetryTopic(truck.family, truck.operator, truck.equipmentId));
    expect(out.record.headers).toMatchObject({ ce_policyrevision: policy.revision });
    expect(env.policyrevision).toBe(policy.revision);
    // Left out of the headers, put back from the topic, the key, `source` and the record timestamp.
    for (const h of ['ce_sensitivity', 'ce_subject', 'ce_mqtttopic', 'ce_ingestedat'])
      expect(out.record.headers).not.toHaveProperty(h);
    expect(env.sensitivity).toBe('S2');
    expect(env.subject).toBe(truck.equipmentId);
    expect(env.ingestedat).toBe(new Date(Number(out.record.timestamp)).toISOString());
    expect(env.ingestedat).toBe(now.toISOString());
  });

  it('writes a record that an independent CloudEvents implementation reads as a valid binary-mode event', () => {
    const out = processMessage(ctx, { topic: topicOf(), payload: payload() });
    if (out.kind !== 'accepted') throw new Error(`not accepted: ${out.kind}`);
    const h = out.record.headers;
    for (const required of ['ce_specversion', 'ce_id', 'ce_source', 'ce_type'])
      expect(h[required]).toBeTruthy();
    expect(h['content-type']).toBe('application/json');
    // kafkajs gives header values as bytes: the SDK takes them as text, as any consumer decodes them.
    const message = {
      key: out.record.key,
      value: Buffer.from(out.record.value),
      headers: Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Buffer.from(v).toString('utf8')])),
      body: undefined,
    };
    expect(Kafka.isEvent(message)).toBe(true);
    const event = Kafka.toEvent(message) as CloudEvent<unknown>;
    expect(event.validate()).toBe(true);
    const env = decodeRecordValue(h, out.record.value, 'tel.s2.winter.v1', true, out.record) as Record<
      string,
      unknown
    >;
    expect(event.id).toBe(env.id);
    expect(event.source).toBe(env.source);
    expect(event.type).toBe(env.type);
    // `subject` is the record key, `sensitivity` the topic's class, `mqtttopic` follows from `source`,
    // `ingestedat` is the record timestamp: none has a header, our reader puts them back.
    expect(event.subject).toBeUndefined();
    expect(env.subject).toBe(truck.equipmentId);
    expect(out.record.key).toBe(truck.equipmentId);
    expect(event.datacontenttype).toBe('application/json');
    // `dataschema` and `schemaversion` are constants of telemetry topics (dataschema follows from the
    // type): left out of the headers, put back by our reader (docs/architecture.md, "Record format").
    expect(event.dataschema).toBeUndefined();
    expect(h).not.toHaveProperty('ce_dataschema');
    expect(h).not.toHaveProperty('ce_schemaversion');
    expect(env.dataschema).toBe('urn:ondijon:schemas:telemetry/winter-vehicle.v1.json');
    expect(env.schemaversion).toBe(TELEMETRY_SCHEMA_VERSION);
    expect(event.data).toEqual(env.data);
    expect(event.sensitivity).toBeUndefined();
    expect(env.sensitivity).toBe('S2');
    expect(event.contractref).toBe(env.contractref);
    // The lineage travels as a registry reference: the entry goes to the registry topic first.
    expect(h).not.toHaveProperty('ce_lineage');
    expect(event.lineageref).toBe(out.record.lineage!.ref);
    expect(h.ce_lineageref).toMatch(/^[0-9a-f]{16}$/);
    expect(out.record.lineage!.ref).toBe(lineageRef(out.record.lineage!.text));
    expect(env.lineage).toEqual({
      inputs: ['mqtt'],
      producer: 'ingest',
      ...(JSON.parse(out.record.lineage!.text) as object),
    });
    expect(TOPICS['tel.s2.winter.v1'].schema.parse(env)).toEqual(env);
  });

  it('writes the former structured envelope in structured mode, with the same event', () => {
    const binary = processMessage(ctx, { topic: topicOf(), payload: payload() });
    const structured = processMessage(
      { ...ctx, contentMode: 'structured' },
      { topic: topicOf(), payload: payload() },
    );
    if (binary.kind !== 'accepted' || structured.kind !== 'accepted') throw new Error('not accepted');
    // Sensitivity and class only (docs/architecture.md, "Contracts"); the policy revision is in the envelope.
    expect(structured.record.headers).toEqual({
      ondijon_sensitivity: 'S2',
      ondijon_class: 'S2 quasi-personal',
    });
    // Shared and frozen: the app turns each into Buffers once.
    expect(Object.isFrozen(structured.record.headers)).toBe(true);
    expect(isBinaryRecord(structured.record.headers)).toBe(false);
    expect(JSON.parse(structured.record.value)).toEqual(
      decodeRecordValue(binary.record.headers, binary.record.value, 'tel.s2.winter.v1', true, binary.record),
    );
  });

  it('checks the S4 source before anything else, so even an unparseable excluded payload is not kept', () => {
    const out = processMessage(ctx, {
      topic: 'p/ondijon/v1/cctv-camera/citelum/cam-9',
      payload: Buffer.from('not json, a frame'),
    });
    expect(out.kind).toBe('rejected');
    if (out.kind !== 'rejected') return;
    expect(out.deadLetter.code).toBe('ONDIJON_SOURCE_EXCLUDED');
    expect(out.deadLetter.payloadBase64).toBeNull();
    expect(out.record.value).not.toContain('frame');
    expect(DeadLetter.parse(JSON.parse(out.record.value)).payloadWithheld).toBe('excluded-source');
  });

  it.each([
    ['ONDIJON_PAYLOAD_TOO_LARGE', topicOf(), Buffer.alloc(2048, 0x20)],
    ['ONDIJON_PAYLOAD_NOT_JSON', topicOf(), Buffer.from([0x7b, 0xff, 0x7d])],
    ['ONDIJON_SCHEMA_INVALID', topicOf(), payload({ speedKmh: 'fast' })],
    ['ONDIJON_TIME_IN_FUTURE', topicOf(), payload({ observedAt: '2026-11-28T13:00:00Z' })],
    ['ONDIJON_TOPIC_INVALID', 'q/ondijon/v1/winter-vehicle/dijon-metropole/x1', payload()],
    ['ONDIJON_OPERATOR_MISMATCH', `p/ondijon/v1/winter-vehicle/citelum/${truck.equipmentId}`, payload()],
  ])('rejects with %s', (code, topic, body) => {
    const out = processMessage(ctx, { topic, payload: body });
    expect(out.kind === 'rejected' && out.deadLetter.code).toBe(code);
  });

  it('gives a topic the same verdict the second time, from the cache of parsed topics', () => {
    for (const [topic, code] of [
      ['p/ondijon/v1/cctv-camera/citelum/cam-9', 'ONDIJON_SOURCE_EXCLUDED'],
      ['p/ondijon/v1/streetlight/Bad_Operator/SL-1', 'ONDIJON_TOPIC_INVALID'],
      ['p/ondijon/v1/no-such-family/citelum/X-1', 'ONDIJON_TOPIC_INVALID'],
    ] as const) {
      const first = processMessage(ctx, { topic, payload: payload() });
      const second = processMessage(ctx, { topic, payload: payload() });
      expect(first.kind === 'rejected' && first.deadLetter.code).toBe(code);
      expect(second).toEqual(first);
    }
    expect(processMessage(ctx, { topic: topicOf(), payload: payload() }).kind).toBe('accepted');
    expect(processMessage(ctx, { topic: topicOf(), payload: payload() }).kind).toBe('accepted');
  });

  it('names the field of a schema problem and keeps the event id when the sequence is usable', () => {
    const out = processMessage(ctx, { topic: topicOf(), payload: payload({ speedKmh: -3 }) });
    if (out.kind !== 'rejected') throw new Error('expected a rejection');
    expect(out.deadLetter.issues?.map((i) => i.path)).toEqual(['speedKmh']);
    expect(out.deadLetter.id).toBe(eventId(truck.equipmentId, 5));
  });

  it('keeps the id of a replayed dead letter and counts the replay', () => {
    const out = processMessage(ctx, {
      topic: topicOf(),
      payload: Buffer.from('x'),
      replayOf: { id: 'dl-1', replays: 2 },
    });
    if (out.kind !== 'rejected') throw new Error('expected a rejection');
    expect(out.deadLetter).toMatchObject({ id: 'dl-1', replays: 2 });
  });
});

describe('serialiseEnvelope', () => {
  const variables = (over: Partial<EnvelopeVariables> = {}): EnvelopeVariables => ({
    id: eventId('x', 1),
    time: '2026-11-28T11:59:00.000Z',
    data: { seq: 1, note: 'quote " and \\ and é' },
    ingestedat: now.toISOString(),
    sensitivity: 'S1',
    sequence: 1,
    fieldActions: { seq: 'keep', note: 'keep' },
    ...over,
  });

  it('writes exactly what stringifyAscii writes of the envelope (ASCII only, same JSON value), for every equipment of the registry', () => {
    const all = makeRegistry('tpl', 2);
    for (const entry of all.equipment) {
      const k: EnvelopeConstants = {
        family: entry.family,
        operator: entry.operator,
        equipmentId: entry.equipmentId,
        entry,
        logical: telemetryTopic(entry.family, entry.operator, entry.equipmentId),
        policyRevision: 'r.1',
      };
      for (const v of [variables(), variables({ sensitivity: 'S2', sequence: 7, data: {} })]) {
        const text = serialiseEnvelope(k, v);
        expect(text).toBe(stringifyAscii(telemetryEnvelope(k, v)));
        expect(/^[\x00-\x7f]*$/.test(text)).toBe(true);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(telemetryEnvelope(k, v))));
      }
    }
  });

  it('follows a new policy revision and escapes registry values', () => {
    const entry = { ...truck, contractRef: 'contrat "DSP" n°3 \\ 2026' };
    const k: EnvelopeConstants = {
      family: entry.family,
      operator: entry.operator,
      equipmentId: entry.equipmentId,
      entry,
      logical: 'ondijon/v1/x',
      policyRevision: 'r.1',
    };
    expect(serialiseEnvelope(k, variables())).toBe(stringifyAscii(telemetryEnvelope(k, variables())));
    const k2 = { ...k, policyRevision: 'r.2' };
    expect(JSON.parse(serialiseEnvelope(k2, variables())).policyrevision).toBe('r.2');
  });

  it('stringifies only the variables once the template of an equipment exists', () => {
    const k: EnvelopeConstants = {
      family: truck.family,
      operator: truck.operator,
      equipmentId: truck.equipmentId,
      entry: truck,
      logical: 'ondijon/v1/y',
      policyRevision: 'r.1',
    };
    serialiseEnvelope(k, variables());
    const spy = vi.spyOn(JSON, 'stringify');
    try {
      serialiseEnvelope(k, variables());
      // One call per variable; a whole-envelope stringify (the fallback) would be a single call.
      expect(spy).toHaveBeenCalledTimes(7);
    } finally {
      spy.mockRestore();
    }
  });

  it('falls back to a plain stringify when a constant looks like a slot marker', () => {
    const entry = { ...truck, contractRef: '\u0001data\u0001' };
    const k: EnvelopeConstants = {
      family: entry.family,
      operator: entry.operator,
      equipmentId: entry.equipmentId,
      entry,
      logical: 'ondijon/v1/x',
      policyRevision: 'r.1',
    };
    expect(serialiseEnvelope(k, variables())).toBe(stringifyAscii(telemetryEnvelope(k, variables())));
  });
});

describe('processMessage bounds what one message can cost (issue 11 "No poison message")', () => {
  const rejected = (topic: string, body: Buffer, c: PipelineContext = ctx) => {
    const out = processMessage(c, { topic, payload: body });
    if (out.kind !== 'rejected') throw new Error(`expected a rejection, got ${out.kind}`);
    return out;
  };

  it('keeps a dead letter of ~8 300 unknown keys small: 20 issues, the rest counted, the reason bounded', () => {
    const loop = registry.equipment.find((e) => e.family === 'traffic-detector')!;
    const valid = payloadFor('traffic-detector', 5) as { lanes: Record<string, unknown>[] };
    const extra = Object.fromEntries(Array.from({ length: 8_300 }, (_, i) => [`k${i}`, 1]));
    const lanes = [{ ...valid.lanes[0], ...extra }];
    const body = Buffer.from(JSON.stringify({ ...valid, observedAt: '2026-11-28T11:59:00Z', lanes }));
    const out = rejected(topicOf(loop), body, { ...ctx, maxPayloadBytes: WIRE_LIMITS.maxPayloadBytes * 2 });
    expect(out.deadLetter.code).toBe('ONDIJON_SCHEMA_INVALID');
    expect(out.deadLetter.issues).toHaveLength(WIRE_LIMITS.maxDeadLetterIssues);
    expect(out.deadLetter.issuesOmitted).toBeGreaterThan(8_000);
    expect(out.deadLetter.reason.length).toBeLessThanOrEqual(WIRE_LIMITS.maxReasonChars);
    // The dead letter is the payload (base64) plus a bounded rest, not 15× the payload.
    expect(out.record.value.length).toBeLessThan(body.length * 1.34 + 20_000);
    DeadLetter.parse(JSON.parse(out.record.value));
  });

  it('rejects a 60 000-character topic at once, keeping its beginning and a hash as the Kafka key', () => {
    const topic = `p/ondijon/v1/streetlight/citelum/${'x'.repeat(60_000)}`;
    const out = rejected(topic, payload());
    expect(out.deadLetter.code).toBe('ONDIJON_TOPIC_INVALID');
    expect(out.deadLetter.mqttTopic!.length).toBeLessThanOrEqual(WIRE_LIMITS.maxTopicChars + 1);
    expect(out.deadLetter.mqttTopicChars).toBe(topic.length);
    expect(out.record.key).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.record.value.length).toBeLessThan(4_000);
  });

  it('does not copy a payload over the limit into the dead letter, whatever else is wrong (an invalid topic)', () => {
    const body = Buffer.alloc(200_000, 0x61);
    const out = rejected('p/ondijon/v1/streetlight', body);
    expect(out.deadLetter.code).toBe('ONDIJON_TOPIC_INVALID');
    expect(out.deadLetter.payloadBase64).toBeNull();
    expect(out.deadLetter.payloadWithheld).toBe('too-large');
    expect(Buffer.from(out.deadLetter.payloadHeadBase64!, 'base64')).toHaveLength(
      WIRE_LIMITS.payloadHeadBytes,
    );
    expect(out.deadLetter.payloadBytes).toBe(200_000);
    expect(out.record.value.length).toBeLessThan(4_000);
  });

  it('keeps the largest dead letter ingest can write under Kafka record limit', () => {
    expect(maxDeadLetterBytes()).toBeLessThan(WIRE_LIMITS.kafkaMaxRecordBytes);
    expect(WIRE_LIMITS.maxPayloadBytes).toBeLessThan(WIRE_LIMITS.mqttMaxPacketBytes);
  });

  it('rejects an observation before 2020 or older than the age limit as ONDIJON_TIME_TOO_OLD', () => {
    for (const observedAt of ['1970-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '2025-01-01T00:00:00Z']) {
      const out = processMessage(ctx, { topic: topicOf(), payload: payload({ observedAt }) });
      expect(out.kind === 'rejected' ? out.deadLetter.code : out.kind, observedAt).toMatch(
        /ONDIJON_TIME_TOO_OLD|ONDIJON_SCHEMA_INVALID/,
      );
    }
    const old = processMessage(ctx, {
      topic: topicOf(),
      payload: payload({ observedAt: '2025-01-01T00:00:00Z' }),
    });
    expect(old.kind === 'rejected' && old.deadLetter.code).toBe('ONDIJON_TIME_TOO_OLD');
    const recent = processMessage(ctx, {
      topic: topicOf(),
      payload: payload({ observedAt: '2026-06-01T00:00:00Z' }),
    });
    expect(recent.kind).toBe('accepted');
  });

  it('dead-letters a reused sequence number with other content, and lets a redelivery of the same bytes through', () => {
    const c = { ...ctx, sequences: new SequenceMemory() };
    const first = processMessage(c, { topic: topicOf(), payload: payload({ seq: 77 }) });
    const again = processMessage(c, { topic: topicOf(), payload: payload({ seq: 77 }) });
    const other = processMessage(c, {
      topic: topicOf(),
      payload: payload({ seq: 77, observedAt: '2026-11-28T11:58:00Z' }),
    });
    expect(first.kind).toBe('accepted');
    expect(again.kind).toBe('accepted');
    expect(other.kind === 'rejected' && other.deadLetter.code).toBe('ONDIJON_SEQUENCE_CONFLICT');
  });
});
