import { describe, expect, it } from 'vitest';
import {
  type Family,
  type Sensitivity,
  isOnDijonError,
  sampleTelemetry,
  storedTelemetrySchemas,
} from '@ondijon/contracts';
import { applyPolicy, classOfOutput, isExcludedSource, topicFor } from '../src/classify';
import { loadPolicy } from '../src/policy';
import { createKeyring, isPseudonym, pseudonymKey, pseudonymise } from '../src/pseudonymise';
import { policyVariant } from './helpers';

const policy = loadPolicy();
const keyring = createKeyring({ secret: 'test-secret-0123456789', epochLengthDays: 30 });

describe('classification after field actions (default policy)', () => {
  const expected: Record<Family, { cls: Sensitivity; topic: string; dropped: string[] }> = {
    streetlight: { cls: 'S1', topic: 'tel.s1.lighting.v1', dropped: ['presenceDetections'] },
    'lighting-cabinet': { cls: 'S1', topic: 'tel.s1.lighting.v1', dropped: [] },
    'signal-controller': { cls: 'S1', topic: 'tel.s1.traffic.v1', dropped: [] },
    'traffic-detector': { cls: 'S1', topic: 'tel.s1.traffic.v1', dropped: [] },
    'winter-vehicle': { cls: 'S2', topic: 'tel.s2.winter.v1', dropped: ['agentId'] },
    'weather-station': { cls: 'S1', topic: 'tel.s1.winter.v1', dropped: [] },
  };
  for (const [family, want] of Object.entries(expected) as [Family, (typeof expected)[Family]][]) {
    it(`${family} → ${want.cls} on ${want.topic}`, () => {
      const sample = sampleTelemetry(family);
      const r = applyPolicy(policy, family, sample, { keyring });
      expect(r.sensitivity).toBe(want.cls);
      expect(topicFor(policy, family, r.sensitivity)).toBe(want.topic);
      expect(storedTelemetrySchemas[family].safeParse(r.data).success).toBe(true);
      for (const f of want.dropped) {
        expect(r.data).not.toHaveProperty(f);
        expect(r.fieldActions[f]).toBe('drop');
      }
      const kept = Object.keys(sample).filter((f) => !want.dropped.includes(f));
      for (const f of kept) expect(r.fieldActions[f]).toBe('keep');
    });
  }

  it('a streetlight without the optional presence field lists no action for it', () => {
    const { presenceDetections: _, ...rest } = sampleTelemetry('streetlight');
    const r = applyPolicy(policy, 'streetlight', rest);
    expect(r.sensitivity).toBe('S1');
    expect(r.fieldActions).not.toHaveProperty('presenceDetections');
  });

  it('never lets the raw agent id through', () => {
    const r = applyPolicy(policy, 'winter-vehicle', sampleTelemetry('winter-vehicle'));
    expect(JSON.stringify(r.data)).not.toContain('AGT-0042');
  });
});

