import { createHash } from 'node:crypto';
import { OnDijonError, maxSensitivity, type Sensitivity } from '@ondijon/contracts';
import {
  type DatasetPolicy,
  type NoiseMemory,
  type PrivacyBudgetLedger,
  type Rng,
  type SuppressionTable,
  dominatedFields,
  effectiveCoarsening,
  frequencyFailures,
  noiseCount,
  secondarySuppression,
} from '@ondijon/governance';
import type { DatasetMetadataInput, ReleaseNotesInput, RowInput, TableSchema } from '@ondijon/opendata';
import type { DatasetSpec } from './datasets';
import type { EquipmentPresence } from './equipment';
import {
  presentStatus,
  rowOf,
  tableSchemaOf,
  valueColumns,
  type PublishedTable,
  type RowStatus,
} from './rows';
import {
  assignMarginRevTags,
  cellId,
  compareCells,
  isComputed,
  marginGroups,
  missingCells,
  synthesiseMargins,
  varKey,
  zeroValues,
  type TableCell,
} from './table';
import { dayBounds, iso } from './time';

/** An aggregate staged for release, with what its envelope said about it. */
export interface StagedAggregate {
  /** Aggregate key (processor|group|windowStart). */
  key: string;
  topic: string;
  sensitivity: Sensitivity;
  policyRevision: string;
  data: {
    processor: string;
    processorVersion: string;
    group: Record<string, unknown>;
    windowStart: string;
    windowEnd: string;
    revision: number;
    values: Record<string, unknown>;
    contributors: { equipment: number; operators: number; persons?: number | undefined };
    dominance?: Record<string, { top1: number; top2: number }> | undefined;
    inputRecords: number;
    lateRecords: number;
  };
}

/** A previous release of the same period, read back from the store. */
export interface PreviousRelease {
  releaseId: string;
  table: PublishedTable;
}

/** Everything a release of one dataset and day is built from. */
export interface BuildReleaseInput {
  spec: DatasetSpec;
  rules: DatasetPolicy;
  policyRevision: string;
  /** Local day `YYYY-MM-DD`. */
  day: string;
  staged: readonly StagedAggregate[];
  /** Earlier releases of the same day, oldest first. */
  previous: readonly PreviousRelease[];
  noiseMemory: NoiseMemory;
  rng: Rng;
  ledger: PrivacyBudgetLedger;
  now: Date;
  /** Replaces the policy's publication delay (tests and demos only; recorded in the notes). */
  publishDelayOverrideHours?: number | undefined;
  /** Equipment per commune from the registry: where structural zeros are. Absent: none (fail closed). */
  equipment?: EquipmentPresence | undefined;
}

/** A release ready for the pre-release check and the store. */
export interface BuiltRelease {
  datasetId: string;
  day: string;
  cells: Map<string, TableCell>;
  status: Map<string, RowStatus>;
  groups: ReturnType<typeof marginGroups>;
  rows: RowInput[];
  tableSchema: TableSchema;
  metadata: DatasetMetadataInput;
  notes: ReleaseNotesInput;
  /** Digest of the input cells and revisions: equal digests mean nothing new to release. */
  fingerprint: string;
  /** ε this release spends (0 when every noised value was drawn before). */
  epsilon: number;
  suppressed: Set<string>;
  secondary: string[];
  maxInputSensitivity: Sensitivity;
}

