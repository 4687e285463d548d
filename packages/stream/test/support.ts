// Shared by the runtime's integration tests (runtime, engine-equivalence): the clock and the lamps of
// their scenarios.
import { lampReport } from '../src/index';

const base = Date.UTC(2025, 0, 15, 10, 0);

/** `min` minutes after the scenarios' start (15 January 2025, 10:00Z), ISO 8601. */
export const at = (min: number) => new Date(base + min * 60_000).toISOString();

/**
 * A report of lamp `id` at minute `min` of `wh` watt-hours. Two groups: commune 21231 (ids ending in 1)
 * and 21166 (the others).
 */
export const lamp = (id: string, seq: number, min: number, wh: number) =>
  lampReport({
    equipmentId: id,
    commune: id.endsWith('1') ? '21231' : '21166',
    seq,
    observedAt: at(min),
    energyWh: wh,
    intervalS: 60,
  });
