import { TOPICS } from '@ondijon/contracts';
import { commonEnv, kafkaSecurityEnv, loadConfig, redisAuthEnv } from '@ondijon/service-kit';
import { z } from 'zod';

const topicOverrides = z
  .string()
  .default('{}')
  .transform((s, ctx) => {
    try {
      const parsed = z.record(z.string(), z.string().min(1)).parse(JSON.parse(s));
      for (const k of Object.keys(parsed))
        if (!(k in TOPICS)) ctx.addIssue({ code: 'custom', message: `unknown topic ${k}` });
      return parsed;
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a JSON object { "<registry topic>": "<physical topic>" }',
      });
      return z.NEVER;
    }
  });

/** Environment of the processors service (CONTRIBUTING.md rule 7). */
export const ProcessorsEnv = z.object({
  ...commonEnv,
  ...kafkaSecurityEnv,
  ...redisAuthEnv,
  /** Port of /healthz, /readyz and /metrics. */
  PROBE_PORT: z.coerce.number().int().min(0).max(65_535).default(19_402),
  /** Bind address of the probes and metrics (`0.0.0.0` to let a scraper on another host reach them). */
  PROBE_HOST: z.string().default('127.0.0.1'),
  /** Consumer group prefix: each processor consumes in `<prefix>.<processor>`. */
  PROCESSORS_GROUP_ID: z.string().min(1).default('ondijon-processors'),
  /** Comma-separated processor names to run (default: all registered). */
  PROCESSORS_ENABLED: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  /** Redis key prefix of processor state. */
  STREAM_KEY_PREFIX: z.string().min(1).default('processors:stream:'),
  /** A partition idle this long no longer holds the watermark back; all idle flushes every open window, ms. */
  STREAM_IDLE_FLUSH_MS: z.coerce.number().int().positive().default(30_000),
  /** Emitter period besides after each chunk, ms. */
  STREAM_EMIT_INTERVAL_MS: z.coerce.number().int().positive().default(500),
  /** Records per atomic Redis state update. */
  STREAM_MAX_CHUNK: z.coerce.number().int().min(1).max(5_000).default(1_000),
  /** Records fetched ahead of processing before the consumer waits (memory bound of the fetch-ahead). */
  STREAM_MAX_QUEUED: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /** Bytes (keys and values) fetched ahead of processing before the consumer waits. */
  STREAM_MAX_QUEUED_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(32 * 1_048_576),
  /** Kafka consumer session timeout, ms: how long a dead instance keeps its partitions (broker minimum 6000). */
  STREAM_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).default(30_000),
  /** Registry topic → physical topic, JSON (tests and staging run on their own topics). */
  STREAM_TOPIC_OVERRIDES: topicOverrides,
});
/** Configuration of the processors service. */
export type ProcessorsConfig = z.infer<typeof ProcessorsEnv>;

/** Loads and freezes the configuration from the environment. */
export function loadProcessorsConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ProcessorsConfig> {
  return loadConfig(ProcessorsEnv, env);
}
