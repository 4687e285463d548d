// Two publisher instances in one group writing the open-data store on a real S3-compatible server
// (OPENDATA_STORE=s3://bucket/prefix, S3Proxy of the stack; issue 17, item 2), their state in Redis:
// the open data equals that of one instance writing a folder (the reference of the other publisher tests).
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
  testS3,
  uniqueName,
  waitFor,
} from '@ondijon/acceptance';
import { openStoreReader, s3Backend, verifyReleaseFolder } from '@ondijon/opendata';
import { produce } from './int-helpers';
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

const DAYS = 2;
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

describe('publisher writing the open-data store on S3', () => {
  it(
    'two instances publish to S3 the same open data as one instance to a folder',
    { timeout: 240_000 },
    async () => {
      const s3 = await testS3();
      const bucket = await s3.createBucket('pub-s3');
      cleanup.add(() => s3.deleteBucket(bucket));
      const location = `s3://${bucket}/opendata`;
      const kafka = testKafka();
      const redis = new Redis(testEndpoints().redisUrl);
      cleanup.add(() => redis.quit());
      const lightingTopic = await createTestTopic('pub-s3-lighting', { partitions: 2 });
      const winterTopic = await createTestTopic('pub-s3-winter', { partitions: 2 });
      const groupId = uniqueName('publisher-s3');
      const refGroup = uniqueName('publisher-s3-ref');
      cleanup.add(() => deleteTopics([lightingTopic, winterTopic]));
      cleanup.add(() => deleteGroups([groupId, refGroup]));
      cleanup.add(() => deleteRedisKeys(redis, `publisher:{${groupId}}:`));
      const refStore = await mkdtemp(join(tmpdir(), 'publisher-s3-ref-'));
      const refState = await mkdtemp(join(tmpdir(), 'publisher-s3-state-'));
      cleanup.add(() => rm(refStore, { recursive: true, force: true }));
      cleanup.add(() => rm(refState, { recursive: true, force: true }));
      const common = { brokers: testEndpoints().kafkaBrokers, lightingTopic, winterTopic };

      const ref = await startInProcess(
        publisherEnv({
          ...common,
          store: refStore,
          groupId: refGroup,
          extra: { PUBLISHER_STATE_DIR: refState },
        }),
      );
      cleanup.add(() => ref.app.close());
      const env = publisherEnv({
        ...common,
        store: join(tmpdir(), 'unused-opendata-dir'),
        groupId,
        extra: {
          OPENDATA_STORE: location,
          ...s3.env(),
          PUBLISHER_STATE_STORE: 'redis',
          REDIS_URL: testEndpoints().redisUrl,
          PUBLISHER_SESSION_TIMEOUT_MS: '10000',
          PUBLISHER_LEASE_MS: '5000',
        },
      });
      const a = await startInProcess(env);
      cleanup.add(() => a.app.close());
      const b = await startInProcess(env);
      cleanup.add(() => b.app.close());
      await waitFor(async () => (await groupMembers(kafka, groupId)) === 2, {
        timeoutMs: 60_000,
        message: 'both instances hold partitions',
      });
      for (let d = 0; d < DAYS; d++) {
        await produce(kafka, lightingTopic, lightingDayShifted(d), LIGHTING);
        await produce(kafka, winterTopic, winterDayShifted(d), WINTER);
      }
      const store = s3Backend(location, {
        endpoint: s3.endpoint,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      });
      await waitFor(async () => (await releasedPeriods(refStore)).length === DAYS * 2, {
        timeoutMs: 90_000,
        message: 'reference released every day',
      });
      await waitFor(async () => (await releasedPeriods(store)).length === DAYS * 2, {
        timeoutMs: 90_000,
        message: 'every day released to S3',
      });
      await Promise.all([a.app.core.idle(), b.app.core.idle(), ref.app.core.idle()]);
      expect(await a.consumed()).toBeGreaterThan(0);
      expect(await b.consumed()).toBeGreaterThan(0);

      const reference = await openData(refStore);
      const got = await openData(store);
      expect([...got.keys()].sort()).toEqual([...reference.keys()].sort());
      for (const [k, r] of reference) {
        expect(got.get(k)!.releases, `${k}: releases`).toBe(1);
        expect(got.get(k)!.rows, k).toEqual(r.rows);
      }
      // Every release the catalogue names is whole (its objects match the checksums of its notes).
      const { catalog } = await openStoreReader(store).catalog();
      for (const d of Object.values(catalog.datasets))
        for (const r of d.releases) expect(await verifyReleaseFolder(store, r.path), r.path).not.toBeNull();
    },
  );
});
