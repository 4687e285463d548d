// `./ondijon run` works in a fresh namespace per run (`run<yyyymmddhhmmss>.` topics, `-run…` groups,
// `processors:stream:run…:` and `publisher:{ondijon-publisher-run…}:` Redis keys, `.stack/runs/run…/`). Without pruning, every run would leave
// its topics and state behind for good; data volume is kept in check by keeping only the newest runs.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { topicList } from '@ondijon/contracts';
import { createKafka, deleteNamespaceAcls, type KafkaSecurity } from '@ondijon/kafka';
import { Redis } from 'ioredis';
import { deleteRedisKeys } from '@ondijon/test-kit';

/** What a prune removed. */
export interface PruneResult {
  /** Run ids whose namespace was removed, oldest first. */
  runs: string[];
  topics: number;
  groups: number;
  /** ACL bindings of the pruned namespaces removed. */
  acls: number;
  redisKeys: number;
}

/** Options of `pruneRuns`. */
export interface PruneOptions {
  brokers: string[];
  redisUrl: string;
  /** Folder holding one folder per run (`.stack/runs`). */
  runsDir: string;
  /** How many of the newest runs to keep. */
  keep: number;
  /** Never removed (the run about to start). */
  except?: string;
  /** Run ids are `<idPrefix><14 digits>` (default `run`; tests use their own). */
  idPrefix?: string;
  /** Kafka credentials (the super user's); default: the environment's. */
  security?: KafkaSecurity;
}

/** Removes the topics, consumer groups, Redis state and run folders of all but the `keep` newest runs. */
export async function pruneRuns(o: PruneOptions): Promise<PruneResult> {
  const p = o.idPrefix ?? 'run';
  if (!/^[a-z0-9]+$/.test(p)) throw new Error(`idPrefix must be lowercase letters and digits: ${p}`);
  const RUN_ID = new RegExp(`^${p}\\d{14}$`);
  const RUN_TOPIC = new RegExp(`^(${p}\\d{14})\\.`);
  // Groups are `<name>-<run>`, and the processors' `<name>-<run>.<processor>`.
  const RUN_GROUP = new RegExp(`-(${p}\\d{14})(?:\\.|$)`);
  const admin = createKafka({
    brokers: o.brokers,
    clientId: 'ondijon-prune-runs',
    ...(o.security ? { security: o.security } : {}),
  }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const topics = await admin.listTopics();
    const dirs = existsSync(o.runsDir) ? readdirSync(o.runsDir).filter((d) => RUN_ID.test(d)) : [];
    const ids = new Set<string>(dirs);
    for (const t of topics) {
      const m = RUN_TOPIC.exec(t);
      if (m) ids.add(m[1]!);
    }
    // Run ids are timestamps: their lexical order is their age.
    const all = [...ids].filter((id) => id !== o.except).sort();
    const prune = all.slice(0, Math.max(0, all.length - Math.max(0, o.keep)));
    const pruned = new Set(prune);
    const result: PruneResult = { runs: prune, topics: 0, groups: 0, acls: 0, redisKeys: 0 };
    if (prune.length === 0) return result;
    const deadGroups = groups.map((g) => g.groupId).filter((g) => pruned.has(RUN_GROUP.exec(g)?.[1] ?? ''));
    // Groups first: kafkajs' group calls read the whole cluster's metadata, which fails while topics are
    // being deleted (by us or by anyone else): retry, on the groups that are still there.
    for (let attempt = 1, left = deadGroups; left.length > 0; attempt += 1) {
      try {
        await admin.deleteGroups(left);
        break;
      } catch (error) {
        if (attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        const present = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
        left = left.filter((g) => present.has(g));
      }
    }
    result.groups = deadGroups.length;
    const deadTopics = topics.filter((t) => pruned.has(RUN_TOPIC.exec(t)?.[1] ?? ''));
    if (deadTopics.length > 0) await admin.deleteTopics({ topics: deadTopics, timeout: 30_000 });
    result.topics = deadTopics.length;
    // The namespace's ACLs (literal names of the registry's topics under `<run>.`) go with its topics.
    result.acls = await deleteNamespaceAcls(
      admin,
      prune.flatMap((id) => topicList.map((t) => `${id}.${t.name}`)),
    );
    const redis = new Redis(o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    try {
      await redis.connect();
      for (const id of prune) {
        result.redisKeys += await deleteRedisKeys(redis, `processors:stream:${id}:`);
        // The publisher's shared state (PUBLISHER_STATE_STORE=redis) of the run's group.
        result.redisKeys += await deleteRedisKeys(redis, `publisher:{ondijon-publisher-${id}}:`);
      }
    } finally {
      redis.disconnect();
    }
    for (const id of prune) rmSync(path.join(o.runsDir, id), { recursive: true, force: true });
    return result;
  } finally {
    await admin.disconnect();
  }
}
