/**
 * Secondary (complementary) suppression over tables with published margins.
 *
 * A table is a set of cells and linear margin constraints `total = Σ members` (a commune-day total
 * is the sum of the commune's hours; the Métropole total is the sum of the communes). A suppressed
 * cell is protected when no combination of the published cells and constraints determines it
 * exactly. That is checked with linear algebra: with the suppressed values as unknowns, unknown x_i
 * is determined iff the unit vector e_i lies in the row space of the constraint matrix, i.e. after
 * reduction to row echelon form, some row has x_i as its only non-zero entry.
 *
 * Several releases of the same period are checked together (differencing): each cell's value is a
 * variable named by `varKey` (cell + input revision), shared by every release that carries the same
 * revision, so an unchanged cell published in one release and suppressed in another is known.
 */

/** One cell of a table. */
export interface SuppressionCell {
  /** Stable identity of the cell within its period (e.g. `21231|2026-01-10T07:00:00Z`). */
  id: string;
  /** Identity of its value: the cell and the revision of its input (defaults to `id`). */
  varKey?: string;
  /** Cost of suppressing it as a complement (its magnitude): the smallest are chosen first. */
  weight: number;
  /** False for cells that may not serve as complements (none yet; kept for callers' rules). */
  eligible?: boolean;
}

/** A published margin: `total = Σ members` holds for every additive field. */
export interface MarginGroup {
  total: string;
  members: readonly string[];
}

/** A released (or candidate) table: its cells, its margins, and which cells are suppressed. */
export interface SuppressionTable {
  cells: readonly SuppressionCell[];
  groups: readonly MarginGroup[];
  suppressed: ReadonlySet<string>;
}

const EPS = 1e-9;

function varKeyOf(c: SuppressionCell): string {
  return c.varKey ?? c.id;
}

/** The variable keys whose value some table publishes. */
function knownVars(tables: readonly SuppressionTable[]): Set<string> {
  const known = new Set<string>();
  for (const t of tables) for (const c of t.cells) if (!t.suppressed.has(c.id)) known.add(varKeyOf(c));
  return known;
}

/**
 * The unknown variables (suppressed values, by `varKey`) that the published cells and margins of
 * `tables`, taken together, determine exactly. Empty means every suppressed value is protected.
 */
export function findRecoverableCells(tables: readonly SuppressionTable[]): string[] {
  const known = knownVars(tables);
  const column = new Map<string, number>();
  const rows: Map<number, number>[] = [];
  for (const t of tables) {
    const byId = new Map(t.cells.map((c) => [c.id, varKeyOf(c)]));
    for (const g of t.groups) {
      const row = new Map<number, number>();
      const add = (id: string, coef: number) => {
        const v = byId.get(id);
        if (v === undefined || known.has(v)) return; // absent cells contribute nothing; known ones move to the constant side
        let col = column.get(v);
        if (col === undefined) {
          col = column.size;
          column.set(v, col);
        }
        const next = (row.get(col) ?? 0) + coef;
        if (Math.abs(next) < EPS) row.delete(col);
        else row.set(col, next);
      };
      add(g.total, -1);
      for (const m of g.members) add(m, 1);
      if (row.size > 0) rows.push(row);
    }
  }
  // Unknowns that appear in no constraint are never determined.
  const reduced = rowEchelon(rows);
  const names = [...column.keys()];
  const determined = new Set<string>();
  for (const row of reduced) if (row.size === 1) determined.add(names[[...row.keys()][0]!]!);
  return [...determined].sort();
}

/** Reduced row echelon form over sparse rows (Gauss–Jordan with partial pivoting). */
function rowEchelon(input: Map<number, number>[]): Map<number, number>[] {
  const rows = input.map((r) => new Map(r));
  const pivotRows: Map<number, number>[] = [];
  // Columns in order of first appearance; each pivot eliminates its column from every other row.
  const columns = new Set<number>();
  for (const r of rows) for (const c of r.keys()) columns.add(c);
  let remaining = rows;
  for (const col of [...columns].sort((a, b) => a - b)) {
    let best = -1;
    let bestAbs = EPS;
    for (let i = 0; i < remaining.length; i++) {
      const a = Math.abs(remaining[i]!.get(col) ?? 0);
      if (a > bestAbs) {
        bestAbs = a;
        best = i;
      }
    }
    if (best < 0) continue;
    const pivot = remaining[best]!;
    remaining = remaining.filter((_, i) => i !== best);
    const scale = pivot.get(col)!;
    for (const [c, v] of pivot) pivot.set(c, v / scale);
    for (const other of [...remaining, ...pivotRows]) {
      const f = other.get(col);
      if (f === undefined) continue;
      for (const [c, v] of pivot) {
        const next = (other.get(c) ?? 0) - f * v;
        if (Math.abs(next) < EPS) other.delete(c);
        else other.set(c, next);
      }
    }
    pivotRows.push(pivot);
  }
  return pivotRows;
}

