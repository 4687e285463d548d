import { isOnDijonError, type DeadLetter, type TopicName } from '@ondijon/contracts';
import type { AnyStatelessProcessor } from './define';
import { deadLetterFor, processorContext, validateOutput, type Decoded, type RawRecord } from './engine';

/** One output of a stateless processor, validated against its topic. */
export interface StatelessOutput {
  topic: TopicName;
  key: string | null;
  value: unknown;
}

/**
 * Runs a stateless processor on one decoded record: its outputs, validated in order, and a dead letter
 * when it throws or produces an invalid record (the outputs validated before it are still produced).
 * Shared by the runtime and the harness.
 */
export function processStateless(
  def: AnyStatelessProcessor,
  raw: RawRecord,
  decoded: Decoded & { ok: true },
  log: (fields: Record<string, unknown>, msg: string) => void,
): { outputs: StatelessOutput[]; letter?: DeadLetter } {
  const outputs: StatelessOutput[] = [];
  try {
    const out = def.process(decoded.record, processorContext(def, log, raw.topic));
    const list = (out === undefined || out === null ? [] : Array.isArray(out) ? out : [out]) as {
      topic: TopicName;
      key?: string;
      value: unknown;
    }[];
    for (const o of list)
      outputs.push({ topic: o.topic, key: o.key ?? raw.key, value: validateOutput(def, o.topic, o.value) });
    return { outputs };
  } catch (err) {
    return {
      outputs,
      letter: deadLetterFor(
        def.name,
        raw,
        isOnDijonError(err) ? err.code : 'ONDIJON_PROCESSOR_FAILED',
        err instanceof Error ? err.message : String(err),
      ),
    };
  }
}
