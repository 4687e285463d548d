import type { KafkaConsumer } from '@ondijon/kafka';
import type { StreamLogger } from '../engine';

/**
 * Kafka offset commits: only offsets whose records were applied (Redis holds the exact offset with
 * the state), at most once a second. A crash, a rebalance or a failed batch makes kafkajs fetch again
 * from the committed or rewound offset, and what Redis already holds is skipped.
 */
export class OffsetCommitter {
  /** Next offset to commit per physical partition, applied since the last commit. */
  private readonly applied = new Map<string, { topic: string; partition: number; offset: string }>();
  private timer: NodeJS.Timeout | undefined;
  private halted = false;

  constructor(
    private readonly consumer: Pick<KafkaConsumer, 'commitOffsets'>,
    private readonly log: StreamLogger,
  ) {}

  /** Records that a partition's records up to `offset` (exclusive) are applied; commits within a second. */
  markApplied(key: string, topic: string, partition: number, offset: string): void {
    this.applied.set(key, { topic, partition, offset });
    if (this.timer || this.halted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.commit();
    }, 1_000);
  }

  /** Forgets what was applied (a rebalance: the new generation starts from the committed offsets). */
  clear(): void {
    this.applied.clear();
  }

  /** No more scheduled commits (a stop; the last commit is made by `commit`). */
  halt(): void {
    this.halted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Commits to Kafka the offsets applied since the last commit (never beyond what Redis holds). */
  async commit(): Promise<void> {
    const offsets = [...this.applied.values()];
    if (offsets.length === 0) return;
    this.applied.clear();
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (err) {
      // Harmless: the next commit or a re-fetch after a restart covers it (Redis skips applied records).
      this.log.debug({ err }, 'offset commit failed');
    }
  }
}
