// Two publisher instances in one group writing the open-data store on a real S3-compatible server
// (OPENDATA_STORE=s3://bucket/prefix, S3Proxy of the stack; issue 17, item 2), their state in Redis:
// the open data equals that of one instance writing a folder (the reference of the other publisher tests).
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup, testS3, waitFor } from '@ondijon/acceptance';
import { s3Backend } from '@ondijon/opendata';
import { groupMembers, scaleFixture, startInProcess } from './scale-helpers';

const DAYS = 2;
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

describe('publisher writing the open-data store on S3', () => {
  it(
    'two instances publish to S3 the same open data as one instance to a folder',
    { timeout: 300_000 },
    async () => {
      const s3 = await testS3();
      const bucket = await s3.createBucket('pub-s3');
      cleanup.add(() => s3.deleteBucket(bucket));
      const location = `s3://${bucket}/opendata`;
      const f = await scaleFixture(cleanup, {
        name: 'pub-s3',
        partitions: 2,
        sessionTimeoutMs: 10_000,
        leaseMs: 5_000,
      });
      const env = f.env({
        OPENDATA_DIR: join(tmpdir(), 'unused-opendata-dir'),
        OPENDATA_STORE: location,
        ...s3.env(),
      });
      const a = await startInProcess(env);
      cleanup.add(() => a.app.close());
      const b = await startInProcess(env);
      cleanup.add(() => b.app.close());
      await waitFor(async () => (await groupMembers(f.kafka, f.groupId)) === 2, {
        timeoutMs: 60_000,
        message: 'both instances hold partitions',
      });
      for (let d = 0; d < DAYS; d++) await f.produceDay(d);
      const store = s3Backend(location, {
        endpoint: s3.endpoint,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      });
      await f.waitForAllReleased(store, DAYS);
      await Promise.all([a.app.core.idle(), b.app.core.idle()]);
      expect(await a.consumed()).toBeGreaterThan(0);
      expect(await b.consumed()).toBeGreaterThan(0);

      // Same open data as the reference; every release the catalogue names is whole on S3.
      await f.expectSameAsReference(store);
      await f.expectOneSpendPerDay(store, DAYS);
    },
  );
});
