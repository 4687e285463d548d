// The kafkajs speed-ups, behind one door: a faster record encoder and CRC-32C for produce requests
// (record-encoder.ts) and a faster record batch decoder for fetch responses (fetch-decoder.ts), both
// put in place of kafkajs' own modules in the CommonJS cache. They reach into kafkajs' internals, so
// they are installed only over the kafkajs version they were written and tested against, only when
// `installKafkajsSpeedups` is called, and only while the one switch, `ONDIJON_KAFKAJS_SPEEDUPS`, is
// not `off`. Importing this package installs nothing (CONTRIBUTING.md rule 17): the factories of the
// package call it before kafkajs produces or fetches (`createKafka`, `createConsumer`,
// `createBatchingProducer`), as may a process that builds its kafkajs clients itself (the benches). Their equivalence tests (the
// same bytes and the same decoded batches as kafkajs') are in test/kafkajs-speedups/.
import { createRequire } from 'node:module';
import path from 'node:path';
import { installFetchDecoder } from './fetch-decoder';
import { installRecordEncoder } from './record-encoder';

const require = createRequire(import.meta.url);

/**
 * The kafkajs version the speed-ups were written against (the workspace catalog pins it exactly).
 * Another version runs stock kafkajs until the equivalence tests pass on it and this is updated.
 */
export const KAFKAJS_PINNED_VERSION = '2.2.4';

/** The environment variable that turns the speed-ups off (`off`, or `false`). */
export const KAFKAJS_SPEEDUPS_SWITCH = 'ONDIJON_KAFKAJS_SPEEDUPS';

/** The kafkajs version this process loads. */
export function kafkajsVersion(): string {
  const main = require.resolve('kafkajs');
  return (require(path.join(path.dirname(main), 'package.json')) as { version: string }).version;
}

/** What `installKafkajsSpeedups` did. */
export interface KafkajsSpeedups {
  /** Produce requests use the fast record encoder and CRC-32C. */
  recordEncoder: boolean;
  /** Fetch responses use the fast record batch decoder. */
  fetchDecoder: boolean;
  /** Why they are not installed, when they are not. */
  reason?: string;
}

let result: KafkajsSpeedups | undefined;

/**
 * Installs the kafkajs speed-ups once per process (later calls return the first answer). They are
 * left out when switched off, when kafkajs is not the pinned version, or when kafkajs already
 * produced or fetched (its modules captured their own encoder and decoder).
 */
export function installKafkajsSpeedups(env: NodeJS.ProcessEnv = process.env): KafkajsSpeedups {
  if (result) return result;
  const flag = env[KAFKAJS_SPEEDUPS_SWITCH]?.toLowerCase();
  if (flag === 'off' || flag === 'false')
    return (result = {
      recordEncoder: false,
      fetchDecoder: false,
      reason: `${KAFKAJS_SPEEDUPS_SWITCH}=${flag}`,
    });
  const version = kafkajsVersion();
  if (version !== KAFKAJS_PINNED_VERSION)
    return (result = {
      recordEncoder: false,
      fetchDecoder: false,
      reason: `kafkajs ${version} is not ${KAFKAJS_PINNED_VERSION}, the version the speed-ups were tested on`,
    });
  const recordEncoder = installRecordEncoder();
  const fetchDecoder = installFetchDecoder();
  result = { recordEncoder, fetchDecoder };
  if (!recordEncoder || !fetchDecoder) result.reason = 'kafkajs produced or fetched before the install';
  return result;
}

export { fastRecordEncoder, fastRecordEncoding, type RecordInput } from './record-encoder';
export {
  fastFetchDecoding,
  fastFetchStats,
  setFastFetchDecoding,
  setFetchHeaderSubset,
  type FastFetchStats,
} from './fetch-decoder';
