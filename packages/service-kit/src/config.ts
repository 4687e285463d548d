import { z } from 'zod';
import { OnDijonError } from '@ondijon/contracts';

/**
 * Loads a service's configuration from the environment with a zod object schema, reporting every
 * problem at once and naming the variable (STYLE.md rule 7). The result is frozen.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<S>> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new OnDijonError('ONDIJON_CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`, {
      details: { variables: parsed.error.issues.map((i) => i.path.join('.')) },
    });
  }
  return Object.freeze(parsed.data);
}

/** Common environment of every service: endpoints of the stack and the HTTP port of its probes. */
export const commonEnv = {
  /** Comma-separated Kafka bootstrap brokers. */
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:19092')
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    ),
  /** MQTT broker URL. */
  MQTT_URL: z.string().default('mqtt://127.0.0.1:11883'),
  /** Redis URL. */
  REDIS_URL: z.string().default('redis://127.0.0.1:16379'),
  /** pino level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Deadline of graceful shutdown, ms. */
  SHUTDOWN_DEADLINE_MS: z.coerce.number().int().positive().default(10_000),
};
