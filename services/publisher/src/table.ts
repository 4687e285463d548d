import { createHash } from 'node:crypto';
import type { MarginGroup } from '@ondijon/governance';
import { COMMUNE_CODES } from '@ondijon/contracts';
import { METROPOLE_ID, type CellPlace, type DatasetSpec, type Level } from './datasets';
import type { EquipmentPresence } from './equipment';
import { dayBounds, iso, resolutionMs, type Resolution } from './time';

/** Distinct contributors of a cell (as in aggregates). */
export interface Contributors {
  equipment: number;
  operators: number;
  persons?: number | undefined;
}

/**
 * One cell of a release table: an input aggregate (or, in person-derived data, an expected cell
 * without input, i.e. zero contributors), a synthesised margin, an expected cell without input
 * (`missing`), or a structural zero (the registry lists no equipment of the dataset there).
 */
export interface TableCell {
  /** `level:areaId:resolution:windowStart`: the same in every release of the period. */
  id: string;
  kind: 'base' | 'margin' | 'missing' | 'structural';
  place: CellPlace;
  windowStart: Date;
  windowEnd: Date;
  /** Revision of the input aggregate (base cells); the highest member revision for margins. */
  revision: number | null;
  /** Identity of the value: base `rev`, margins a digest of the base values beneath. */
  revTag: string;
  /** Values by aggregate field (null when not defined for this row). */
  values: Record<string, number | null>;
  /** Fields whose value is noised (or summed from noised values). */
  noisedFields: Set<string>;
  contributors: Contributors;
  dominance: Record<string, { top1: number; top2: number }>;
}

/** Cells computed from contributors (base and margins), which the anonymisation rules apply to. */
export function isComputed(c: Pick<TableCell, 'kind'>): boolean {
  return c.kind === 'base' || c.kind === 'margin';
}

/** The cell id of a place and window. */
export function cellId(place: Pick<CellPlace, 'level' | 'areaId' | 'resolution'>, windowStart: Date): string {
  return `${place.level}:${place.areaId}:${place.resolution}:${iso(windowStart)}`;
}

/** `cellId@revTag`: the variable of a value in the cross-release check. */
export function varKey(c: Pick<TableCell, 'id' | 'revTag'>): string {
  return `${c.id}@${c.revTag}`;
}

/**
 * The linear margins that hold between cells of a table: a commune's cell is the sum of its
 * intersections, the Métropole's the sum of its communes, an hour the sum of its quarters, a day
 * the sum of its hours. Only computed cells take part: missing cells have no value, and structural
 * zeros are public knowledge (zero, from the registry) that no margin needs to protect.
 */
export function marginGroups(
  cells: Iterable<Pick<TableCell, 'id' | 'place' | 'windowStart' | 'kind'>>,
  day: string,
): MarginGroup[] {
  const present = [...cells].filter(isComputed);
  const ids = new Set(present.map((c) => c.id));
  const children = new Map<string, string[]>();
  const dayStart = dayBounds(day).start;
  const link = (parent: string, child: string) => {
    if (!ids.has(parent)) return;
    const list = children.get(parent) ?? [];
    list.push(child);
    children.set(parent, list);
  };
  for (const c of present) {
    const { level, commune, resolution } = c.place;
    // Spatial parent.
    if (level === 'intersection' && commune)
      link(cellId({ level: 'commune', areaId: commune, resolution }, c.windowStart), `s|${c.id}`);
    if (level === 'commune')
      link(cellId({ level: 'metropole', areaId: METROPOLE_ID, resolution }, c.windowStart), `s|${c.id}`);
    // Temporal parent.
    if (resolution === 'PT15M') {
      const hour = new Date(Math.floor(c.windowStart.getTime() / 3_600_000) * 3_600_000);
      link(cellId({ ...c.place, resolution: 'PT1H' }, hour), `t|${c.id}`);
    } else if (resolution === 'PT1H') {
      link(cellId({ ...c.place, resolution: 'P1D' }, dayStart), `t|${c.id}`);
    }
  }
  const groups: MarginGroup[] = [];
  for (const [total, tagged] of [...children].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const axis of ['s', 't']) {
      const members = tagged
        .filter((t) => t.startsWith(`${axis}|`))
        .map((t) => t.slice(2))
        .sort();
      if (members.length > 0) groups.push({ total, members });
    }
  }
  return groups;
}

