import { communeName } from '@ondijon/contracts';
import {
  CELL_STATUSES,
  CELL_STATUS_MEANINGS,
  type Row,
  type RowInput,
  type TableSchema,
} from '@ondijon/opendata';
import { METROPOLE_ID, type CellPlace, type DatasetSpec, type Level } from './datasets';
import { assignMarginRevTags, cellId, marginGroups, type TableCell } from './table';
import type { Resolution } from './time';

/** Status of a released row (the store's status column). */
export type RowStatus = 'value' | 'suppressed' | 'noised' | 'missing' | 'zero';

/**
 * Value columns the status column describes: present in every value row, whatever its level. A
 * column that margins leave empty (a mean, a count of reporting devices over a day) is not one.
 */
export function valueColumns(spec: DatasetSpec): string[] {
  const dailyOnly = spec.baseResolutions.every((r) => r === 'P1D');
  return spec.columns
    .filter((c) => !c.nullable && c.spatialSum && (c.temporalSum || dailyOnly))
    .map((c) => c.column);
}

/** The Table Schema of a dataset's releases. */
export function tableSchemaOf(spec: DatasetSpec): TableSchema {
  return {
    fields: [
      { name: 'period_start', type: 'datetime', title: 'Début de période', constraints: { required: true } },
      { name: 'period_end', type: 'datetime', title: 'Fin de période', constraints: { required: true } },
      {
        name: 'resolution',
        type: 'string',
        title: 'Résolution (durée ISO 8601)',
        constraints: { required: true, enum: ['PT15M', 'PT1H', 'P1D'] },
      },
      {
        name: 'level',
        type: 'string',
        title: 'Niveau géographique',
        constraints: { required: true, enum: ['intersection', 'commune', 'metropole'] },
      },
      {
        name: 'area_id',
        type: 'string',
        title: 'Identifiant du carrefour, code INSEE de la commune, ou SIREN de la Métropole',
        constraints: { required: true },
      },
      { name: 'commune', type: 'string', title: 'Code INSEE de la commune (vide pour la Métropole)' },
      { name: 'commune_name', type: 'string', title: 'Commune' },
      {
        name: 'is_total',
        type: 'boolean',
        title: 'Ligne de total (à ne pas additionner aux autres lignes)',
        constraints: { required: true },
      },
      ...spec.columns.map((c) => ({
        name: c.column,
        type: c.type,
        title: c.title,
        ...(c.unit ? { unit: c.unit } : {}),
        constraints: { minimum: c.field.startsWith('surfaceTemp') ? -80 : 0 },
      })),
      {
        name: 'revision',
        type: 'integer',
        title: "Révision de l'agrégat source (données tardives)",
        constraints: { minimum: 0 },
      },
      {
        name: 'status',
        type: 'string',
        title: 'Statut de la valeur / value status',
        description: statusDescription(spec),
        constraints: { required: true, enum: [...CELL_STATUSES] },
      },
    ],
    primaryKey: ['level', 'area_id', 'resolution', 'period_start'],
    missingValues: [''],
  };
}

/** What each status means in this dataset's rows (the Table Schema's `status` description). */
export function statusDescription(spec: DatasetSpec): string {
  const columns = valueColumns(spec).join(', ');
  return [
    ...CELL_STATUSES.map((s) => `${s}: ${CELL_STATUS_MEANINGS[s].en}`),
    `Value columns the status describes: ${columns}.`,
    `Equipment of this dataset (for structural zeros): ${spec.equipmentFamilies.join(', ')}.`,
  ].join(' ');
}

/** Renders a cell as a row; suppressed and missing rows carry no value at all. */
export function rowOf(spec: DatasetSpec, cell: TableCell, status: RowStatus): RowInput {
  const row: RowInput = {
    period_start: cell.windowStart,
    period_end: cell.windowEnd,
    resolution: cell.place.resolution,
    level: cell.place.level,
    area_id: cell.place.areaId,
    commune: cell.place.commune,
    commune_name:
      cell.place.level === 'metropole' ? 'Dijon Métropole' : (communeName(cell.place.commune ?? '') ?? null),
    is_total: cell.kind === 'margin',
  };
  for (const c of spec.columns)
    row[c.column] = status === 'suppressed' || status === 'missing' ? null : (cell.values[c.field] ?? null);
  row.revision = cell.kind === 'missing' ? null : cell.revision;
  row.status = status;
  return row;
}

/**
 * The status of a cell that is not suppressed. Only a structural zero is `zero`: a cell computed
 * from contributors is a `value` (or `noised`) whatever its value, zero included, because it went
 * through the same rules as any other.
 */
export function presentStatus(cell: TableCell): RowStatus {
  if (cell.kind === 'missing') return 'missing';
  if (cell.kind === 'structural') return 'zero';
  return cell.noisedFields.size > 0 ? 'noised' : 'value';
}

/** A released table read back: cells (values as published; suppressed ones empty) and statuses. */
export interface PublishedTable {
  cells: Map<string, TableCell>;
  status: Map<string, RowStatus>;
}

/** Rebuilds the cells of a published release from its rows (for stability, noise reuse and differencing). */
export function tableFromRows(spec: DatasetSpec, day: string, rows: readonly Row[]): PublishedTable {
  const cells = new Map<string, TableCell>();
  const status = new Map<string, RowStatus>();
  for (const r of rows) {
    const place: CellPlace = {
      level: r.level as Level,
      areaId: String(r.area_id),
      commune: r.commune === null ? (r.level === 'metropole' ? null : String(r.area_id)) : String(r.commune),
      resolution: r.resolution as Resolution,
    };
    if (place.level === 'metropole') place.areaId = METROPOLE_ID;
    const start = new Date(String(r.period_start));
    const s = r.status as RowStatus;
    const values: Record<string, number | null> = {};
    for (const c of spec.columns)
      values[c.field] = typeof r[c.column] === 'number' ? (r[c.column] as number) : null;
    const cell: TableCell = {
      id: cellId(place, start),
      kind:
        s === 'missing' ? 'missing' : s === 'zero' ? 'structural' : r.is_total === true ? 'margin' : 'base',
      place,
      windowStart: start,
      windowEnd: new Date(String(r.period_end)),
      revision: typeof r.revision === 'number' ? r.revision : null,
      revTag: typeof r.revision === 'number' ? `r${r.revision}` : '',
      values,
      noisedFields: new Set(),
      contributors: { equipment: 0, operators: 0 },
      dominance: {},
    };
    cells.set(cell.id, cell);
    status.set(cell.id, s);
  }
  assignMarginRevTags(cells, marginGroups(cells.values(), day));
  return { cells, status };
}
