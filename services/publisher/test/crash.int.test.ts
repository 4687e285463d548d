import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  createTestTopic,
  deleteGroups,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { openStoreReader } from '@ondijon/opendata';
import { REPO_ROOT } from '../src/config';
import { lightingDay } from './helpers';
import { catalogProblems, produce, readCatalog } from './int-helpers';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

function startPublisher(env: Record<string, string>): {
  child: ChildProcess;
  exited: Promise<NodeJS.Signals | number | null>;
} {
  const child = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['services/publisher/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  cleanup.add(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, exited };
}

describe('publisher killed in the middle of a release', () => {
  // Inside the temp folder (before the rename) and between the rename and the catalogue.
  for (const step of ['tmp:data.geojson', 'release:renamed']) {
    it(`leaves the release whole or absent (kill at ${step}) and completes it after restart`, async () => {
      const store = await mkdtemp(join(tmpdir(), 'publisher-crash-store-'));
      const state = await mkdtemp(join(tmpdir(), 'publisher-crash-state-'));
      cleanup.add(() => rm(store, { recursive: true, force: true }));
      cleanup.add(() => rm(state, { recursive: true, force: true }));
      const topic = await createTestTopic('pub-crash', { partitions: 3 });
      const groupId = uniqueName('publisher-crash');
      cleanup.add(() => deleteTopics([topic]));
      cleanup.add(() => deleteGroups([groupId]));
      const env = {
        KAFKA_BROKERS: testEndpoints().kafkaBrokers.join(','),
        PUBLISHER_PORT: '0',
        OPENDATA_DIR: store,
        PUBLISHER_STATE_DIR: state,
        PUBLISHER_GROUP_ID: groupId,
        PUBLISHER_SOURCE_TOPICS: `lighting-commune-hour=${topic}`,
        PUBLISHER_DATASETS: 'lighting-commune-hour',
        PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS: '0',
        PUBLISHER_TICK_MS: '200',
      };
      await produce(testKafka(), topic, lightingDay(), 'lighting-commune-hour');

      const first = startPublisher({ ...env, PUBLISHER_TEST_KILL_AT_STEP: step });
      // tsx reports its child's SIGKILL as exit code 137 (128 + 9).
      expect(['SIGKILL', 137]).toContain(
        await waitFor(() => first.exited, { timeoutMs: 90_000, message: 'publisher killed itself' }),
      );

      // Whole or absent: the catalogue names only whole releases, and any release folder is whole.
      expect(await catalogProblems(store)).toEqual([]);
      const releasesDir = join(store, 'datasets', 'lighting-commune-hour', 'releases');
      const folders = await readdir(releasesDir).catch(() => [] as string[]);
      if (step === 'release:renamed') expect(folders).toHaveLength(1);
      else expect(folders).toHaveLength(0);
      expect((await readCatalog(store))?.datasets['lighting-commune-hour']).toBeUndefined();

      const second = startPublisher(env);
      const rel = await waitFor(
        async () => (await openStoreReader(store).releases('lighting-commune-hour'))[0],
        { timeoutMs: 90_000, message: 'release after restart' },
      );
      const { rows } = await openStoreReader(store).rows('lighting-commune-hour', rel.releaseId);
      expect(rows).toHaveLength(23 * 24 + 23 + 24 + 1);
      expect(rows.filter((r) => r.status === 'missing')).toHaveLength(0);
      expect(await catalogProblems(store)).toEqual([]);
      // Exactly one release: the adopted folder (or the rewritten one), never a duplicate.
      expect(await openStoreReader(store).releases('lighting-commune-hour')).toHaveLength(1);
      second.child.kill('SIGTERM');
      await second.exited;
    });
  }
});
