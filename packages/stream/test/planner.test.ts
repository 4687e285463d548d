import { describe, expect, it } from 'vitest';
import type { AnyWindowedAggregation } from '../src/define';
import type { RawRecord, WindowState } from '../src/engine';
import { energyProcessor, lampReport, telemetryOf } from '../src/index';
import { decodeItems, planChunk, type WindowView } from '../src/planner';

// planChunk with owned states (the Redis runtime's mode, runtime/windowed-apply.ts): records are folded
// into the states `view` returns, without a copy; a processor that throws spoils the plan, and planning
// again from fresh states without the failed records gives what a copying plan gives.

const at = (min: number) => new Date(Date.UTC(2025, 0, 15, 10, 0) + min * 60_000).toISOString();

// The stream runtime's energy processor (1 h windows per commune), made to throw on a report of 13 Wh.
const energy = energyProcessor('test-owned', 'revise', 60_000);
const def = {
  ...energy,
  add: (acc, r, group) => {
    if (telemetryOf(r.value, 'streetlight')?.energyWh === 13) throw new Error('unlucky energy');
    return energy.add(acc, r, group);
  },
} satisfies typeof energy as unknown as AnyWindowedAggregation;

function raws(energies: number[]): RawRecord[] {
  return energies.map((energyWh, i) => ({
    topic: 'tel.s1.lighting.v1',
    key: `SL-${i}`,
    value: JSON.stringify(
      lampReport({
        equipmentId: `SL-${i}`,
        commune: i % 2 ? '21231' : '21166',
        seq: i,
        observedAt: at(i),
        energyWh,
        intervalS: 600,
      }),
    ),
    partition: 0,
    offset: String(100 + i),
  }));
}

/** Stored windows after a first chunk, as the runtime caches them. */
function storedAfter(energies: number[]): Map<string, WindowView> {
  const { items } = decodeItems(def, 'tel.s1.lighting.v1:0', raws(energies));
  const plan = planChunk({ def, items, view: () => undefined, watermark: -Infinity, reviseHorizonMs: 1e12 });
  return new Map(plan.writes.map((w) => [w.wk, { version: 1, state: w.state, closed: false }]));
}

const wh = (s: WindowState | undefined) => (s?.acc as { wh: number } | undefined)?.wh;

describe('planChunk with owned states', () => {
  it('folds into the states it is given, without a copy; a copying plan leaves them as they were', () => {
    const { items } = decodeItems(def, 'tel.s1.lighting.v1:0', raws([1, 2, 3, 4]).slice(2));
    const copied = storedAfter([1, 2]);
    const before = [...copied.values()].map((v) => wh(v.state));
    const plan = planChunk({
      def,
      items,
      view: (wk) => copied.get(wk),
      watermark: -Infinity,
      reviseHorizonMs: 1e12,
    });
    expect([...copied.values()].map((v) => wh(v.state))).toEqual(before);
    const owned = storedAfter([1, 2]);
    const ownedPlan = planChunk({
      def,
      items,
      view: (wk) => owned.get(wk),
      watermark: -Infinity,
      reviseHorizonMs: 1e12,
      owned: true,
    });
    expect(ownedPlan.spoiled).toBeUndefined();
    for (const w of ownedPlan.writes) expect(w.state).toBe(owned.get(w.wk)!.state);
    expect(ownedPlan.writes.map((w) => [w.wk, wh(w.state)])).toEqual(
      plan.writes.map((w) => [w.wk, wh(w.state)]),
    );
    expect(ownedPlan.writes.map((w) => wh(w.state)).sort()).toEqual([1 + 3, 2 + 4]);
  });

  it('is spoiled by a processor that throws; planned again from fresh states without it, it matches a copying plan', () => {
    const chunk = raws([1, 2, 3, 13, 5, 6]).slice(2);
    const { items } = decodeItems(def, 'tel.s1.lighting.v1:0', chunk);
    const copying = planChunk({
      def,
      items,
      view: (wk) => storedAfter([1, 2]).get(wk),
      watermark: -Infinity,
      reviseHorizonMs: 1e12,
    });
    expect(copying.failed.map((d) => d.kafkaOffset)).toEqual(['103']);

    const spoiledStates = storedAfter([1, 2]);
    const spoiled = planChunk({
      def,
      items,
      view: (wk) => spoiledStates.get(wk),
      watermark: -Infinity,
      reviseHorizonMs: 1e12,
      owned: true,
    });
    expect(spoiled.spoiled).toBe(true);
    expect(spoiled.writes).toEqual([]);
    expect(spoiled.failed.map((d) => d.kafkaOffset)).toEqual(['103']);

    // The runtime reads the windows again (fresh states) and plans without the failed records.
    const fresh = storedAfter([1, 2]);
    const again = planChunk({
      def,
      items,
      view: (wk) => fresh.get(wk),
      watermark: -Infinity,
      reviseHorizonMs: 1e12,
      owned: true,
      exclude: new Set(spoiled.failed.map((d) => d.kafkaOffset!)),
    });
    expect(again.spoiled).toBeUndefined();
    expect(again.failed).toEqual([]);
    expect(again.writes.map((w) => [w.wk, wh(w.state), w.ids])).toEqual(
      copying.writes.map((w) => [w.wk, wh(w.state), w.ids]),
    );
  });
});
