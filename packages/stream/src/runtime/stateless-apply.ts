import type { DeadLetter } from '@ondijon/contracts';
import type { AnyStatelessProcessor } from '../define';
import { decode, type RawRecord, type StreamLogger } from '../engine';
import { processStateless } from '../stateless';
import type { ProcessorOutput } from './output';
import type { RuntimeStats, StreamMetrics } from './types';

/**
 * Runs a stateless processor on a chunk. Outputs are produced and acknowledged before the offset is
 * resolved (at least once); output ids derive from input ids, so a replay produces the same records
 * for downstream dedupe.
 */
export async function applyStateless(
  def: AnyStatelessProcessor,
  raws: RawRecord[],
  output: ProcessorOutput,
  stats: RuntimeStats,
  metrics: StreamMetrics,
  logger: StreamLogger,
): Promise<void> {
  const sends: Promise<void>[] = [];
  const letters: DeadLetter[] = [];
  for (const raw of raws) {
    const d = decode(def, raw);
    if (!d.ok) {
      letters.push(d.deadLetter);
      continue;
    }
    const log = (fields: Record<string, unknown>, msg: string) =>
      logger.info({ ...fields, topic: raw.topic, partition: raw.partition, offset: raw.offset }, msg);
    const { outputs, letter } = processStateless(def, raw, d, log);
    for (const o of outputs) sends.push(output.send(o.topic, o.key, o.value));
    if (letter) letters.push(letter);
  }
  await Promise.all([...sends, output.deadLetter(letters)]);
  stats.processed += raws.length;
  metrics.processed(def.name, raws[0]!.topic, raws.length);
}
