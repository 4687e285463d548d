import { describe, expect, it } from 'vitest';
import {
  FAMILIES,
  MQTT_TOPIC_ROOT,
  ingestSharedSubscription,
  operatorAclPattern,
  parseTelemetryTopic,
  telemetryTopic,
} from '../src/index';

describe('MQTT topic grammar', () => {
  it('round-trips every family', () => {
    for (const family of FAMILIES) {
      const topic = telemetryTopic(family, 'citelum', 'SL-21231-0001');
      expect(topic).toBe(`${MQTT_TOPIC_ROOT}/${family}/citelum/SL-21231-0001`);
      expect(parseTelemetryTopic(topic)).toEqual({
        kind: 'telemetry',
        family,
        operator: 'citelum',
        equipmentId: 'SL-21231-0001',
      });
    }
  });

  it('recognises excluded sources without treating them as invalid', () => {
    for (const source of ['cctv-camera', 'anpr-camera', 'police-radio']) {
      expect(parseTelemetryTopic(`ondijon/v1/${source}/acme/CAM-1`)).toEqual({
        kind: 'excluded',
        source,
        operator: 'acme',
        equipmentId: 'CAM-1',
      });
    }
  });

  it.each([
    ['ondijon/v1/streetlight/citelum', /5/],
    ['ondijon/v1/streetlight/citelum/SL-1/extra', /5/],
    ['ondijon/v2/streetlight/citelum/SL-1', /must start with ondijon\/v1/],
    ['other/v1/streetlight/citelum/SL-1', /must start/],
    ['ondijon/v1/streetlight/Citelum/SL-1', /operator/],
    ['ondijon/v1/streetlight/c/SL-1', /operator/],
    ['ondijon/v1/streetlight/citelum/-bad', /equipment id/],
    ['ondijon/v1/streetlight/citelum/', /equipment id/],
    ['ondijon/v1/parking-meter/citelum/PM-1', /unknown family "parking-meter"/],
    ['ondijon/v1/streetlight/citelum/SL+1', /equipment id/],
  ])('rejects %s with a precise reason', (topic, reason) => {
    const r = parseTelemetryTopic(topic);
    expect(r.kind).toBe('invalid');
    if (r.kind === 'invalid') expect(r.reason).toMatch(reason);
  });

  it('builds the ingest shared subscription and operator ACLs', () => {
    expect(ingestSharedSubscription()).toBe('$share/ingest/ondijon/v1/#');
    expect(ingestSharedSubscription('g2')).toBe('$share/g2/ondijon/v1/#');
    expect(operatorAclPattern('bouygues-es')).toBe('ondijon/v1/+/bouygues-es/#');
  });
});
