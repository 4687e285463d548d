import { OnDijonError, isOnDijonError, sensitivityRank } from '@ondijon/contracts';
import {
  type DatasetPolicy,
  type PrivacyBudgetLedger,
  coarseningFailures,
  effectiveCoarsening,
  findRecoverableCells,
} from '@ondijon/governance';
import type { DatasetSpec } from './datasets';
import type { EquipmentPresence } from './equipment';
import { primaryFailures, suppressionTable, type BuiltRelease, type PreviousRelease } from './release';
import { isComputed, marginGroups, type TableCell } from './table';
import { dayBounds, iso, parisDay } from './time';

/** One failed rule of the pre-release check (cell ids only, never values). */
export interface CheckFailure {
  rule:
    | 'threshold-or-dominance'
    | 'margin-recovery'
    | 'stability'
    | 're-noised'
    | 'sensitivity'
    | 'pseudonym'
    | 'budget'
    | 'coarsening'
    | 'status'
    | 'period';
  cells?: string[];
  detail?: string;
}

/** What the check needs besides the release. */
export interface CheckContext {
  spec: DatasetSpec;
  rules: DatasetPolicy;
  previous: readonly PreviousRelease[];
  ledger: PrivacyBudgetLedger;
  now: Date;
  publishDelayOverrideHours?: number | undefined;
  /** Field names classed S3 or S4 anywhere in the policy (never a column). */
  forbiddenFields: ReadonlySet<string>;
  /** Pseudonym prefix of the policy (`psd`): `psd:` must appear nowhere. */
  pseudonymPrefix: string;
  /** Equipment per commune from the registry: the only ground for a `zero` row. */
  equipment?: EquipmentPresence | undefined;
}

const snake = (s: string) => s.replace(/([A-Z])/g, '_$1').toLowerCase();

/**
 * Re-runs every rule on the finished rows, independently of how they were built, and compares with
 * the earlier releases of the same period. Returns the failures (empty: the release may be written).
 */
