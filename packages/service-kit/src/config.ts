import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OnDijonError } from '@ondijon/contracts';

/**
 * The environment with every `<NAME>_FILE` of the schema's variables read into `<NAME>` (the
 * container-secret convention) when `<NAME>` itself is unset; one trailing newline is dropped. A file that
 * cannot be read is an issue naming `<NAME>_FILE`.
 */
export function resolveFileVariables(
  names: readonly string[],
  env: NodeJS.ProcessEnv,
): { env: NodeJS.ProcessEnv; issues: string[] } {
  const out: NodeJS.ProcessEnv = { ...env };
  const issues: string[] = [];
  for (const name of names) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '' || (env[name] !== undefined && env[name] !== '')) continue;
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      issues.push(
        `  ${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  return { env: out, issues };
}

/**
 * Loads a service's configuration from the environment with a zod object schema, reporting every
 * problem at once and naming the variable (CONTRIBUTING.md rule 7). Every variable may be given as
 * `<NAME>_FILE` instead. The result is frozen.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  rawEnv: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<S>> {
  const { env, issues } = resolveFileVariables(Object.keys(schema.shape), rawEnv);
  const parsed = schema.safeParse(env);
  if (!parsed.success || issues.length > 0) {
    const lines = [
      ...issues,
      ...(parsed.success
        ? []
        : parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`)),
    ];
    throw new OnDijonError('ONDIJON_CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`, {
      details: {
        variables: [
          ...issues.map((l) => l.trim().split(':')[0]!),
          ...(parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'))),
        ],
      },
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
  /** `production` makes every secret of the service required and checked (`requireSecrets`); default `development`. */
  ONDIJON_ENV: z.enum(['development', 'production']).default('development'),
};

/** Kafka client security of a service (SASL/SCRAM and optional TLS); each may be given as `<NAME>_FILE`. */
export const kafkaSecurityEnv = {
  /** SASL principal of the service (`ingest`, `processors`, `publisher`, `replay`…); unset = no authentication. */
  KAFKA_SASL_USERNAME: z.string().optional(),
  /** Its password (or `KAFKA_SASL_PASSWORD_FILE`). */
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /** SASL mechanism. */
  KAFKA_SASL_MECHANISM: z.enum(['scram-sha-512', 'scram-sha-256', 'plain']).default('scram-sha-512'),
  /** TLS to the brokers. */
  KAFKA_SSL: z.stringbool().default(false),
  /** PEM of the CA that signed the brokers' certificates (or `KAFKA_SSL_CA_FILE`). */
  KAFKA_SSL_CA: z.string().optional(),
};

/**
 * The Kafka security settings of a config, in the shape `createKafka({ security })` takes; undefined when
 * the config names no principal and no TLS (createKafka then reads `KAFKA_SASL_*` from the process env).
 */
export function kafkaSecurityOf(config: {
  KAFKA_SASL_USERNAME?: string | undefined;
  KAFKA_SASL_PASSWORD?: string | undefined;
  KAFKA_SASL_MECHANISM?: 'scram-sha-512' | 'scram-sha-256' | 'plain';
  KAFKA_SSL?: boolean;
  KAFKA_SSL_CA?: string | undefined;
}):
  | {
      sasl?: { username: string; password: string; mechanism: 'scram-sha-512' | 'scram-sha-256' | 'plain' };
      ssl?: boolean | { ca: string };
    }
  | undefined {
  if (!config.KAFKA_SASL_USERNAME && !config.KAFKA_SSL && !config.KAFKA_SSL_CA) return undefined;
  return {
    ...(config.KAFKA_SASL_USERNAME
      ? {
          sasl: {
            username: config.KAFKA_SASL_USERNAME,
            password: config.KAFKA_SASL_PASSWORD ?? '',
            mechanism: config.KAFKA_SASL_MECHANISM ?? 'scram-sha-512',
          },
        }
      : {}),
    ...(config.KAFKA_SSL_CA ? { ssl: { ca: config.KAFKA_SSL_CA } } : config.KAFKA_SSL ? { ssl: true } : {}),
  };
}

/** Redis credentials of a service (ACL user), beside or instead of those in `REDIS_URL`. */
export const redisAuthEnv = {
  /** Redis ACL user of the service (`processors`). */
  REDIS_USERNAME: z.string().optional(),
  /** Its password (or `REDIS_PASSWORD_FILE`). */
  REDIS_PASSWORD: z.string().optional(),
};

/** ioredis options of the Redis credentials of a config (empty when none is set; the URL's then apply). */
export function redisAuthOf(config: {
  REDIS_USERNAME?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
}): {
  username?: string;
  password?: string;
} {
  return {
    ...(config.REDIS_USERNAME ? { username: config.REDIS_USERNAME } : {}),
    ...(config.REDIS_PASSWORD ? { password: config.REDIS_PASSWORD } : {}),
  };
}

/** One secret a service needs in production. */
export interface SecretRequirement {
  /** The variable (also accepted as `<name>_FILE`). */
  name: string;
  /** Its value after `_FILE` resolution (undefined or '' = missing). */
  value: string | undefined;
  /** Shortest acceptable length (default 16). */
  minLength?: number;
  /** Values that are known and so worthless (a development default). */
  forbidden?: readonly string[];
}

/**
 * Fails closed with `ONDIJON_ENV=production`: the first missing or weak secret throws
 * `ONDIJON_SECRET_MISSING` with one sentence naming the variable (never its value). Does nothing in
 * development mode.
 */
export function requireSecrets(
  mode: 'development' | 'production',
  requirements: readonly SecretRequirement[],
): void {
  if (mode !== 'production') return;
  for (const r of requirements) {
    const min = r.minLength ?? 16;
    let problem: string | undefined;
    if (r.value === undefined || r.value === '') problem = 'is not set';
    else if (r.value.length < min) problem = `is shorter than ${min} characters`;
    else if (r.forbidden?.includes(r.value)) problem = 'is a published development value';
    if (problem !== undefined) {
      throw new OnDijonError(
        'ONDIJON_SECRET_MISSING',
        `${r.name} ${problem} and ONDIJON_ENV=production: set it (or ${r.name}_FILE) to a secret of at least ${min} characters before starting.`,
        { details: { variables: [r.name] } },
      );
    }
  }
}

/** The secret requirements of a Kafka client in production: a principal and its password. */
export function kafkaSecretRequirements(config: {
  KAFKA_SASL_USERNAME?: string | undefined;
  KAFKA_SASL_PASSWORD?: string | undefined;
}): SecretRequirement[] {
  return [
    { name: 'KAFKA_SASL_USERNAME', value: config.KAFKA_SASL_USERNAME, minLength: 1 },
    { name: 'KAFKA_SASL_PASSWORD', value: config.KAFKA_SASL_PASSWORD },
  ];
}
