// Two publisher instances in one consumer group, their private state in Redis (PUBLISHER_STATE_STORE=redis)
// (issue 17, item 1): they split the partitions, stage into one shared state, and the per-dataset release
// leases make exactly one of them publish each dataset-day. The open data equals that of one instance
// alone (the reference: the folder state of the other publisher tests, reading the same topics in its own
// group), except the drawn noise, whose cells must have the same status; the ε ledger holds one spend per day.
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup, waitFor } from '@ondijon/test-kit';
import {
  groupMembers,
  lightingDayShifted,
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
    { timeout: 180_000 },
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
});
