/** The two largest single-contributor amounts of a summed field (the `dominance` of an aggregate record). */
export interface TopContributions {
  top1: number;
  top2: number;
}

/** (n, k) dominance rule: a cell is sensitive when its n largest contributors exceed k of the total. */
export interface DominanceRule {
  n: 1 | 2;
  k: number;
  fields: readonly string[];
}

/**
 * True when the n largest contributions exceed k × total. A zero total has nothing to reveal. A
 * contribution share above the total (inconsistent input) counts as dominant: fail closed.
 */
export function isDominated(total: number, top: TopContributions, n: 1 | 2, k: number): boolean {
  if (!(total > 0)) return false;
  const largest = n === 1 ? top.top1 : top.top1 + top.top2;
  return largest > k * total;
}

/**
 * The fields of a cell that fail the dominance rule. A rule field whose value is positive but whose
 * top contributions are missing fails too: without them the rule cannot be shown to hold.
 */
export function dominatedFields(
  values: Readonly<Record<string, unknown>>,
  dominance: Readonly<Record<string, TopContributions>> | undefined,
  rule: DominanceRule | undefined,
): string[] {
  if (!rule) return [];
  const failing: string[] = [];
  for (const field of rule.fields) {
    const total = values[field];
    if (typeof total !== 'number' || !(total > 0)) continue;
    const top = dominance?.[field];
    if (!top || isDominated(total, top, rule.n, rule.k)) failing.push(field);
  }
  return failing;
}
