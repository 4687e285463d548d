// `./ondijon run` keeps only the newest runs' namespaces: topics, consumer groups, Redis state and
// folders of older runs are removed, the newest and anything outside the run namespaces are left alone.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { waitForTopicsReady } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestTopic, deleteTopics, testEndpoints, testKafka, waitFor } from '@ondijon/test-kit';
import { pruneRuns } from '../src/prune-runs';

describe('pruning the namespaces of earlier runs', () => {
  const prefix = `pt${randomBytes(3).toString('hex')}`;
  const ids = ['20261101000000', '20261102000000', '20261103000000'].map((d) => `${prefix}${d}`);
  const runsDir = mkdtempSync(path.join(tmpdir(), 'runs-'));
  const redis = new Redis(testEndpoints().redisUrl);
  const created: string[] = [];
  afterAll(async () => {
    await deleteTopics(created);
    for (const id of ids) {
      const keys = [
        ...(await redis.keys(`processors:stream:${id}:*`)),
        ...(await redis.keys(`publisher:{ondijon-publisher-${id}}:*`)),
      ];
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
    rmSync(runsDir, { recursive: true, force: true });
  });

  it('removes all but the newest runs, and nothing else', async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    const bystander = await createTestTopic('prune-bystander');
    created.push(bystander);
    try {
      for (const id of ids) {
        for (const t of ['tel.s1.lighting.v1', 'agg.s1.lighting-commune-hour.v1']) {
          await admin.createTopics({
            topics: [{ topic: `${id}.${t}`, numPartitions: 1 }],
            waitForLeaders: true,
          });
          created.push(`${id}.${t}`);
        }
        await waitForTopicsReady(admin, [
          `${id}.tel.s1.lighting.v1`,
          `${id}.agg.s1.lighting-commune-hour.v1`,
        ]);
        await redis.set(`processors:stream:${id}:{p}:offset`, '1');
        await redis.set(`publisher:{ondijon-publisher-${id}}:fence:lighting-commune-hour`, '1');
        mkdirSync(path.join(runsDir, id, 'opendata'), { recursive: true });
      }
      // Groups as the services name them in a run: `<name>-<run>` and the processors' `<name>-<run>.<processor>`.
      // kafkajs' setOffsets joins the group (a few seconds each): all at once. A fresh admin per try:
      // right after creation a topic can be unknown to the client that created it.
      await Promise.all(
        ids.flatMap((id) =>
          [`ondijon-publisher-${id}`, `ondijon-processors-${id}.lighting-commune-hour`].map((groupId) =>
            waitFor(
              async () => {
                const a = kafka.admin();
                await a.connect();
                try {
                  await a.setOffsets({
                    groupId,
                    topic: `${id}.tel.s1.lighting.v1`,
                    partitions: [{ partition: 0, offset: '0' }],
                  });
                  return true;
                } catch {
                  return false;
                } finally {
                  await a.disconnect();
                }
              },
              { timeoutMs: 60_000, intervalMs: 500, message: `offsets of ${groupId}` },
            ),
          ),
        ),
      );
      const result = await pruneRuns({
        brokers: testEndpoints().kafkaBrokers,
        redisUrl: testEndpoints().redisUrl,
        runsDir,
        keep: 1,
        idPrefix: prefix,
      });
      expect(result.runs).toEqual(ids.slice(0, 2));
      expect(result).toMatchObject({ topics: 4, groups: 4, redisKeys: 4 });

      // A fresh admin, retried: kafkajs' group listing reads the whole cluster's metadata, which fails
      // while the pruned topics are still being deleted.
      const { groups, topics } = await waitFor(
        async () => {
          const check = kafka.admin();
          await check.connect();
          try {
            return {
              groups: (await check.listGroups()).groups.map((g) => g.groupId),
              topics: await check.listTopics(),
            };
          } catch {
            return undefined;
          } finally {
            await check.disconnect();
          }
        },
        { timeoutMs: 30_000, intervalMs: 500, message: 'cluster listing' },
      );
      for (const id of ids.slice(0, 2)) {
        expect(topics.filter((t) => t.startsWith(`${id}.`))).toEqual([]);
        expect(groups.filter((g) => g.includes(id))).toEqual([]);
        expect(await redis.exists(`processors:stream:${id}:{p}:offset`)).toBe(0);
        expect(await redis.exists(`publisher:{ondijon-publisher-${id}}:fence:lighting-commune-hour`)).toBe(0);
        expect(existsSync(path.join(runsDir, id))).toBe(false);
      }
      const newest = ids[2]!;
      expect(topics.filter((t) => t.startsWith(`${newest}.`))).toHaveLength(2);
      expect(groups.filter((g) => g.includes(newest))).toHaveLength(2);
      expect(await redis.exists(`processors:stream:${newest}:{p}:offset`)).toBe(1);
      expect(existsSync(path.join(runsDir, newest))).toBe(true);
      expect(topics).toContain(bystander);

      // The run about to start is never counted or removed.
      const again = await pruneRuns({
        brokers: testEndpoints().kafkaBrokers,
        redisUrl: testEndpoints().redisUrl,
        runsDir,
        keep: 0,
        idPrefix: prefix,
        except: newest,
      });
      expect(again.runs).toEqual([]);
      // Cleanup with a fresh admin, retried: the first one's metadata still names the deleted topics, and
      // its refresh fails with UNKNOWN_TOPIC_OR_PARTITION while they are being deleted.
      await waitFor(
        async () => {
          const a = kafka.admin();
          await a.connect();
          try {
            await a.deleteGroups([
              `ondijon-publisher-${newest}`,
              `ondijon-processors-${newest}.lighting-commune-hour`,
            ]);
            return true;
          } finally {
            await a.disconnect();
          }
        },
        { timeoutMs: 30_000, intervalMs: 500, message: 'deleting the newest run groups' },
      );
    } finally {
      await admin.disconnect();
    }
  });
});