/** Digest of the staged cells of a period (keys and revisions). */
export function fingerprintOf(staged: readonly StagedAggregate[]): string {
  const parts = staged.map((s) => `${s.key}@${s.data.revision}`).sort();
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

/** The margin structure of a published table, as the suppression check sees it. */
export function suppressionTable(
  cells: Map<string, TableCell>,
  status: Map<string, RowStatus>,
  groups: ReturnType<typeof marginGroups>,
): SuppressionTable {
  const present = [...cells.values()].filter(isComputed);
  return {
    cells: present.map((c) => ({ id: c.id, varKey: varKey(c), weight: magnitude(c) })),
    groups,
    suppressed: new Set(present.filter((c) => status.get(c.id) === 'suppressed').map((c) => c.id)),
  };
}

function magnitude(c: TableCell): number {
  return Object.values(c.values).reduce<number>((s, v) => s + Math.abs(v ?? 0), 0);
}

function blocked(message: string, details: Record<string, unknown>): OnDijonError {
  return new OnDijonError('ONDIJON_RELEASE_BLOCKED', message, { details });
}

/**
 * Reasons a computed cell fails a primary rule (empty when it may be published). Its value does not
 * matter: a zero from one to three vehicles says exactly what they did, like any other value.
 */
export function primaryFailures(cell: TableCell, rules: DatasetPolicy): string[] {
  return [
    ...frequencyFailures(cell.contributors, rules.threshold),
    ...dominatedFields(cell.values, cell.dominance, rules.dominance).map(() => 'dominance'),
  ];
}

/**
 * Builds the release of one dataset and day: base cells from the staged aggregates, noise on
 * person-derived counts (reusing every value drawn before), margins, primary and stable secondary
 * suppression checked together with the earlier releases of the day, rows and notes. Nothing is
 * written here; throws `ONDIJON_RELEASE_BLOCKED` or `ONDIJON_BUDGET_EXHAUSTED` when the rules cannot be met.
 */
export function buildRelease(input: BuildReleaseInput): BuiltRelease {
  const { spec, rules, day } = input;
  const { start: dayStart, end: dayEnd } = dayBounds(day);

  // Base cells: one per aggregate (the staging kept the latest revision of each key). A window must
  // lie inside the period, and a daily one must be the period itself: a window on another day
  // boundary (e.g. a UTC day from an older processor) would put data past the declared end and a
  // second row for the same commune and day. Such aggregates are left out and counted in the notes.
  const base: TableCell[] = [];
  const outOfPeriod: string[] = [];
  for (const s of input.staged) {
    const ws = new Date(s.data.windowStart);
    const we = new Date(s.data.windowEnd);
    if (ws < dayStart || ws >= dayEnd) continue;
    const place = spec.place(s.data.group, ws, we);
    const daily = place.resolution === 'P1D';
    if (
      we > dayEnd ||
      (daily && (ws.getTime() !== dayStart.getTime() || we.getTime() !== dayEnd.getTime()))
    ) {
      outOfPeriod.push(s.key);
      continue;
    }
    const values: Record<string, number | null> = {};
    for (const c of spec.columns) {
      const v = s.data.values[c.field];
      values[c.field] = typeof v === 'number' && Number.isFinite(v) ? v : null;
    }
    base.push({
      id: cellId(place, ws),
      kind: 'base',
      place,
      windowStart: ws,
      windowEnd: we,
      revision: s.data.revision,
      revTag: `r${s.data.revision}`,
      values,
      noisedFields: new Set(),
      contributors: s.data.contributors,
      dominance: s.data.dominance ?? {},
    });
  }
  // Two aggregates on the same cell (e.g. two processors) would make the table ambiguous.
  const seen = new Set<string>();
  for (const c of base) {
    if (seen.has(c.id)) throw blocked(`two aggregates for cell ${c.id}`, { datasetId: spec.id, cell: c.id });
    seen.add(c.id);
  }

  // In person-derived data an expected cell without input is not a missing measurement: it is a
  // count of zero contributors, which says as much about people as a count of two. It becomes a
  // cell like the others (and fails the threshold), unless it is a structural zero.
  let zeroContributorCells = 0;
  if (rules.personDerived) {
    for (const m of missingCells(spec, day, base, input.equipment)) {
      if (m.kind !== 'missing') continue;
      zeroContributorCells++;
      base.push({
        ...m,
        kind: 'base',
        values: zeroValues(spec),
        contributors: { equipment: 0, operators: 0, persons: 0 },
      });
    }
  }

  // Noise on person-derived counts, before margins so that margins are sums of noised values
  // (post-processing, no extra budget). Every computed cell is noised, zeros included; suppressed
  // cells too: their noised value reaches the margins, and it is remembered privately so a later
  // release never redraws it.
  let fresh = 0;
  const noise = rules.noise;
  if (noise) {
    const perField = noise.epsilonPerRelease / noise.fields.length;
    for (const c of base) {
      for (const field of noise.fields) {
        const v = c.values[field];
        if (v === null || v === undefined) continue;
        const drawn = noiseCount(
          v,
          // A cell without input has no revision: -1, so its input arriving later is a fresh draw.
          { cellId: c.id, revision: c.revision ?? -1, field },
          perField,
          input.rng,
          input.noiseMemory,
        );
        if (drawn.fresh) fresh++;
        c.values[field] = drawn.value;
        c.noisedFields.add(field);
      }
    }
  }
  const epsilon = noise && fresh > 0 ? noise.epsilonPerRelease : 0;
  if (noise) input.ledger.check(spec.id, day, epsilon, noise);

  const margins = synthesiseMargins(spec, day, base);
  const present = [...base, ...margins];
  const cells = new Map(present.map((c) => [c.id, c]));
  const groups = marginGroups(present, day);
  assignMarginRevTags(cells, groups);
  for (const m of missingCells(spec, day, present, input.equipment)) cells.set(m.id, m);

  // Primary suppression.
  const primary = present.filter((c) => primaryFailures(c, rules).length > 0).map((c) => c.id);
  // Stability: whatever an earlier release of the day suppressed stays suppressed.
  const stable = new Set<string>();
  const previousTables: SuppressionTable[] = [];
  for (const p of input.previous) {
    const pGroups = marginGroups(p.table.cells.values(), day);
    previousTables.push(suppressionTable(p.table.cells, p.table.status, pGroups));
    for (const [id, s] of p.table.status) if (s === 'suppressed') stable.add(id);
  }
  const result = secondarySuppression({
    cells: present.map((c) => ({ id: c.id, varKey: varKey(c), weight: magnitude(c) })),
    groups,
    primary,
    stable,
    previous: previousTables,
  });
  if (result.unprotected.length > 0) {
    throw blocked('suppressed cells would be recoverable from the margins', {
      datasetId: spec.id,
      day,
      cells: result.unprotected.slice(0, 20),
    });
  }

  const status = new Map<string, RowStatus>();
  for (const c of cells.values())
    status.set(c.id, result.suppressed.has(c.id) ? 'suppressed' : presentStatus(c));
  const ordered = [...cells.values()].sort(compareCells);
  const rows = ordered.map((c) => rowOf(spec, c, status.get(c.id)!));

  const coarsening = effectiveCoarsening(rules.coarsening, rules.personDerived);
  const delayHours = input.publishDelayOverrideHours ?? coarsening.publishDelayHours;
  const maxInputSensitivity = maxSensitivity(...input.staged.map((s) => s.sensitivity));
  const processors = [
    ...new Set(input.staged.map((s) => `${s.data.processor}@${s.data.processorVersion}`)),
  ].sort();
  const fingerprint = fingerprintOf(
    input.staged.filter((s) =>
      cells.has(
        cellId(
          spec.place(s.data.group, new Date(s.data.windowStart), new Date(s.data.windowEnd)),
          new Date(s.data.windowStart),
        ),
      ),
    ),
  );
  const suppressedIds = ordered.filter((c) => status.get(c.id) === 'suppressed').map((c) => c.id);
  const spent = input.ledger.spent(spec.id, day);
  const previousId = input.previous[input.previous.length - 1]?.releaseId;

  const notes: ReleaseNotesInput = {
    period: { start: iso(dayStart), end: iso(dayEnd) },
    policyRevision: input.policyRevision,
    thresholds: {
      kPersons: rules.threshold?.persons ?? null,
      kOrganisations: rules.threshold?.organisations ?? null,
      kEquipment: rules.threshold?.equipment ?? null,
      dominanceN: rules.dominance?.n ?? null,
      dominanceK: rules.dominance?.k ?? null,
      dominanceFields: rules.dominance?.fields.join(',') ?? null,
      minBinMinutes: coarsening.minBinMinutes,
      publishDelayHours: delayHours,
      publishDelayOverridden: input.publishDelayOverrideHours !== undefined,
      noiseMechanism: noise?.mechanism ?? null,
      epsilonPerRelease: noise?.epsilonPerRelease ?? null,
      epsilonPerDay: noise?.epsilonPerDay ?? null,
      noisedFields: noise?.fields.join(',') ?? null,
      secondarySuppression:
        'greedy smallest complement per margin + exact linear check, stable across releases of the period',
    },
    budget: noise
      ? {
          epsilon,
          period: day,
          cumulativeEpsilon: spent + epsilon,
          mechanism: `${noise.mechanism} (ε ${noise.epsilonPerRelease / noise.fields.length} per field and cell)`,
        }
      : { epsilon: 0 },
    lineage: {
      inputTopics: [...new Set(input.staged.map((s) => s.topic))].sort(),
      processors,
      maxInputSensitivity,
      outputSensitivity: 'S0',
      anonymisation: `S0 only through the approved anonymisation of policy ${input.policyRevision} (dataset ${spec.id}): thresholds, dominance, stable secondary suppression${noise ? ', discrete-Laplace noise' : ''}, coarsening`,
      inputAggregates: input.staged.length,
      inputRecords: input.staged.reduce((s, a) => s + a.data.inputRecords, 0),
      lateRecords: input.staged.reduce((s, a) => s + a.data.lateRecords, 0),
      inputFingerprint: fingerprint,
      suppressedCells: suppressedIds,
      zeroContributorCells,
      structuralZeroCells: ordered.filter((c) => c.kind === 'structural').length,
      structuralZeroRule: `a commune where equipment registry ${input.equipment?.revision ?? '(none given)'} lists no ${spec.equipmentFamilies.join(' or ')}`,
      outOfPeriodAggregates: outOfPeriod.length,
      margins:
        'commune = Σ intersections; Métropole = Σ communes; hour = Σ quarters; day = Σ hours (summed columns only)',
    },
    ...(previousId
      ? {
          supersedes: previousId,
          comment: {
            fr: 'Révision : données tardives ou corrigées.',
            en: 'Revision: late or corrected data.',
          },
        }
      : {}),
    secondarySuppressedCells: result.secondary.length,
  };
  const metadata: DatasetMetadataInput = {
    ...spec.metadata,
    personDerived: rules.personDerived,
    valueFields: valueColumns(spec),
  };
  return {
    datasetId: spec.id,
    day,
    cells,
    status,
    groups,
    rows,
    tableSchema: tableSchemaOf(spec),
    metadata,
    notes,
    fingerprint,
    epsilon,
    suppressed: result.suppressed,
    secondary: result.secondary,
    maxInputSensitivity,
  };
}
