import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FAMILIES, OnDijonError, isOnDijonError, telemetrySchemas } from '@ondijon/contracts';
import { DATASET_IDS, datasetPolicy, defaultPolicyPath, loadPolicy, parsePolicy } from '../src/policy';
import { defaultPolicyObject } from './helpers';

/** Parses YAML expecting failure; returns the error. */
function policyErrorOf(text: string): OnDijonError {
  try {
    parsePolicy(text, 'test.yaml');
  } catch (err) {
    if (isOnDijonError(err)) return err;
    throw err;
  }
  throw new Error('policy was accepted');
}

describe('default policy', () => {
  it('is found from the module location and loads', () => {
    const path = defaultPolicyPath();
    expect(isAbsolute(path)).toBe(true);
    expect(path.endsWith('infra/governance/policy.yaml')).toBe(true);
    expect(existsSync(path)).toBe(true);
    const policy = loadPolicy(path);
    expect(policy.revision).toMatch(/^\d{4}-\d{2}-\d{2}\.\d+$/);
    expect(policy.source).toBe(path);
    expect(Object.isFrozen(policy.families)).toBe(true);
  });

  it('gives every field of every family a class and an action', () => {
    const policy = loadPolicy();
    for (const family of FAMILIES) {
      for (const field of Object.keys(telemetrySchemas[family].shape)) {
        expect(policy.families[family]?.fields[field], `${family}.${field}`).toBeDefined();
      }
    }
  });

  it('follows the default classes of docs/architecture.md', () => {
    const policy = loadPolicy();
    expect(policy.families['winter-vehicle']?.fields.agentId).toMatchObject({ action: 'drop', class: 'S3' });
    expect(policy.families['winter-vehicle']?.fields.position).toMatchObject({ action: 'keep', class: 'S2' });
    expect(policy.families.streetlight?.fields.presenceDetections).toMatchObject({ action: 'drop' });
    expect(policy.retention.S1.days).toBe(90);
    expect(policy.retention.S2.days).toBe(60);
    expect(policy.retention.S3.days).toBe(30);
    expect(policy.excludedSources.map((e) => e.source).sort()).toEqual([
      'anpr-camera',
      'cctv-camera',
      'police-radio',
    ]);
    for (const id of DATASET_IDS) expect(datasetPolicy(policy, id).sourceTopic).toMatch(/^agg\./);
    const winter = datasetPolicy(policy, 'winter-commune-day');
    expect(winter.personDerived).toBe(true);
    expect(winter.threshold).toEqual({ persons: 11 });
    expect(winter.coarsening.minBinMinutes).toBeGreaterThanOrEqual(60);
    expect(winter.coarsening.publishDelayHours).toBeGreaterThanOrEqual(24);
    expect(winter.noise?.mechanism).toBe('discrete-laplace');
    expect(datasetPolicy(policy, 'lighting-commune-hour').threshold).toBeUndefined();
    expect(() => datasetPolicy(policy, 'nope')).toThrow(OnDijonError);
  });
});

describe('invalid policy', () => {
  it('lists every problem by path, not just the first', () => {
    const p = defaultPolicyObject();
    p.families['winter-vehicle'].fields.agentId.action = 'hide'; // schema: bad enum
    delete p.families.streetlight.fields.faults; // completeness
    p.families['lighting-cabinet'].fields.powerW.purpose = 'selling-data'; // undeclared use
    p.families['signal-controller'].fields.mode.action = 'drop'; // required field, and no reason
    p.datasets['winter-commune-day'].coarsening.publishDelayHours = 2; // person-derived rule
    p.datasets['traffic-flow'].noise = {
      mechanism: 'discrete-laplace',
      epsilonPerRelease: 1,
      epsilonPerDay: 1,
      fields: ['speed'],
    };
    p.topics.S1 = 'tel.s1.{domain}.v9';
    const err = policyErrorOf(stringify(p));
    expect(err.code).toBe('ONDIJON_POLICY_INVALID');
    expect(err.message).toContain('families.winter-vehicle.fields.agentId.action: Invalid option');
    const paths = (err.details?.problems as { path: string }[]).map((x) => x.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'families.winter-vehicle.fields.agentId.action',
        'families.streetlight.fields.faults',
        'families.lighting-cabinet.fields.powerW.purpose',
        'families.signal-controller.fields.mode.reason',
        'families.signal-controller.fields.mode.action',
        'datasets.winter-commune-day.coarsening.publishDelayHours',
        'datasets.traffic-flow.noise.fields.0',
        'topics.S1',
      ]),
    );
    expect(paths).not.toContain('families.winter-vehicle.fields.agentId.purpose');
    expect(err.message).toMatch(/^invalid governance policy test\.yaml: \d+ problems/);
    for (const path of paths) expect(err.message).toContain(`${path}: `);
  });

  it('lists every schema problem at once, naming unknown keys', () => {
    const p = defaultPolicyObject();
    p.revision = 'first';
    p.retention.S1.days = -1;
    p.families.streetlight.fields.state.class = 'S9';
    p.families.streetlight.fields.state.colour = 'red';
    p.pseudonymisation.algorithm = 'SHA-256';
    const err = policyErrorOf(stringify(p));
    const paths = (err.details?.problems as { path: string }[]).map((x) => x.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'revision',
        'retention.S1.days',
        'families.streetlight.fields.state.class',
        'families.streetlight.fields.state.colour',
        'pseudonymisation.algorithm',
      ]),
    );
  });

  it('rejects unknown families and fields, and a missing family', () => {
    const p = defaultPolicyObject();
    p.families['cctv-camera'] = { fields: {} };
    p.families.streetlight.fields.colour = { class: 'S1', action: 'keep', purpose: 'lighting-operations' };
    delete p.families['weather-station'];
    const err = policyErrorOf(stringify(p));
    expect(err.message).toContain('families.cctv-camera: unknown family');
    expect(err.message).toContain('families.streetlight.fields.colour: not a field');
    expect(err.message).toContain('families.weather-station: missing');
  });

  it('rejects pseudonymising below S3 and generalising without a fitting rule', () => {
    const p = defaultPolicyObject();
    p.families['winter-vehicle'].fields.agentId = {
      class: 'S2',
      action: 'pseudonymise',
      purpose: 'winter-service-operations',
    };
    p.families['winter-vehicle'].fields.speedKmh = {
      class: 'S1',
      action: 'generalise',
      purpose: 'winter-service-operations',
      rule: { kind: 'round-coordinates', decimals: 2 },
    };
    const err = policyErrorOf(stringify(p));
    expect(err.message).toContain(
      'families.winter-vehicle.fields.agentId.class: a pseudonymised field is personal data',
    );
    expect(err.message).toContain(
      'families.winter-vehicle.fields.speedKmh.rule: round-coordinates applies only to a position',
    );
  });

  it('reports YAML syntax errors with a line', () => {
    const err = policyErrorOf('revision: [unclosed\nowner: x');
    expect(err.code).toBe('ONDIJON_POLICY_INVALID');
    expect(err.message).toMatch(/yaml/);
  });

  it('reports an unreadable file as invalid policy', () => {
    expect(() => loadPolicy('/nonexistent/policy.yaml')).toThrow(/cannot read governance policy/);
  });
});
