// The S3 server of the S3 tests (issue 17, item 2): the stack's optional S3Proxy, started here (fetched
// once when missing) and only by the tests that need it; each test uses a bucket of its own.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { s3Up, type S3Endpoint } from '@ondijon/stack';
import { uniqueName } from './index';

/** The S3 test server, with bucket helpers. */
export interface TestS3 extends S3Endpoint {
  client: S3Client;
  /** Creates a bucket of its own (a valid bucket name from `prefix`). */
  createBucket(prefix: string): Promise<string>;
  /** Empties and deletes a bucket. */
  deleteBucket(bucket: string): Promise<void>;
  /** OPENDATA_S3_* of a service using this server. */
  env(): Record<string, string>;
}

/** Starts (if needed) the stack's S3 server and returns it. */
export async function testS3(): Promise<TestS3> {
  const ep = await s3Up({ timeoutMs: 120_000 });
  const client = new S3Client({
    endpoint: ep.endpoint,
    region: ep.region,
    forcePathStyle: true,
    credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
  });
  return {
    ...ep,
    client,
    async createBucket(prefix) {
      const bucket = uniqueName(prefix)
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .slice(0, 63);
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async deleteBucket(bucket) {
      for (;;) {
        const list = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        const keys = (list.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length === 0) break;
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    },
    env: () => ({
      OPENDATA_S3_ENDPOINT: ep.endpoint,
      OPENDATA_S3_REGION: ep.region,
      OPENDATA_S3_ACCESS_KEY_ID: ep.accessKeyId,
      OPENDATA_S3_SECRET_ACCESS_KEY_FILE: ep.secretFile,
    }),
  };
}
