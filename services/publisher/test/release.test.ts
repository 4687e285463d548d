import { describe, expect, it } from 'vitest';
import { COMMUNE_CODES, isOnDijonError } from '@ondijon/contracts';
import {
  PrivacyBudgetLedger,
  createNoiseMemory,
  loadPolicy,
  seededRng,
  datasetPolicy,
  type NoiseMemory,
} from '@ondijon/governance';
import { preReleaseCheck } from '../src/check';
import { DATASET_SPECS } from '../src/datasets';
import {
  buildRelease,
  type BuildReleaseInput,
  type BuiltRelease,
  type PreviousRelease,
  type StagedAggregate,
} from '../src/release';
import { tableFromRows } from '../src/rows';
import { equipmentPresence, type EquipmentPresence } from '../src/equipment';
import { DAY, lightingDay, winterAgg } from './helpers';

const policy = loadPolicy();
const NOW = new Date('2026-01-20T00:00:00Z');

function build(
  datasetId: string,
  staged: StagedAggregate[],
  extra: Partial<BuildReleaseInput> = {},
): BuiltRelease {
  return buildRelease({
    spec: DATASET_SPECS[datasetId]!,
    rules: datasetPolicy(policy, datasetId),
    policyRevision: policy.revision,
    day: DAY,
    staged,
    previous: [],
    noiseMemory: createNoiseMemory(),
    rng: seededRng('release-test'),
    ledger: new PrivacyBudgetLedger(),
    now: NOW,
    ...extra,
  });
}

/** Rows as the store would hand them back (dates as ISO strings). */
function published(b: BuiltRelease, releaseId = 'r1'): PreviousRelease {
  const rows = b.rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : (v ?? null)]),
    ),
  );
  return { releaseId, table: tableFromRows(DATASET_SPECS[b.datasetId]!, DAY, rows) };
}

function check(
  b: BuiltRelease,
  previous: PreviousRelease[] = [],
  ledger = new PrivacyBudgetLedger(),
  equipment?: EquipmentPresence,
) {
  return preReleaseCheck(b, {
    spec: DATASET_SPECS[b.datasetId]!,
    rules: datasetPolicy(policy, b.datasetId),
    previous,
    ledger,
    now: NOW,
    forbiddenFields: new Set(['agentId']),
    pseudonymPrefix: 'psd',
    equipment,
  });
}

const row = (b: BuiltRelease, level: string, area: string) =>
  b.rows.find((r) => r.level === level && r.area_id === area && r.resolution !== 'PT1H')!;

describe('lighting-commune-hour release', () => {
  it('has every commune-hour, commune-day and Métropole row, with missing and value statuses', () => {
    const b = build(
      'lighting-commune-hour',
      lightingDay((c, h) => c === '21003' && h === 3),
    );
    expect(b.rows).toHaveLength(23 * 24 + 23 + 24 + 1);
    const status = (r: (typeof b.rows)[number]) => r.status;
    expect(b.rows.filter((r) => status(r) === 'missing')).toHaveLength(1);
    // Daytime hours are measured zeros: values computed from the cabinets that reported, not `zero`.
    const daytime = b.rows.find((r) => r.level === 'commune' && r.energy_kwh === 0)!;
    expect(daytime.status).toBe('value');
    expect(b.rows.filter((r) => status(r) === 'zero')).toHaveLength(0);
    expect(b.rows.filter((r) => status(r) === 'suppressed')).toHaveLength(0);
    const metroDay = b.rows.find((r) => r.level === 'metropole' && r.resolution === 'P1D')!;
    expect(metroDay.energy_kwh).toBeCloseTo((23 * 14 - 1) * 12.5);
    expect(metroDay.luminaires_reporting).toBeNull(); // not summable over hours
    expect(check(b)).toEqual([]);
  });
});