/** Input of `secondarySuppression`. */
export interface SecondarySuppressionInput {
  cells: readonly SuppressionCell[];
  groups: readonly MarginGroup[];
  /** Cells failing a primary rule (threshold, dominance). */
  primary: Iterable<string>;
  /** Cells suppressed in an earlier release of the same period: they stay suppressed (stability). */
  stable?: Iterable<string>;
  /** Earlier releases of the same period, checked together with this one (differencing). */
  previous?: readonly SuppressionTable[];
}

/** Result of `secondarySuppression`. */
export interface SecondarySuppressionResult {
  /** Every suppressed cell id: primary ∪ stable ∪ secondary. */
  suppressed: Set<string>;
  /** Cells suppressed only to protect others, in the order chosen. */
  secondary: string[];
  /** Variables still recoverable (empty on success; else the release must be blocked). */
  unprotected: string[];
}

/**
 * Chooses complementary suppressions so no suppressed cell is recoverable from the margins, in this
 * release or together with the earlier releases of its period. Deterministic: in each margin group
 * with a single unknown, the smallest positive cell (then the smallest, then by id) is added, so the
 * same input always gives the same pattern; cells suppressed before stay suppressed, so a later
 * release never uncovers a complement (hypercube-lite: greedy per margin, then an exact check that
 * adds more complements until no value is determined).
 */
export function secondarySuppression(input: SecondarySuppressionInput): SecondarySuppressionResult {
  const previous = input.previous ?? [];
  const ids = new Set(input.cells.map((c) => c.id));
  const byId = new Map(input.cells.map((c) => [c.id, c]));
  const suppressed = new Set<string>();
  for (const id of input.primary) if (ids.has(id)) suppressed.add(id);
  for (const id of input.stable ?? []) if (ids.has(id)) suppressed.add(id);
  const secondary: string[] = [];
  // Values the earlier releases published are known: suppressing them now protects nothing.
  const knownBefore = knownVars(previous);
  const isUnknown = (id: string) => suppressed.has(id) && !knownBefore.has(varKeyOf(byId.get(id)!));
  const candidates = (g: MarginGroup) =>
    [g.total, ...g.members]
      .filter(
        (id) =>
          ids.has(id) &&
          !suppressed.has(id) &&
          byId.get(id)!.eligible !== false &&
          !knownBefore.has(varKeyOf(byId.get(id)!)),
      )
      .map((id) => byId.get(id)!)
      .sort(
        (a, b) =>
          Number(b.weight > 0) - Number(a.weight > 0) ||
          a.weight - b.weight ||
          (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
  const groupsOf = new Map<string, MarginGroup[]>();
  for (const g of input.groups) {
    for (const id of [g.total, ...g.members]) {
      const list = groupsOf.get(id) ?? [];
      list.push(g);
      groupsOf.set(id, list);
    }
  }
  const addComplement = (g: MarginGroup): boolean => {
    const pick = candidates(g)[0];
    if (!pick) return false;
    suppressed.add(pick.id);
    secondary.push(pick.id);
    return true;
  };

  const table = (): SuppressionTable => ({ cells: input.cells, groups: input.groups, suppressed });
  const keyToId = new Map(input.cells.map((c) => [varKeyOf(c), c.id]));
  for (;;) {
    // Greedy pass: no margin may have exactly one unknown entry.
    let changed = true;
    while (changed) {
      changed = false;
      for (const g of input.groups) {
        const unknown = [g.total, ...g.members].filter((id) => ids.has(id) && isUnknown(id));
        if (unknown.length === 1 && addComplement(g)) changed = true;
      }
    }
    // Exact pass: a chain of margins can still pin a value down (e.g. a bridge between two cycles).
    const recoverable = findRecoverableCells([...previous, table()]);
    if (recoverable.length === 0) return { suppressed, secondary, unprotected: [] };
    let added = false;
    for (const v of recoverable) {
      const id = keyToId.get(v);
      if (id === undefined) continue; // a variable of an earlier release only: cannot be fixed here
      for (const g of groupsOf.get(id) ?? []) {
        if (addComplement(g)) {
          added = true;
          break;
        }
      }
    }
    if (!added) return { suppressed, secondary, unprotected: recoverable };
  }
}
