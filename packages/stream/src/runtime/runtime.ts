import type { TopicName } from '@ondijon/contracts';
import { createBatchingProducer } from '@ondijon/kafka';
import type { AnyProcessor } from '../define';
import { ProcessorUnit } from './processor-unit';
import type { RuntimeOptions, RuntimeStats, StreamRuntime } from './types';

// The Kafka/Redis runtime, one file per job:
//   processor-unit.ts   one processor's consumer, wired to the parts below
//   fetch-queue.ts      batches fetched ahead of processing (bounded)
//   chunk-pipeline.ts   batches cut into chunks, decoded while the previous chunk is applied; rewinds
//   claims.ts           partition claims (fencing) and the check against the offset stored with the state
//   windowed-apply.ts   a chunk planned by the window engine (../planner.ts) and written to the store
//   stateless-apply.ts  a chunk of a stateless processor
//   emitter.ts          closing due windows, producing results and revisions
//   commit.ts           Kafka offset commits, never beyond what the store holds
//   output.ts           produced records and dead letters
//   redis-store.ts      the window store in Redis (scripts.ts); the harness uses ../memory-store.ts

export * from './types';

/** Creates a runtime for `processors` and starts it. */
export async function runProcessors(
  processors: readonly AnyProcessor[],
  options: RuntimeOptions,
): Promise<StreamRuntime> {
  const runtime = createStreamRuntime(processors, options);
  await runtime.start();
  return runtime;
}

/** Creates (without starting) a runtime for `processors`. */
export function createStreamRuntime(
  processors: readonly AnyProcessor[],
  options: RuntimeOptions,
): StreamRuntime {
  const names = new Set<string>();
  for (const p of processors) {
    if (names.has(p.name)) throw new Error(`processor ${p.name} is registered twice`);
    names.add(p.name);
  }
  const physical = (t: TopicName) => options.topicOverrides?.[t] ?? t;
  const producer = createBatchingProducer(options.kafka, { lingerMs: 2 });
  const stats: RuntimeStats = {
    processed: 0,
    emitted: 0,
    deadLettered: 0,
    late: 0,
    duplicates: 0,
    conflicts: 0,
    emitLatenciesMs: [],
  };
  const units = processors.map((p) => new ProcessorUnit(p, options, producer, physical, stats));
  let started = false;
  return {
    async start() {
      await producer.connect();
      await Promise.all(units.map((u) => u.start()));
      started = true;
    },
    async close() {
      await Promise.allSettled(units.map((u) => u.stop()));
      await producer.disconnect().catch(() => undefined);
      started = false;
    },
    isReady: () => started && producer.isHealthy() && units.every((u) => u.running),
    stats: () => stats,
    async backlog() {
      const all = await Promise.all(units.map((u) => u.backlog()));
      return all.reduce(
        (a, b) => ({ open: a.open + b.open, closing: a.closing + b.closing, dirty: a.dirty + b.dirty }),
        { open: 0, closing: 0, dirty: 0 },
      );
    },
  };
}