describe('structural zeros', () => {
  // A registry where commune 21003 has no street lighting at all.
  const equipment = equipmentPresence({
    revision: 'test',
    equipment: COMMUNE_CODES.filter((c) => c !== '21003').map((c) => ({
      equipmentId: `LC-${c}-001`,
      family: 'lighting-cabinet' as const,
      operator: 'citelum',
      commune: c,
      location: { lat: 47.3, lon: 5.0 },
      commissionedOn: '2010-01-01',
      contractRef: 'DM-TEST',
    })),
  });

  it('publishes a commune without the equipment as exact zeros with status zero, and only that commune', () => {
    const b = build(
      'lighting-commune-hour',
      lightingDay((c) => c === '21003'),
      { equipment },
    );
    const rows21003 = b.rows.filter((r) => r.area_id === '21003');
    expect(rows21003).toHaveLength(24);
    for (const r of rows21003) {
      expect(r.status).toBe('zero');
      expect(r.energy_kwh).toBe(0);
      expect(r.luminaires_reporting).toBe(0);
      expect(r.dimmed_share).toBeNull();
    }
    expect(b.rows.filter((r) => r.status === 'zero')).toHaveLength(24);
    expect(b.notes.lineage.structuralZeroCells).toBe(24);
    expect(check(b, [], undefined, equipment)).toEqual([]);
    // The check re-derives it: without the registry, or with one listing lighting there, zeros are refused.
    expect(check(b).map((f) => f.rule)).toEqual(['status']);
    const lit = equipmentPresence({ revision: 'all', equipment: [] });
    expect(check(b, [], undefined, { ...lit, has: () => true }).map((f) => f.rule)).toEqual(['status']);
    // Without the registry the same commune is missing, never a zero.
    const blind = build(
      'lighting-commune-hour',
      lightingDay((c) => c === '21003'),
    );
    expect(blind.rows.filter((r) => r.area_id === '21003').every((r) => r.status === 'missing')).toBe(true);
  });

  it('says in the Table Schema what each status means', () => {
    const b = build('lighting-commune-hour', lightingDay());
    const field = b.tableSchema.fields.find((f) => f.name === 'status')!;
    expect(field.constraints?.enum).toEqual(['value', 'suppressed', 'noised', 'missing', 'zero']);
    for (const s of ['value:', 'suppressed:', 'noised:', 'missing:', 'zero: exact structural zero'])
      expect(field.description).toContain(s);
    expect(field.description).toContain('streetlight, lighting-cabinet');
  });
});

