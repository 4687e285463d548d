import { describe, expect, it } from 'vitest';
import {
  findRecoverableCells,
  type MarginGroup,
  secondarySuppression,
  seededRng,
  type SuppressionCell,
  type SuppressionTable,
} from '../../src/anonymisation/index';

/**
 * A commune × hour table with its published margins: commune-day totals, Métropole-hour totals and
 * the Métropole-day total (the shape of lighting-commune-hour). Values are integers.
 */
function table(communes: number, hours: number, value: (c: number, h: number) => number) {
  const values = new Map<string, number>();
  const groups: MarginGroup[] = [];
  const cell = (c: string, h: string) => `${c}|${h}`;
  for (let c = 0; c < communes; c++)
    for (let h = 0; h < hours; h++) values.set(cell(`c${c}`, `h${h}`), value(c, h));
  for (let c = 0; c < communes; c++) {
    const members = Array.from({ length: hours }, (_, h) => cell(`c${c}`, `h${h}`));
    values.set(
      cell(`c${c}`, 'day'),
      members.reduce((s, m) => s + values.get(m)!, 0),
    );
    groups.push({ total: cell(`c${c}`, 'day'), members });
  }
  for (let h = 0; h < hours; h++) {
    const members = Array.from({ length: communes }, (_, c) => cell(`c${c}`, `h${h}`));
    values.set(
      cell('metro', `h${h}`),
      members.reduce((s, m) => s + values.get(m)!, 0),
    );
    groups.push({ total: cell('metro', `h${h}`), members });
  }
  const dayMembers = Array.from({ length: communes }, (_, c) => cell(`c${c}`, 'day'));
  values.set(
    cell('metro', 'day'),
    dayMembers.reduce((s, m) => s + values.get(m)!, 0),
  );
  groups.push({ total: cell('metro', 'day'), members: dayMembers });
  groups.push({
    total: cell('metro', 'day'),
    members: Array.from({ length: hours }, (_, h) => cell('metro', `h${h}`)),
  });
  return { values, groups };
}

function cellsOf(values: Map<string, number>, revision: (id: string) => number = () => 0): SuppressionCell[] {
  return [...values].map(([id, v]) => ({ id, varKey: `${id}@${revision(id)}`, weight: v }));
}

/**
 * The attacker of the issue: for any published margin with one unknown entry, subtract the published
 * cells from the published total. Repeats until nothing new is learnt, across every release given
 * (a value published in one release with the same revision is known in all). Returns recovered values.
 */
function peelingAttack(
  releases: {
    cells: SuppressionCell[];
    values: Map<string, number>;
    groups: readonly MarginGroup[];
    suppressed: ReadonlySet<string>;
  }[],
): Map<string, number> {
  const known = new Map<string, number>();
  for (const r of releases)
    for (const c of r.cells) if (!r.suppressed.has(c.id)) known.set(c.varKey!, r.values.get(c.id)!);
  const recovered = new Map<string, number>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const r of releases) {
      const vk = new Map(r.cells.map((c) => [c.id, c.varKey!]));
      for (const g of r.groups) {
        const entries = [g.total, ...g.members];
        const unknown = entries.filter((id) => !known.has(vk.get(id)!));
        if (unknown.length !== 1) continue;
        const target = unknown[0]!;
        const sumMembers = g.members
          .filter((m) => m !== target)
          .reduce((s, m) => s + known.get(vk.get(m)!)!, 0);
        const value = target === g.total ? sumMembers : known.get(vk.get(g.total)!)! - sumMembers;
        known.set(vk.get(target)!, value);
        recovered.set(vk.get(target)!, value);
        progress = true;
      }
    }
  }
  return recovered;
}

/**
 * An independent exact check (rational arithmetic, rank test): unknown x_i is determined iff removing
 * its column lowers the rank of the constraint matrix over the unknowns.
 */
function determinedByRank(tables: SuppressionTable[]): string[] {
  const known = new Set<string>();
  for (const t of tables) for (const c of t.cells) if (!t.suppressed.has(c.id)) known.add(c.varKey ?? c.id);
  const unknowns = [
    ...new Set(
      tables.flatMap((t) => t.cells.filter((c) => t.suppressed.has(c.id)).map((c) => c.varKey ?? c.id)),
    ),
  ].filter((v) => !known.has(v));
  const matrix: bigint[][] = [];
  for (const t of tables) {
    const vk = new Map(t.cells.map((c) => [c.id, c.varKey ?? c.id]));
    for (const g of t.groups) {
      const row = unknowns.map(() => 0n);
      const add = (id: string, s: bigint) => {
        const i = unknowns.indexOf(vk.get(id)!);
        if (i >= 0) row[i]! += s;
      };
      add(g.total, -1n);
      for (const m of g.members) add(m, 1n);
      if (row.some((x) => x !== 0n)) matrix.push(row);
    }
  }
  const rank = (rows: bigint[][]): number => {
    const m = rows.map((r) => [...r]);
    let r = 0;
    const cols = m[0]?.length ?? 0;
    for (let c = 0; c < cols && r < m.length; c++) {
      const p = m.findIndex((row, i) => i >= r && row[c] !== 0n);
      if (p < 0) continue;
      [m[r], m[p]] = [m[p]!, m[r]!];
      for (let i = 0; i < m.length; i++) {
        if (i === r || m[i]![c] === 0n) continue;
        const a = m[r]![c]!;
        const b = m[i]![c]!;
        m[i] = m[i]!.map((x, j) => x * a - m[r]![j]! * b); // integer elimination, exact
      }
      r++;
    }
    return r;
  };
  const full = rank(matrix);
  return unknowns.filter((_, i) => rank(matrix.map((row) => row.filter((__, j) => j !== i))) < full).sort();
}

