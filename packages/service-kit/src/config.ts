import { readFileSync } from 'node:fs';
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
  const parsed = schema.safeParse(withSecretFiles(schema, env));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new OnDijonError('ONDIJON_CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`, {
      details: { variables: parsed.error.issues.map((i) => i.path.join('.')) },
    });
  }
  return Object.freeze(parsed.data);
}

/**
 * The environment with each variable `X` of the schema that is unset but has `X_FILE` set read from
 * that file (the container-secret convention; one trailing newline dropped). An unreadable file is a
 * configuration error naming `X_FILE`.
 */
export function withSecretFiles(schema: z.ZodObject, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const key of Object.keys(schema.shape)) {
    const file = env[`${key}_FILE`];
    if (env[key] !== undefined || file === undefined || file === '') continue;
    try {
      out[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new OnDijonError(
        'ONDIJON_CONFIG_INVALID',
        `invalid configuration:\n  ${key}_FILE: cannot read ${file} (${why})`,
        { details: { variables: [`${key}_FILE`] } },
      );
    }
  }
  return out;
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
  /** MQTT principal of this service (the local stack's are under `.stack/secrets/mqtt/`). */
  MQTT_USERNAME: z.string().min(1).optional(),
  /** Its password (or `MQTT_PASSWORD_FILE`); never logged. */
  MQTT_PASSWORD: z.string().min(1).optional(),
  /** Redis URL. */
  REDIS_URL: z.string().default('redis://127.0.0.1:16379'),
  /** pino level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Deadline of graceful shutdown, ms. */
  SHUTDOWN_DEADLINE_MS: z.coerce.number().int().positive().default(10_000),
};