describe('classification under policy variants', () => {
  it('winter-vehicle is S3 on pii.s3.winter.v1 when a declared use pseudonymises agentId', () => {
    const variant = policyVariant((p) => {
      p.families['winter-vehicle'].fields.agentId = {
        class: 'S3',
        action: 'pseudonymise',
        purpose: 'winter-service-operations',
      };
    });
    const r = applyPolicy(variant, 'winter-vehicle', sampleTelemetry('winter-vehicle'), { keyring });
    expect(r.sensitivity).toBe('S3');
    expect(r.fieldActions.agentId).toBe('pseudonymise');
    expect(isPseudonym(r.data.agentId!)).toBe(true);
    expect(r.data.agentId).not.toContain('AGT-0042');
    expect(topicFor(variant, 'winter-vehicle', r.sensitivity)).toBe('pii.s3.winter.v1');
    // The key epoch comes from the observation time: a redelivery gets the same pseudonym.
    const again = applyPolicy(variant, 'winter-vehicle', sampleTelemetry('winter-vehicle'), { keyring });
    expect(again.data.agentId).toBe(r.data.agentId);
  });

  it('takes the key epoch from the keyring clock: an old observedAt cannot choose a past epoch', () => {
    const variant = policyVariant((p) => {
      p.families['winter-vehicle'].fields.agentId = {
        class: 'S3',
        action: 'pseudonymise',
        purpose: 'winter-service-operations',
      };
    });
    const now = Date.parse('2026-12-06T12:00:00Z');
    const clocked = createKeyring({ secret: 'test-secret-0123456789', epochLengthDays: 30, now: () => now });
    const current = applyPolicy(variant, 'winter-vehicle', sampleTelemetry('winter-vehicle'), {
      keyring: clocked,
    });
    // The same agent, claiming an observation 90 days (three epochs) earlier.
    const old = new Date(now - 90 * 86_400_000).toISOString();
    const backdated = applyPolicy(
      variant,
      'winter-vehicle',
      { ...sampleTelemetry('winter-vehicle'), observedAt: old },
      { keyring: clocked },
    );
    expect(pseudonymKey(backdated.data.agentId!)).toEqual({
      keyVersion: clocked.keyVersion,
      epoch: clocked.currentEpoch(),
    });
    expect(backdated.data.agentId).toBe(current.data.agentId);
    expect(backdated.data.agentId).not.toBe(
      pseudonymise('AGT-0042', clocked, clocked.epochOf(Date.parse(old))),
    );
  });

  it('pseudonymising without a keyring is a configuration error', () => {
    const variant = policyVariant((p) => {
      p.families['winter-vehicle'].fields.agentId = {
        class: 'S3',
        action: 'pseudonymise',
        purpose: 'winter-service-operations',
      };
    });
    expect(() => applyPolicy(variant, 'winter-vehicle', sampleTelemetry('winter-vehicle'))).toThrow(
      /no keyring/,
    );
  });

  it('an approved generalisation of positions lowers winter-vehicle to S1', () => {
    const variant = policyVariant((p) => {
      p.families['winter-vehicle'].fields.position = {
        class: 'S2',
        action: 'generalise',
        purpose: 'winter-service-operations',
        rule: { kind: 'round-coordinates', decimals: 2 },
        storedClass: 'S1',
      };
    });
    const r = applyPolicy(variant, 'winter-vehicle', sampleTelemetry('winter-vehicle'));
    expect(r.data.position).toEqual({ lat: 47.33, lon: 5.03 });
    expect(r.sensitivity).toBe('S1');
    expect(r.fieldActions.position).toBe('generalise');
    expect(topicFor(variant, 'winter-vehicle', r.sensitivity)).toBe('tel.s1.winter.v1');
  });

  it('keeping presence detections makes streetlight telemetry S2', () => {
    const variant = policyVariant((p) => {
      p.families.streetlight.fields.presenceDetections = {
        class: 'S2',
        action: 'keep',
        purpose: 'lighting-operations',
      };
    });
    const r = applyPolicy(variant, 'streetlight', sampleTelemetry('streetlight'));
    expect(r.sensitivity).toBe('S2');
    expect(r.data.presenceDetections).toBe(3);
    expect(topicFor(variant, 'streetlight', 'S2')).toBe('tel.s2.lighting.v1');
  });

  it('a band generalisation floors the value', () => {
    const variant = policyVariant((p) => {
      p.families['winter-vehicle'].fields.speedKmh = {
        class: 'S1',
        action: 'generalise',
        purpose: 'winter-service-operations',
        rule: { kind: 'band', width: 10 },
      };
    });
    expect(applyPolicy(variant, 'winter-vehicle', sampleTelemetry('winter-vehicle')).data.speedKmh).toBe(30);
  });

  it('by default the output is re-validated: a kept field of the wrong type is refused with ONDIJON_POLICY_INVALID', () => {
    const bad = { ...sampleTelemetry('weather-station'), seq: 'seven' } as unknown as ReturnType<
      typeof sampleTelemetry<'weather-station'>
    >;
    expect(() => applyPolicy(policy, 'weather-station', bad)).toThrow(
      /produced invalid stored weather-station data: seq/,
    );
    expect(() => applyPolicy(policy, 'weather-station', bad, { inputValidated: false })).toThrow(
      /produced invalid stored weather-station data: seq/,
    );
  });

  it('inputValidated skips the second parse only when every action is keep or drop', () => {
    const sample = sampleTelemetry('streetlight');
    const fast = applyPolicy(policy, 'streetlight', sample, { inputValidated: true });
    const checked = applyPolicy(policy, 'streetlight', sample);
    expect(fast).toEqual(checked);
    // A generalised value is computed here, so it is checked even when the input was validated.
    const variant = policyVariant((p) => {
      p.families['winter-vehicle'].fields.speedKmh = {
        class: 'S1',
        action: 'generalise',
        purpose: 'winter-service-operations',
        rule: { kind: 'band', width: 10 },
      };
    });
    const bad = { ...sampleTelemetry('winter-vehicle'), speedKmh: 'fast' } as unknown as ReturnType<
      typeof sampleTelemetry<'winter-vehicle'>
    >;
    expect(() => applyPolicy(variant, 'winter-vehicle', bad, { inputValidated: true })).toThrow(
      /produced invalid stored winter-vehicle data: speedKmh/,
    );
  });

  it('a field the policy does not cover is refused with ONDIJON_POLICY_UNKNOWN_FIELD', () => {
    const sample = { ...sampleTelemetry('weather-station'), windKmh: 3 } as ReturnType<
      typeof sampleTelemetry<'weather-station'>
    >;
    try {
      applyPolicy(policy, 'weather-station', sample);
      expect.unreachable();
    } catch (err) {
      expect(isOnDijonError(err, 'ONDIJON_POLICY_UNKNOWN_FIELD')).toBe(true);
    }
  });
});

describe('class of an output', () => {
  it('is the maximum of its inputs', () => {
    expect(classOfOutput('S1', 'S2', 'S0')).toBe('S2');
    expect(classOfOutput('S1', 'S1')).toBe('S1');
    expect(classOfOutput('S3', 'S1')).toBe('S3');
    expect(classOfOutput('S0')).toBe('S0');
    expect(classOfOutput()).toBe('S0');
  });

  it('of a winter aggregate from S2 positions and S1 weather is S2', () => {
    const vehicle = applyPolicy(policy, 'winter-vehicle', sampleTelemetry('winter-vehicle')).sensitivity;
    const station = applyPolicy(policy, 'weather-station', sampleTelemetry('weather-station')).sensitivity;
    expect(classOfOutput(vehicle, station)).toBe('S2');
  });
});

describe('routing', () => {
  it('has no topic for S4 and knows the excluded sources', () => {
    expect(topicFor(policy, 'streetlight', 'S4')).toBeUndefined();
    expect(topicFor(policy, 'traffic-detector', 'S3')).toBeUndefined();
    expect(isExcludedSource(policy, 'cctv-camera')).toBe(true);
    expect(isExcludedSource(policy, 'anpr-camera')).toBe(true);
    expect(isExcludedSource(policy, 'police-radio')).toBe(true);
    expect(isExcludedSource(policy, 'streetlight')).toBe(false);
  });
});