const digest = (parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);

/**
 * Revision tags of margins: a digest of the base values beneath, so a margin is the "same value" in
 * two releases exactly when every base cell under it has the same revision.
 */
export function assignMarginRevTags(cells: Map<string, TableCell>, groups: readonly MarginGroup[]): void {
  const firstGroup = new Map<string, MarginGroup>();
  for (const g of groups) if (!firstGroup.has(g.total)) firstGroup.set(g.total, g);
  const memo = new Map<string, string[]>();
  const baseBeneath = (id: string): string[] => {
    const hit = memo.get(id);
    if (hit) return hit;
    const c = cells.get(id)!;
    const g = firstGroup.get(id);
    const out = c.kind === 'base' || !g ? [varKey(c)] : g.members.flatMap(baseBeneath);
    memo.set(id, out);
    return out;
  };
  for (const c of cells.values())
    if (c.kind === 'margin') c.revTag = `m${digest([...baseBeneath(c.id)].sort())}`;
}

function sumOrNull(values: (number | null | undefined)[]): number | null {
  let s = 0;
  for (const v of values) {
    if (v === null || v === undefined) return null;
    s += v;
  }
  // Sums of decimal quantities: keep 6 decimals so 0.1 + 0.2 prints as 0.3 in the CSV.
  return Math.round(s * 1e6) / 1e6;
}

function marginCell(
  spec: DatasetSpec,
  place: CellPlace,
  start: Date,
  end: Date,
  members: TableCell[],
  axis: 'spatial' | 'temporal',
): TableCell {
  const values: Record<string, number | null> = {};
  const noisedFields = new Set<string>();
  for (const col of spec.columns) {
    const summed = axis === 'spatial' ? col.spatialSum : col.temporalSum;
    values[col.field] = summed ? sumOrNull(members.map((m) => m.values[col.field])) : null;
    if (summed && members.some((m) => m.noisedFields.has(col.field))) noisedFields.add(col.field);
  }
  // Distinct counts of a union are unknown: the largest member is a lower bound (so a threshold on it
  // errs towards suppression), except equipment across places, which never overlaps.
  const max = (f: (c: Contributors) => number | undefined) =>
    members.reduce((m, c) => Math.max(m, f(c.contributors) ?? 0), 0);
  const persons = members.every((m) => m.contributors.persons !== undefined)
    ? max((c) => c.persons)
    : undefined;
  const contributors: Contributors = {
    equipment:
      axis === 'spatial'
        ? members.reduce((s, c) => s + c.contributors.equipment, 0)
        : max((c) => c.equipment),
    operators: max((c) => c.operators),
    ...(persons === undefined ? {} : { persons }),
  };
  // A contributor may appear in several members: the sum of their top shares bounds its share of the total.
  const dominance: Record<string, { top1: number; top2: number }> = {};
  for (const field of new Set(members.flatMap((m) => Object.keys(m.dominance)))) {
    dominance[field] = {
      top1: members.reduce((s, m) => s + (m.dominance[field]?.top1 ?? m.values[field] ?? 0), 0),
      top2: members.reduce((s, m) => s + (m.dominance[field]?.top2 ?? 0), 0),
    };
  }
  return {
    id: cellId(place, start),
    kind: 'margin',
    place,
    windowStart: start,
    windowEnd: end,
    revision: members.reduce((m, c) => Math.max(m, c.revision ?? 0), 0),
    revTag: '',
    values,
    noisedFields,
    contributors,
    dominance,
  };
}

/**
 * Adds the published margins to the base cells of a period: a day total per commune (and per
 * Métropole) from hourly cells, and a Métropole total per time bin from commune cells.
 */
