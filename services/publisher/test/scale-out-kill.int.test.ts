// Two publisher processes in one group, state in Redis (issue 17, item 1): while days stream in, the
// instance holding the release lease is SIGKILLed (a child process, killed from outside as soon as the
// lease names it, so inside a release), and the other finishes alone: its partitions move to the
// survivor (Kafka session timeout), the lease expires and passes to it with a higher fencing token, and
// it recovers the store if the dead holder left a release unfinished. The open data equals the
// reference's (one instance, folder state), each dataset-day is released once, and the ε ledger holds
// exactly one spend per winter day.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
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
import { REPO_ROOT } from '../src/config';
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

const DAYS = 4;
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

/** The publisher as a child process (node with tsx as a loader, so SIGKILL reaches the publisher itself). */
function startChild(env: Record<string, string>): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/publisher/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  cleanup.add(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, exited };
}

describe('two publisher processes in one group, the lease holder SIGKILLed mid-run', () => {
  it(
    'the survivor finishes: open data equals the reference, each dataset-day once, ε spent once per day',
    { timeout: 240_000 },
    async () => {
      const kafka = testKafka();
      const redis = new Redis(testEndpoints().redisUrl);
      cleanup.add(() => redis.quit());
      const lightingTopic = await createTestTopic('pub-kill2-lighting', { partitions: 3 });
      const winterTopic = await createTestTopic('pub-kill2-winter', { partitions: 3 });
      const groupId = uniqueName('publisher-kill2');
      const refGroup = uniqueName('publisher-kill2-ref');
      const prefix = `publisher:{${groupId}}:`;
      cleanup.add(() => deleteTopics([lightingTopic, winterTopic]));
      cleanup.add(() => deleteGroups([groupId, refGroup]));
      cleanup.add(() => deleteRedisKeys(redis, prefix));
      const dirs: Record<string, string> = {};
      for (const d of ['store', 'refStore', 'refState']) {
        dirs[d] = await mkdtemp(join(tmpdir(), `publisher-kill2-${d}-`));
        cleanup.add(() => rm(dirs[d]!, { recursive: true, force: true }));
      }
      const common = { brokers: testEndpoints().kafkaBrokers, lightingTopic, winterTopic };
      const ref = await startInProcess(
        publisherEnv({
          ...common,
          store: dirs.refStore!,
          groupId: refGroup,
          extra: { PUBLISHER_STATE_DIR: dirs.refState! },
        }),
      );
      cleanup.add(() => ref.app.close());

      const env = publisherEnv({
        ...common,
        store: dirs.store!,
        groupId,
        extra: {
          PUBLISHER_STATE_STORE: 'redis',
          REDIS_URL: testEndpoints().redisUrl,
          PUBLISHER_SESSION_TIMEOUT_MS: '6000',
          PUBLISHER_LEASE_MS: '3000',
        },
      });
      const instances = [startChild(env), startChild(env)];
      await waitFor(async () => (await groupMembers(kafka, groupId)) === 2, {
        timeoutMs: 90_000,
        intervalMs: 500,
        message: 'both processes hold partitions',
      });

      let produced = 0;
      const producing = (async () => {
        for (let d = 0; d < DAYS; d++) {
          await produce(kafka, lightingTopic, lightingDayShifted(d), LIGHTING);
          await produce(kafka, winterTopic, winterDayShifted(d), WINTER);
          produced++;
          await new Promise((r) => setTimeout(r, 1_500));
        }
      })();

      // Once a first period is out, SIGKILL whichever process next holds the release lease.
      await waitFor(async () => (await releasedPeriods(dirs.store!)).length > 0, {
        timeoutMs: 90_000,
        message: 'a first release',
      });
      const victim = await waitFor(
        async () => {
          const holder = await redis.get(`${prefix}lease`);
          return instances.find((i) => holder?.includes(`:${i.child.pid}:`));
        },
        { timeoutMs: 60_000, intervalMs: 2, message: 'an instance holding the lease' },
      );
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      const survivor = instances.find((i) => i !== victim)!;
      const releasedAtKill = (await releasedPeriods(dirs.store!)).length;
      const debris = (await readdir(join(dirs.store!, '.tmp')).catch(() => [] as string[])).length;
      // eslint-disable-next-line no-console -- where the kill landed
      console.info(
        `lease holder SIGKILLed with ${produced}/${DAYS} days produced, ${releasedAtKill}/${DAYS * 2} periods released, ${debris} entries in .tmp`,
      );
      expect(releasedAtKill, 'killed mid-run').toBeLessThan(DAYS * 2);

      await producing;
      const expected = DAYS * 2;
      await waitFor(async () => (await releasedPeriods(dirs.refStore!)).length === expected, {
        timeoutMs: 90_000,
        message: 'reference released every day',
      });
      await waitFor(async () => (await releasedPeriods(dirs.store!)).length === expected, {
        timeoutMs: 120_000,
        message: 'the survivor released every day',
      });
      expect(survivor.child.exitCode, 'the survivor still runs').toBeNull();
      // Let a release in progress finish, then stop the survivor cleanly.
      await waitFor(async () => (await redis.get(`${prefix}lease`)) === null, {
        timeoutMs: 30_000,
        message: 'lease free',
      });
      survivor.child.kill('SIGTERM');
      await survivor.exited;
      await ref.app.core.idle();

      const reference = await openData(dirs.refStore!);
      const got = await openData(dirs.store!);
      expect([...got.keys()].sort()).toEqual([...reference.keys()].sort());
      for (const [k, r] of reference) {
        expect(got.get(k)!.releases, `${k}: releases`).toBe(1);
        expect(got.get(k)!.rows, k).toEqual(r.rows);
      }
      expect(await catalogProblems(dirs.store!)).toEqual([]);

      const ledger = await redis.hgetall(`${prefix}ledger:${WINTER}`);
      const days = Object.keys(ledger).sort();
      expect(days).toHaveLength(DAYS);
      for (const day of days) {
        expect(Number(ledger[day]), `ledger ${day}`).toBeCloseTo(0.5);
        expect(
          Object.keys(await redis.hgetall(`${prefix}spends:${WINTER}|${day}`)),
          `spends ${day}`,
        ).toHaveLength(1);
      }
      const register = (await openStoreReader(dirs.store!).register('privacy-budget')) as {
        datasets: Record<string, { spentByDay: Record<string, number> }>;
      };
      expect(register.datasets[WINTER]!.spentByDay).toEqual(Object.fromEntries(days.map((d) => [d, 0.5])));
    },
  );
});