export function preReleaseCheck(release: BuiltRelease, ctx: CheckContext): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const { spec, rules } = ctx;
  const take = (ids: string[]) => ids.slice(0, 20);

  // 1. No published cell below a threshold or dominated, whatever its value (zero included).
  const bad = [...release.cells.values()]
    .filter(
      (c) =>
        isComputed(c) && release.status.get(c.id) !== 'suppressed' && primaryFailures(c, rules).length > 0,
    )
    .map((c) => c.id);
  if (bad.length) failures.push({ rule: 'threshold-or-dominance', cells: take(bad) });

  // 1b. An exact zero only where the registry lists no equipment of the dataset in the commune.
  const falseZeros = release.rows
    .filter((r) => {
      if (r.status !== 'zero') return false;
      const commune = typeof r.commune === 'string' ? r.commune : null;
      return (
        r.level !== 'commune' ||
        commune === null ||
        ctx.equipment === undefined ||
        ctx.equipment.has(commune, spec.equipmentFamilies)
      );
    })
    .map(
      (r) =>
        `${String(r.area_id)}@${String(r.period_start instanceof Date ? iso(r.period_start) : r.period_start)}`,
    );
  if (falseZeros.length)
    failures.push({
      rule: 'status',
      cells: take(falseZeros),
      detail: 'zero rows that are not structural zeros',
    });

  // 2. Suppressed rows and missing rows carry no value; statuses agree with values.
  const leaking = release.rows.filter(
    (r) =>
      (r.status === 'suppressed' || r.status === 'missing') &&
      spec.columns.some((c) => r[c.column] !== null && r[c.column] !== undefined),
  );
  if (leaking.length)
    failures.push({ rule: 'status', detail: `${leaking.length} suppressed or missing rows carry values` });

  // 3. Margins, alone or with the earlier releases of the day, determine no suppressed value.
  const table = suppressionTable(release.cells, release.status, release.groups);
  const previousTables = ctx.previous.map((p) =>
    suppressionTable(p.table.cells, p.table.status, marginGroups(p.table.cells.values(), release.day)),
  );
  const recoverable = findRecoverableCells([...previousTables, table]);
  if (recoverable.length) failures.push({ rule: 'margin-recovery', cells: take(recoverable) });

  // 4. Stability and no re-noising, against every earlier release of the day.
  const unstable: string[] = [];
  const renoised: string[] = [];
  for (const p of ctx.previous) {
    for (const [id, s] of p.table.status) {
      const now = release.status.get(id);
      if (s === 'suppressed' && now !== 'suppressed') unstable.push(id);
      const before = p.table.cells.get(id)!;
      const cell = release.cells.get(id);
      if (
        s === 'noised' &&
        now === 'noised' &&
        cell &&
        before.kind === 'base' &&
        cell.revision === before.revision
      ) {
        for (const f of rules.noise?.fields ?? []) if (cell.values[f] !== before.values[f]) renoised.push(id);
      }
    }
  }
  if (unstable.length) failures.push({ rule: 'stability', cells: take(unstable) });
  if (renoised.length) failures.push({ rule: 're-noised', cells: take(renoised) });

  // 5. Nothing personal: inputs at most S2 (S3/S4 never reach open data), no S3/S4 field, no pseudonym.
  if (sensitivityRank(release.maxInputSensitivity) >= 3)
    failures.push({ rule: 'sensitivity', detail: `input class ${release.maxInputSensitivity}` });
  const columns = release.tableSchema.fields.map((f) => f.name);
  const forbidden = columns.filter(
    (c) => ctx.forbiddenFields.has(c) || [...ctx.forbiddenFields].some((f) => snake(f) === c),
  );
  if (forbidden.length) failures.push({ rule: 'sensitivity', detail: `columns ${forbidden.join(', ')}` });
  const marker = `${ctx.pseudonymPrefix}:`;
  const pseudonyms = release.rows.filter((r) =>
    Object.values(r).some((v) => typeof v === 'string' && v.includes(marker)),
  );
  const inNotes =
    JSON.stringify(release.notes).includes(marker) || JSON.stringify(release.metadata).includes(marker);
  if (pseudonyms.length || inNotes)
    failures.push({
      rule: 'pseudonym',
      detail: `${pseudonyms.length} rows${inNotes ? ' and the notes' : ''}`,
    });

  // 6. Budget.
  if (rules.noise) {
    try {
      ctx.ledger.check(spec.id, release.day, release.epsilon, rules.noise);
    } catch (err) {
      if (!isOnDijonError(err)) throw err;
      failures.push({ rule: 'budget', detail: err.message });
    }
  }

  // 7. Coarsening: bins and publication delay. A Paris day is a day bin even when it lasts 23 or 25 h.
  const rule = effectiveCoarsening(rules.coarsening, rules.personDerived);
  const applied = { ...rule, publishDelayHours: ctx.publishDelayOverrideHours ?? rule.publishDelayHours };
  const early = [...release.cells.values()]
    .filter(
      (c) =>
        c.kind !== 'missing' &&
        coarseningFailures(c.windowStart, c.windowEnd, ctx.now, applied, binMinutes(c)).length > 0,
    )
    .map((c) => c.id);
  if (early.length) failures.push({ rule: 'coarsening', cells: take(early) });

  // 8. Every row inside the declared period, daily rows exactly the period, one row per cell.
  const { start, end } = dayBounds(release.day);
  const outside = [...release.cells.values()]
    .filter(
      (c) =>
        c.windowStart < start ||
        c.windowEnd > end ||
        (c.place.resolution === 'P1D' &&
          (c.windowStart.getTime() !== start.getTime() || c.windowEnd.getTime() !== end.getTime())),
    )
    .map((c) => c.id);
  if (outside.length) failures.push({ rule: 'period', cells: take(outside) });
  const keys = release.rows.map((r) =>
    [
      r.level,
      r.area_id,
      r.resolution,
      r.period_start instanceof Date ? iso(r.period_start) : r.period_start,
    ].join('|'),
  );
  if (new Set(keys).size !== keys.length)
    failures.push({ rule: 'period', detail: `${keys.length - new Set(keys).size} duplicate rows` });
  return failures;
}

/** Nominal length of a cell's bin in minutes: a whole Paris day counts as a day (1 440) on DST days too. */
function binMinutes(c: TableCell): number {
  const { start, end } = dayBounds(parisDay(c.windowStart));
  const wholeDay = c.windowStart.getTime() === start.getTime() && c.windowEnd.getTime() === end.getTime();
  return wholeDay ? 1440 : (c.windowEnd.getTime() - c.windowStart.getTime()) / 60_000;
}

/** The error for a blocked release. */
export function releaseBlocked(datasetId: string, day: string, failures: CheckFailure[]): OnDijonError {
  return new OnDijonError(
    'ONDIJON_RELEASE_BLOCKED',
    `pre-release check failed for ${datasetId} ${day}: ${failures.map((f) => f.rule).join(', ')}`,
    {
      details: { datasetId, day, failures },
    },
  );
}
