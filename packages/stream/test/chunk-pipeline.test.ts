import type { EachBatchPayload, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { AnyProcessor } from '../src/define';
import { silentStreamLogger } from '../src/engine';
import { ChunkPipeline, type Chunk } from '../src/runtime/chunk-pipeline';
import { PartitionClaims } from '../src/runtime/claims';
import type { OffsetCommitter } from '../src/runtime/commit';
import { FetchQueue, type Batch } from '../src/runtime/fetch-queue';
import { noopMetrics } from '../src/runtime/types';

// A paced input reaches the runtime as many small batches (a few records per partition per fetch).
// Applied one state update per batch, the runtime fell behind such an input and windows closed later
// and later (bench:e2e paced at half capacity); the batches of a partition queued behind one another
// are now applied together. No Kafka, no Redis: batches are queued by hand, updates recorded.

const TOPIC = 'in';

function batch(partition: number, first: number, n: number): Batch {
  const messages = Array.from({ length: n }, (_, i) => ({
    offset: String(first + i),
    key: Buffer.from(`k${partition}`),
    value: Buffer.from('{}'),
    timestamp: '0',
    attributes: 0,
    headers: {},
  }));
  return {
    topic: TOPIC,
    partition,
    messages,
    firstOffset: () => String(first),
    lastOffset: () => String(first + n - 1),
    offsetLag: () => '0',
  } as unknown as Batch;
}

/** Queues the batches as eachBatch would, then applies everything queued; returns updates and commits. */
async function run(batches: Batch[], maxChunk: number) {
  const queue = new FetchQueue(10_000, 1 << 30);
  const updates: { partition: number; offsets: string[] }[] = [];
  const commits: { partition: number; offset: string }[] = [];
  const committer = {
    markApplied: (_key: string, _topic: string, partition: number, offset: string) =>
      commits.push({ partition, offset }),
  } as unknown as OffsetCommitter;
  const pipeline = new ChunkPipeline({
    def: { kind: 'stateless', name: 'p', inputs: ['tel.s1.lighting.v1'] } as unknown as AnyProcessor,
    consumer: { seek: () => undefined },
    queue,
    claims: new PartitionClaims(undefined, {} as Kafka, true, 1, silentStreamLogger),
    committer,
    logical: new Map([[TOPIC, 'tel.s1.lighting.v1']]),
    metrics: noopMetrics,
    log: silentStreamLogger,
    maxChunk,
    generation: () => 0,
    stopping: () => false,
    apply: async (chunk: Chunk) => {
      updates.push({ partition: chunk.of.batch.partition, offsets: chunk.raws.map((r) => r.offset) });
    },
    stateWentBack: () => undefined,
  });
  for (const b of batches) {
    const payload = {
      batch: b,
      resolveOffset: () => undefined,
      isRunning: () => true,
      heartbeat: async () => undefined,
    } as unknown as EachBatchPayload;
    await queue.accept(
      payload,
      0,
      () => undefined,
      () => false,
    );
  }
  pipeline.kick();
  await pipeline.idle();
  return { updates, commits, left: queue.length };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('chunk pipeline', () => {
  it('applies the small batches a partition has queued in one state update, in Kafka order', async () => {
    const { updates, commits, left } = await run(
      [batch(0, 0, 2), batch(1, 0, 3), batch(0, 2, 3), batch(0, 5, 1), batch(1, 3, 1)],
      1000,
    );
    expect(updates).toEqual([
      { partition: 0, offsets: range(0, 5) },
      { partition: 1, offsets: range(0, 3) },
    ]);
    // Offsets are committed past the last batch taken, once its records are applied.
    expect(commits).toEqual([
      { partition: 0, offset: '6' },
      { partition: 1, offset: '4' },
    ]);
    expect(left).toBe(0);
  });

  it('takes no more records than a chunk, and never a batch that does not continue the partition', async () => {
    const { updates, commits } = await run(
      // 2 + 3 records exceed a chunk of 4; the last batch starts again at offset 4 (fetched again).
      [batch(0, 0, 2), batch(0, 2, 3), batch(0, 5, 1), batch(0, 4, 2)],
      4,
    );
    expect(updates).toEqual([
      { partition: 0, offsets: range(0, 1) },
      { partition: 0, offsets: range(2, 5) },
      { partition: 0, offsets: range(4, 5) },
    ]);
    expect(commits.map((c) => c.offset)).toEqual(['2', '6', '6']);
  });

  it('still cuts a large batch into chunks of at most maxChunk records', async () => {
    const { updates } = await run([batch(0, 0, 10), batch(0, 10, 2)], 4);
    expect(updates.map((u) => u.offsets.length)).toEqual([4, 4, 2, 2]);
  });
});
