import { COMMUNES, type GeoPoint } from '@ondijon/contracts';
import type { DominanceInputs } from '@ondijon/stream';

// Helpers shared by the built-in processors: pure functions, no clients.

/** Time zone of daily windows: the Métropole's days, which the publisher's release periods follow. */
export const TIME_ZONE = 'Europe/Paris';

/** Rounds to 6 decimals: sums of floats then do not depend on the order records were folded in. */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * Intersection of a signal controller or detector, from the registry's naming convention
 * (`SC-<insee>-<k>` and `TD-<insee>-<k>-<d>` belong to `INT-<insee>-<k>`); other ids stand for
 * their own intersection. A join with `ref.s0.equipment.v1` would remove the convention.
 */
export function intersectionOf(equipmentId: string): string {
  const m = /^(?:SC|TD)-(\d{5})-(\d{3})(?:-\d+)?$/.exec(equipmentId);
  return m ? `INT-${m[1]}-${m[2]}` : equipmentId;
}

/** INSEE code of the commune whose centre is nearest to `p` (equirectangular distance, fine at this scale). */
export function nearestCommune(p: GeoPoint): string {
  const cosLat = Math.cos((p.lat * Math.PI) / 180);
  let best: string = COMMUNES[0].insee;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of COMMUNES) {
    const dx = (c.lon - p.lon) * cosLat;
    const dy = c.lat - p.lat;
    const d = dx * dx + dy * dy;
    if (d < bestD) {
      bestD = d;
      best = c.insee;
    }
  }
  return best;
}

/** Adds `x` to `map[key]`. */
export function addTo(map: Record<string, number>, key: string, x: number): void {
  map[key] = (map[key] ?? 0) + x;
}

/** Top-1 and top-2 contributor shares of a sum (0 when the total is 0). */
export function topShares(byContributor: Record<string, number>): { top1: number; top2: number } {
  const values = Object.values(byContributor).sort((a, b) => b - a);
  const total = values.reduce((a, b) => a + b, 0);
  if (total <= 0) return { top1: 0, top2: 0 };
  return { top1: round6((values[0] ?? 0) / total), top2: round6((values[1] ?? 0) / total) };
}

/** Dominance inputs of several summed values, each given per contributor. */
export function dominanceOf(sums: Record<string, Record<string, number>>): DominanceInputs {
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, topShares(v)]));
}