describe('secondary suppression', () => {
  const rng = seededRng('table');
  const { values, groups } = table(6, 5, () => 1 + Math.floor(rng.next() * 50));
  const cells = cellsOf(values);

  it('the attack works on primary suppression alone (so the test below can fail)', () => {
    const suppressed = new Set(['c2|h3']);
    expect(peelingAttack([{ cells, values, groups, suppressed }]).get('c2|h3@0')).toBe(values.get('c2|h3'));
    expect(findRecoverableCells([{ cells, groups, suppressed }])).toEqual(['c2|h3@0']);
  });

  it('defeats recovery of a suppressed cell from row, column and grand totals', () => {
    const result = secondarySuppression({ cells, groups, primary: ['c2|h3'] });
    expect(result.unprotected).toEqual([]);
    expect(result.suppressed.has('c2|h3')).toBe(true);
    expect(result.secondary.length).toBeGreaterThanOrEqual(3); // a rectangle: one in its row, one in its column, one opposite
    const release = { cells, values, groups, suppressed: result.suppressed };
    expect(peelingAttack([release]).size).toBe(0);
    expect(determinedByRank([release])).toEqual([]);
  });

  it('protects a suppressed total (all its members published) and several primaries', () => {
    const result = secondarySuppression({ cells, groups, primary: ['metro|h1', 'c0|h0', 'c0|h4', 'c5|day'] });
    const release = { cells, values, groups, suppressed: result.suppressed };
    expect(result.unprotected).toEqual([]);
    expect(peelingAttack([release]).size).toBe(0);
    expect(determinedByRank([release])).toEqual([]);
  });

  it('agrees with the independent rank check on random patterns', () => {
    const r = seededRng('patterns');
    for (let trial = 0; trial < 30; trial++) {
      const suppressed = new Set([...values.keys()].filter(() => r.next() < 0.15));
      const t = { cells, groups, suppressed };
      expect(findRecoverableCells([t])).toEqual(determinedByRank([t]));
    }
  });

  it('is deterministic: the same input gives the same pattern', () => {
    const a = secondarySuppression({ cells, groups, primary: ['c1|h1', 'c4|h2'] });
    const b = secondarySuppression({ cells: [...cells].reverse(), groups, primary: ['c4|h2', 'c1|h1'] });
    expect([...a.suppressed].sort()).toEqual([...b.suppressed].sort());
  });

  it('prefers the smallest positive complement', () => {
    const { values: v, groups: g } = table(3, 3, (c, h) =>
      c === 0 && h === 1 ? 0 : c === 0 && h === 2 ? 2 : 10 + c + h,
    );
    const result = secondarySuppression({ cells: cellsOf(v), groups: g, primary: ['c0|h0'] });
    expect(result.secondary[0]).toBe('c0|h2');
  });
});

describe('stability across releases (differencing)', () => {
  const rng = seededRng('releases');
  const base = table(5, 4, () => 5 + Math.floor(rng.next() * 40));
  const cells1 = cellsOf(base.values);
  const v1 = secondarySuppression({ cells: cells1, groups: base.groups, primary: ['c1|h1'] });
  const release1 = { cells: cells1, values: base.values, groups: base.groups, suppressed: v1.suppressed };

  // Late data revises the complement chosen in v1 in row c1 (so it is no longer the smallest) and
  // another cell: a release recomputed from scratch would choose another complement.
  const firstRowComplement = v1.secondary.find((id) => id.startsWith('c1|'))!;
  const revised = new Set([firstRowComplement, 'c3|h0']);
  const late = table(5, 4, (c, h) => {
    const id = `c${c}|h${h}`;
    return base.values.get(id)! + (revised.has(id) ? 100 : 0);
  });
  // Margins containing a revised member change value too: they are new variables (revision 1).
  const marginRevision = (id: string): number => {
    const g = late.groups.filter((x) => x.total === id);
    if (g.length === 0) return revised.has(id) ? 1 : 0;
    return g.some((x) => x.members.some((m) => marginRevision(m) === 1)) ? 1 : 0;
  };
  const cells2 = cellsOf(late.values, marginRevision);

  it('a release recomputed without memory lets the diff with the previous release reveal the cell', () => {
    const fresh = secondarySuppression({ cells: cells2, groups: late.groups, primary: ['c1|h1'] });
    const release2 = {
      cells: cells2,
      values: late.values,
      groups: late.groups,
      suppressed: fresh.suppressed,
    };
    const recovered = peelingAttack([release1, release2]);
    expect(recovered.get('c1|h1@0')).toBe(base.values.get('c1|h1'));
  });

  it('with the suppression memory, cells suppressed once stay suppressed and the diff reveals nothing', () => {
    const previous = [{ cells: cells1, groups: base.groups, suppressed: v1.suppressed }];
    const v2 = secondarySuppression({
      cells: cells2,
      groups: late.groups,
      primary: ['c1|h1'],
      stable: v1.suppressed,
      previous,
    });
    expect(v2.unprotected).toEqual([]);
    for (const id of v1.suppressed) expect(v2.suppressed.has(id)).toBe(true);
    const release2 = { cells: cells2, values: late.values, groups: late.groups, suppressed: v2.suppressed };
    expect(peelingAttack([release1, release2]).size).toBe(0);
    expect(determinedByRank([release1, release2])).toEqual([]);
    expect(findRecoverableCells([release1, release2])).toEqual([]);
  });
});