export function synthesiseMargins(spec: DatasetSpec, day: string, base: TableCell[]): TableCell[] {
  const { start: dayStart, end: dayEnd } = dayBounds(day);
  const out: TableCell[] = [];
  const byKey = <K>(cells: TableCell[], key: (c: TableCell) => K) => {
    const m = new Map<K, TableCell[]>();
    for (const c of cells) {
      const list = m.get(key(c)) ?? [];
      list.push(c);
      m.set(key(c), list);
    }
    return m;
  };
  const has = new Set(base.map((c) => c.id));
  // Commune day totals from commune hours (unless the input already has day cells).
  const communeHours = base.filter((c) => c.place.level === 'commune' && c.place.resolution === 'PT1H');
  for (const [area, members] of byKey(communeHours, (c) => c.place.areaId)) {
    const place: CellPlace = { level: 'commune', areaId: area, commune: area, resolution: 'P1D' };
    if (!has.has(cellId(place, dayStart)))
      out.push(marginCell(spec, place, dayStart, dayEnd, members, 'temporal'));
  }
  // Métropole totals per resolution and bin, from commune cells (input and day totals).
  const communeCells = [...base, ...out].filter((c) => c.place.level === 'commune');
  for (const [, members] of byKey(communeCells, (c) => `${c.place.resolution}|${c.windowStart.getTime()}`)) {
    const first = members[0]!;
    const place: CellPlace = {
      level: 'metropole',
      areaId: METROPOLE_ID,
      commune: null,
      resolution: first.place.resolution,
    };
    out.push(marginCell(spec, place, first.windowStart, first.windowEnd, members, 'spatial'));
  }
  return out;
}

/**
 * Expected cells without input: every commune (or every place seen) in every bin of the day. A
 * commune where `equipment` lists none of the dataset's families is a structural zero (its summed
 * columns 0, the others empty); without `equipment` none is (fail closed: `missing`).
 */
export function missingCells(
  spec: DatasetSpec,
  day: string,
  present: TableCell[],
  equipment?: EquipmentPresence,
): TableCell[] {
  const { start, end } = dayBounds(day);
  const have = new Set(present.map((c) => c.id));
  const places = new Map<string, CellPlace>();
  if (spec.expectedCommunes) {
    for (const r of spec.baseResolutions)
      for (const insee of COMMUNE_CODES)
        places.set(`commune:${insee}:${r}`, {
          level: 'commune',
          areaId: insee,
          commune: insee,
          resolution: r,
        });
  }
  for (const c of present)
    if (c.kind === 'base') places.set(`${c.place.level}:${c.place.areaId}:${c.place.resolution}`, c.place);
  const out: TableCell[] = [];
  for (const place of places.values()) {
    const step =
      place.resolution === 'P1D' ? end.getTime() - start.getTime() : resolutionMs(place.resolution);
    for (let t = start.getTime(); t < end.getTime(); t += step) {
      const ws = new Date(t);
      const id = cellId(place, ws);
      if (have.has(id)) continue;
      const structural =
        equipment !== undefined &&
        place.level === 'commune' &&
        place.commune !== null &&
        !equipment.has(place.commune, spec.equipmentFamilies);
      out.push({
        id,
        kind: structural ? 'structural' : 'missing',
        place,
        windowStart: ws,
        windowEnd: new Date(Math.min(t + step, end.getTime())),
        revision: null,
        revTag: '',
        values: structural ? zeroValues(spec) : {},
        noisedFields: new Set(),
        contributors: { equipment: 0, operators: 0 },
        dominance: {},
      });
    }
  }
  return out;
}

/** The values of a cell with nothing in it: counts and sums 0, means and other nullable columns empty. */
export function zeroValues(spec: DatasetSpec): Record<string, number | null> {
  return Object.fromEntries(spec.columns.map((c) => [c.field, c.nullable ? null : 0]));
}

/** Order of rows in a release: by time, then resolution, level and area. */
export function compareCells(a: TableCell, b: TableCell): number {
  const levelRank: Record<Level, number> = { intersection: 0, commune: 1, metropole: 2 };
  const resRank: Record<Resolution, number> = { PT15M: 0, PT1H: 1, P1D: 2 };
  return (
    resRank[a.place.resolution] - resRank[b.place.resolution] ||
    a.windowStart.getTime() - b.windowStart.getTime() ||
    levelRank[a.place.level] - levelRank[b.place.level] ||
    (a.place.areaId < b.place.areaId ? -1 : a.place.areaId > b.place.areaId ? 1 : 0)
  );
}
