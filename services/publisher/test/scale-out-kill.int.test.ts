// Two publisher processes in one group, state in Redis (issue 17, item 1): while days stream in, the
// instance holding the release lease is SIGKILLed (a child process, killed from outside as soon as the
// lease names it, so inside a release), and the other finishes alone: its partitions move to the
// survivor (Kafka session timeout), the lease expires and passes to it with a higher fencing token, and
// it recovers the store if the dead holder left a release unfinished. The open data equals the
// reference's (one instance, folder state), each dataset-day is released once, and the ε ledger holds
// exactly one spend per winter day.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup, waitFor } from '@ondijon/test-kit';
import { REPO_ROOT } from '../src/config';
import { groupMembers, releasedPeriods, scaleFixture } from './scale-helpers';

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
    { timeout: 360_000 },
    async () => {
      const f = await scaleFixture(cleanup, {
        name: 'pub-kill2',
        partitions: 3,
        sessionTimeoutMs: 6_000,
        leaseMs: 3_000,
      });
      const { redis, prefix } = f;
      const env = f.env();
      const instances = [startChild(env), startChild(env)];
      await waitFor(async () => (await groupMembers(f.kafka, f.groupId)) === 2, {
        timeoutMs: 90_000,
        intervalMs: 500,
        message: 'both processes hold partitions',
      });

      let produced = 0;
      const producing = (async () => {
        for (let d = 0; d < DAYS; d++) {
          await f.produceDay(d);
          produced++;
          await new Promise((r) => setTimeout(r, 1_500));
        }
      })();

      // Once a first period is out, SIGKILL whichever process next holds a release lease (one per dataset).
      await waitFor(async () => (await releasedPeriods(f.store)).length > 0, {
        timeoutMs: 150_000,
        message: 'a first release',
      });
      const victim = await waitFor(
        async () => {
          const keys = await redis.keys(`${prefix}lease:*`);
          const holders = keys.length > 0 ? await redis.mget(keys) : [];
          return instances.find((i) => holders.some((h) => h?.includes(`:${i.child.pid}:`)));
        },
        { timeoutMs: 60_000, intervalMs: 2, message: 'an instance holding the lease' },
      );
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      const survivor = instances.find((i) => i !== victim)!;
      const releasedAtKill = (await releasedPeriods(f.store)).length;
      const debris = (await readdir(join(f.store, '.tmp')).catch(() => [] as string[])).length;
      // eslint-disable-next-line no-console -- where the kill landed
      console.info(
        `lease holder SIGKILLed with ${produced}/${DAYS} days produced, ${releasedAtKill}/${DAYS * 2} periods released, ${debris} entries in .tmp`,
      );
      expect(releasedAtKill, 'killed mid-run').toBeLessThan(DAYS * 2);

      await producing;
      await f.waitForAllReleased(f.store, DAYS, 120_000);
      expect(survivor.child.exitCode, 'the survivor still runs').toBeNull();
      // Let a release in progress finish, then stop the survivor cleanly.
      await waitFor(async () => (await redis.keys(`${prefix}lease:*`)).length === 0, {
        timeoutMs: 30_000,
        message: 'leases free',
      });
      survivor.child.kill('SIGTERM');
      await survivor.exited;
      await f.expectSameAsReference(f.store);
      await f.expectOneSpendPerDay(f.store, DAYS);
    },
  );
});
