import type { Admin } from 'kafkajs';

/** Options of `waitForTopicsReady`. */
export interface TopicsReadyOptions {
  /** Give up after this long, ms (default 30 s). */
  timeoutMs?: number;
  /** Poll interval, ms (default 100). */
  intervalMs?: number;
}

/**
 * Waits until every partition of `topics` has a leader in the cluster metadata. kafkajs'
 * `createTopics({ waitForLeaders: true })` retries only LEADER_NOT_AVAILABLE, but a topic created a
 * moment ago may still answer UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this
 * topic-partition") under load: measured here on 2 busy cores, in CI-like runs.
 */
export async function waitForTopicsReady(
  admin: Admin,
  topics: string[],
  options: TopicsReadyOptions = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      const ready =
        meta.length === topics.length &&
        meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      // Metadata can name a leader before that broker has taken the partition on (it answers
      // NOT_LEADER_OR_FOLLOWER to ListOffsets for a moment): ready means every leader answers.
      if (ready) {
        for (const topic of topics) await admin.fetchTopicOffsets(topic);
        return;
      }
      lastError = new Error('partitions without a leader');
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(
        `topics ${topics.join(', ')} not ready after ${options.timeoutMs ?? 30_000} ms: ${reason}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
