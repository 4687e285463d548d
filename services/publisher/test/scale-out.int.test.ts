// Two publisher instances in one consumer group, their private state in Redis (PUBLISHER_STATE_STORE=redis)
// (issue 17, item 1): they split the partitions, stage into one shared state, and the release lease makes
// exactly one of them publish each dataset-day. The open data equals that of one instance alone (the
// reference: the folder state of the other publisher tests, reading the same topics in its own group),
// except the drawn noise, whose cells must have the same status; the ε ledger holds one spend per day.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteRedisKeys,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { openStoreReader } from '@ondijon/opendata';
import { catalogProblems, produce } from './int-helpers';
import {
  LIGHTING,
  WINTER,
  groupMembers,
  lightingDayShifted,
  openData,
  publisherEnv,
  releasedPeriods,
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
      const kafka = testKafka();
      const redis = new Redis(testEndpoints().redisUrl);
      cleanup.add(() => redis.quit());
      const lightingTopic = await createTestTopic('pub-scale-lighting', { partitions: 3 });
      const winterTopic = await createTestTopic('pub-scale-winter', { partitions: 3 });
      const groupId = uniqueName('publisher-scale');
      const refGroup = uniqueName('publisher-scale-ref');
      cleanup.add(() => deleteTopics([lightingTopic, winterTopic]));
      cleanup.add(() => deleteGroups([groupId, refGroup]));
      cleanup.add(() => deleteRedisKeys(redis, `publisher:{${groupId}}:`));
      const dirs: Record<string, string> = {};
      for (const d of ['store', 'refStore', 'refState']) {
        dirs[d] = await mkdtemp(join(tmpdir(), `publisher-scale-${d}-`));
        cleanup.add(() => rm(dirs[d]!, { recursive: true, force: true }));
      }
      const common = { brokers: testEndpoints().kafkaBrokers, lightingTopic, winterTopic };

      // The reference: one instance, state in a folder.
      const ref = await startInProcess(
        publisherEnv({
          ...common,
          store: dirs.refStore!,
          groupId: refGroup,
          extra: { PUBLISHER_STATE_DIR: dirs.refState! },
        }),
      );
      cleanup.add(() => ref.app.close());
      // Two instances of one group, state in Redis.
      const scaled = publisherEnv({
        ...common,
        store: dirs.store!,
        groupId,
        extra: {
          PUBLISHER_STATE_STORE: 'redis',
          REDIS_URL: testEndpoints().redisUrl,
          PUBLISHER_SESSION_TIMEOUT_MS: '10000',
          PUBLISHER_LEASE_MS: '5000',
        },
      });
      const a = await startInProcess(scaled);
      cleanup.add(() => a.app.close());
      const b = await startInProcess(scaled);
      cleanup.add(() => b.app.close());
      await waitFor(async () => (await groupMembers(kafka, groupId)) === 2, {
        timeoutMs: 60_000,
        message: 'both instances hold partitions',
      });

      for (let d = 0; d < DAYS; d++) {
        await produce(kafka, lightingTopic, lightingDayShifted(d), LIGHTING);
        await produce(kafka, winterTopic, winterDayShifted(d), WINTER);
      }
      const expected = DAYS * 2;
      await waitFor(async () => (await releasedPeriods(dirs.refStore!)).length === expected, {
        timeoutMs: 90_000,
        message: 'reference released every day',
      });
      await waitFor(async () => (await releasedPeriods(dirs.store!)).length === expected, {
        timeoutMs: 90_000,
        message: 'the two instances released every day',
      });
      await Promise.all([ref.app.core.idle(), a.app.core.idle(), b.app.core.idle()]);

      // Both instances consumed a share of the input: the partitions were split.
      const [ca, cb] = [await a.consumed(), await b.consumed()];
      expect(ca, 'records consumed by instance A').toBeGreaterThan(0);
      expect(cb, 'records consumed by instance B').toBeGreaterThan(0);
      const input = DAYS * (lightingDayShifted(0).length + winterDayShifted(0).length);
      expect(ca + cb).toBeGreaterThanOrEqual(input);

      const reference = await openData(dirs.refStore!);
      const got = await openData(dirs.store!);
      expect([...got.keys()].sort()).toEqual([...reference.keys()].sort());
      for (const [k, r] of reference) {
        expect(got.get(k)!.releases, `${k}: releases`).toBe(1);
        expect(r.releases, `${k}: reference releases`).toBe(1);
        expect(got.get(k)!.rows, k).toEqual(r.rows);
      }
      expect(await catalogProblems(dirs.store!)).toEqual([]);

      // The ε ledger: one spend of the policy's ε per release per winter day, in Redis and in the register.
      const ledger = await redis.hgetall(`publisher:{${groupId}}:ledger:${WINTER}`);
      const days = Object.keys(ledger).sort();
      expect(days).toHaveLength(DAYS);
      for (const day of days) expect(Number(ledger[day]), day).toBeCloseTo(0.5);
      const register = (await openStoreReader(dirs.store!).register('privacy-budget')) as {
        datasets: Record<string, { spentByDay: Record<string, number> }>;
      };
      expect(register.datasets[WINTER]!.spentByDay).toEqual(Object.fromEntries(days.map((d) => [d, 0.5])));
    },
  );
});