describe('winter-commune-day release (person-derived)', () => {
  const staged = () =>
    COMMUNE_CODES.map((c) =>
      winterAgg(c, c === '21003' ? { persons: 5 } : c === '21106' ? { top1Share: 0.9 } : {}),
    );

  it('suppresses cells below k persons and dominated cells, and protects them from the Métropole total', () => {
    const b = build('winter-commune-day', staged());
    expect(row(b, 'commune', '21003').status).toBe('suppressed');
    expect(row(b, 'commune', '21106').status).toBe('suppressed');
    expect(row(b, 'commune', '21003').salt_kg).toBeNull();
    // Attack: Métropole total minus the published communes.
    const metro = row(b, 'metropole', '242100410');
    const publishedSum = b.rows
      .filter((r) => r.level === 'commune' && r.status !== 'suppressed')
      .reduce((s, r) => s + (r.salt_kg as number), 0);
    const residual = (metro.salt_kg as number) - publishedSum;
    const truth = winterAgg('21003').data.values.saltKg as number;
    // With two cells suppressed, the residual is their sum, not either one.
    expect(residual).not.toBeCloseTo(truth);
    expect(b.suppressed.size).toBeGreaterThanOrEqual(2);
    expect(check(b)).toEqual([]);
  });

  it('adds a complement when only one cell fails, so the Métropole total cannot reveal it', () => {
    const b = build(
      'winter-commune-day',
      COMMUNE_CODES.map((c) => winterAgg(c, c === '21003' ? { persons: 5 } : {})),
    );
    expect(b.secondary.length).toBe(1);
    expect(check(b)).toEqual([]);
  });

  it('noises vehicle counts, spends ε per release and never redraws a published value', () => {
    const memory: NoiseMemory = createNoiseMemory();
    const ledger = new PrivacyBudgetLedger();
    const rules = datasetPolicy(policy, 'winter-commune-day');
    const v1 = build('winter-commune-day', staged(), { noiseMemory: memory, ledger });
    expect(v1.epsilon).toBe(0.5);
    expect(row(v1, 'commune', '21231').status).toBe('noised');
    ledger.charge(
      { datasetId: 'winter-commune-day', day: DAY, releaseId: 'r1', epsilon: v1.epsilon },
      rules.noise!,
    );

    // Nothing changed: no fresh noise, no budget, identical values.
    const same = build('winter-commune-day', staged(), {
      noiseMemory: memory,
      ledger,
      previous: [published(v1)],
    });
    expect(same.epsilon).toBe(0);
    expect(same.rows).toEqual(v1.rows);

    // Late data revises one commune: a new version, unchanged cells keep their noised values.
    const revised = staged().map((a) =>
      a.data.group.commune === '21231' ? winterAgg('21231', { revision: 1, saltKg: 5000 }) : a,
    );
    const v2 = build('winter-commune-day', revised, {
      noiseMemory: memory,
      ledger,
      previous: [published(v1)],
    });
    expect(v2.epsilon).toBe(0.5);
    expect(row(v2, 'commune', '21278').vehicles_active).toBe(row(v1, 'commune', '21278').vehicles_active);
    for (const id of v1.suppressed) expect(v2.suppressed.has(id)).toBe(true);
    expect(check(v2, [published(v1)], ledger)).toEqual([]);
    ledger.charge(
      { datasetId: 'winter-commune-day', day: DAY, releaseId: 'r2', epsilon: v2.epsilon },
      rules.noise!,
    );

    // A third revision would exceed ε per day = 1.0.
    const again = revised.map((a) =>
      a.data.group.commune === '21231' ? winterAgg('21231', { revision: 2, saltKg: 6000 }) : a,
    );
    let error: unknown;
    try {
      build('winter-commune-day', again, {
        noiseMemory: memory,
        ledger,
        previous: [published(v1), published(v2, 'r2')],
      });
    } catch (e) {
      error = e;
    }
    expect(isOnDijonError(error, 'ONDIJON_BUDGET_EXHAUSTED')).toBe(true);
  });
});

describe('pre-release check', () => {
  const b = () =>
    build(
      'winter-commune-day',
      COMMUNE_CODES.map((c) => winterAgg(c, c === '21003' ? { persons: 5 } : {})),
    );

  it('blocks a release where a cell below threshold is shown', () => {
    const r = b();
    r.status.set(
      [...r.suppressed].find((id) => id.includes('21003'))!,
      'value',
    );
    expect(check(r).map((f) => f.rule)).toContain('threshold-or-dominance');
  });

  it('blocks a release whose margins reveal a suppressed cell', () => {
    const r = b();
    for (const id of r.secondary) r.status.set(id, 'noised');
    expect(check(r).map((f) => f.rule)).toContain('margin-recovery');
  });

  it('blocks a pseudonym anywhere in the rows, and input classed S3', () => {
    const r = b();
    r.rows[0]!.commune_name = 'psd:3f2a';
    expect(check(r).map((f) => f.rule)).toContain('pseudonym');
    const s3 = build(
      'winter-commune-day',
      COMMUNE_CODES.map((c) => ({ ...winterAgg(c), sensitivity: 'S3' as const })),
    );
    expect(check(s3).map((f) => f.rule)).toContain('sensitivity');
  });

  it('blocks person-derived data younger than 24 h and a suppressed cell uncovered by a later release', () => {
    const r = b();
    const early = preReleaseCheck(r, {
      spec: DATASET_SPECS['winter-commune-day']!,
      rules: datasetPolicy(policy, 'winter-commune-day'),
      previous: [],
      ledger: new PrivacyBudgetLedger(),
      now: new Date('2026-01-11T10:00:00Z'),
      forbiddenFields: new Set(),
      pseudonymPrefix: 'psd',
    });
    expect(early.map((f) => f.rule)).toContain('coarsening');
    const later = build(
      'winter-commune-day',
      COMMUNE_CODES.map((c) => winterAgg(c)),
    );
    expect(check(later, [published(r)]).map((f) => f.rule)).toContain('stability');
  });
});
