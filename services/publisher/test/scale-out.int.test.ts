// Two publisher instances in one consumer group, their private state in Redis (PUBLISHER_STATE_STORE=redis)
// (issue 17, item 1): they split the partitions, stage into one shared state, and the per-dataset release
// leases make exactly one of them publish each dataset-day. The open data equals that of one instance
// alone (the reference: the folder state of the other publisher tests, reading the same topics in its own
// group), except the drawn noise, whose cells must have the same status; the ε ledger holds one spend per day.
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup, waitFor } from '@ondijon/test-kit';
import {
  LIGHTING,
  WINTER,
  groupMembers,
  lightingDayShifted,
  releasedPeriods,
  scaleFixture,
  startInProcess,
  winterDayShifted,
} from './scale-helpers';

const DAYS = 3;
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

describe('two publisher instances in one group, state in Redis', () => {
  it(
    'publish the same open data as one instance, each dataset-day once, spending ε once per day',
    { timeout: 300_000 },
    async () => {
      const f = await scaleFixture(cleanup, {
        name: 'pub-scale',
        partitions: 3,
        sessionTimeoutMs: 10_000,
        leaseMs: 5_000,
      });
      const a = await startInProcess(f.env());
      cleanup.add(() => a.app.close());
      const b = await startInProcess(f.env());
      cleanup.add(() => b.app.close());
      await waitFor(async () => (await groupMembers(f.kafka, f.groupId)) === 2, {
        timeoutMs: 60_000,
        message: 'both instances hold partitions',
      });

      for (let d = 0; d < DAYS; d++) await f.produceDay(d);
      await f.waitForAllReleased(f.store, DAYS);
      await Promise.all([a.app.core.idle(), b.app.core.idle()]);

      // Both instances consumed a share of the input: the partitions were split.
      const [ca, cb] = [await a.consumed(), await b.consumed()];
      expect(ca, 'records consumed by instance A').toBeGreaterThan(0);
      expect(cb, 'records consumed by instance B').toBeGreaterThan(0);
      const input = DAYS * (lightingDayShifted(0).length + winterDayShifted(0).length);
      expect(ca + cb).toBeGreaterThanOrEqual(input);

      await f.expectSameAsReference(f.store);
      await f.expectOneSpendPerDay(f.store, DAYS);
    },
  );

  it(
    'publish different datasets at once: while one is inside a lighting release, the other releases the winter days',
    { timeout: 300_000 },
    async () => {
      const DAYS2 = 2;
      const f = await scaleFixture(cleanup, {
        name: 'pub-conc',
        partitions: 2,
        sessionTimeoutMs: 10_000,
        leaseMs: 5_000,
      });
      // Whichever instance first writes a lighting release stops right after its files are in place
      // (before the catalogue names it), holding the lighting lease, until the gate opens.
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      let gateOpen = false;
      let inside: string | undefined;
      const onStoreStep = async (step: string, info: { datasetId: string; releaseId: string }) => {
        if (step !== 'release:renamed' || info.datasetId !== LIGHTING || gateOpen) return;
        inside = info.releaseId;
        await gate;
      };
      const a = await startInProcess(f.env(), { onStoreStep });
      cleanup.add(() => a.app.close());
      const b = await startInProcess(f.env(), { onStoreStep });
      cleanup.add(() => b.app.close());
      cleanup.add(() => openGate());
      await waitFor(async () => (await groupMembers(f.kafka, f.groupId)) === 2, {
        timeoutMs: 60_000,
        message: 'both instances hold partitions',
      });
      for (let d = 0; d < DAYS2; d++) await f.produceDay(d);

      await waitFor(() => inside !== undefined, { timeoutMs: 150_000, message: 'a lighting release paused' });
      // With one lease for the whole store nothing else could be published now; with a lease per
      // dataset the other instance publishes every winter day meanwhile, through the catalogue lock.
      await waitFor(
        async () => (await releasedPeriods(f.store)).filter((p) => p.startsWith(WINTER)).length === DAYS2,
        { timeoutMs: 150_000, message: 'the winter days released while a lighting release is in progress' },
      );
      expect(
        (await releasedPeriods(f.store)).filter((p) => p.startsWith(LIGHTING)),
        'the paused lighting release is not in the catalogue yet',
      ).toEqual([]);
      expect(
        (await f.redis.keys(`${f.prefix}lease:${LIGHTING}`)).length,
        'the lighting lease is held through the pause',
      ).toBe(1);
      gateOpen = true;
      openGate();

      // The paused release then links into the catalogue the other instance rewrote: nothing lost.
      await f.waitForAllReleased(f.store, DAYS2, 150_000);
      await Promise.all([a.app.core.idle(), b.app.core.idle()]);
      await f.expectSameAsReference(f.store);
      await f.expectOneSpendPerDay(f.store, DAYS2);
    },
  );
});
