import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { z } from 'zod';
import { TOPICS } from '@ondijon/contracts';
import { commonEnv, kafkaSecurityEnv, loadConfig, redisAuthEnv } from '@ondijon/service-kit';
import { WRITE_STEPS, storeEnv } from '@ondijon/opendata';

/** Root of the repository (services/publisher/src → ../../..). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const optionalNumber = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? undefined : Number(s)))
  .pipe(z.number().min(0).optional());

/** `dataset=topic,dataset=topic` → record. */
const topicMap = z
  .string()
  .optional()
  .transform((s, ctx) => {
    const out: Record<string, string> = {};
    for (const part of (s ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const [k, v] = part.split('=').map((x) => x.trim());
      if (!k || !v) ctx.addIssue({ code: 'custom', message: `expected dataset=topic, got "${part}"` });
      else out[k] = v;
    }
    return out;
  });

/** Environment of the publisher. */
export const PublisherEnv = z.object({
  ...commonEnv,
  ...kafkaSecurityEnv,
  ...redisAuthEnv,
  ...storeEnv,
  /** Port of /healthz, /readyz, /metrics (and of POST /publish-now unless PUBLISHER_ADMIN_PORT is set). */
  PUBLISHER_PORT: z.coerce.number().int().min(0).max(65535).default(19403),
  /** Bind address of the probes and metrics. */
  PUBLISHER_HOST: z.string().default('127.0.0.1'),
  /**
   * Bearer token of the admin endpoints (POST /publish-now), or PUBLISHER_ADMIN_TOKEN_FILE. Unset: they
   * answer 401; required with ONDIJON_ENV=production.
   */
  PUBLISHER_ADMIN_TOKEN: z.string().optional(),
  /** Port of a separate admin server (POST /publish-now there only); unset = on the probe port. */
  PUBLISHER_ADMIN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Bind address of the separate admin server. */
  PUBLISHER_ADMIN_HOST: z.string().default('127.0.0.1'),
  /** Root of the open-data store. */
  OPENDATA_DIR: z.string().default(join(REPO_ROOT, '.stack', 'opendata')),
  /**
   * Where the private state (staged aggregates, drawn noise, ε ledger) is kept: `dir` — the folder
   * PUBLISHER_STATE_DIR, one instance only; `redis` — Redis (REDIS_URL, the `publisher` ACL user), shared
   * by every instance of PUBLISHER_GROUP_ID, with a release lease (see docs/scale-out.md).
   */
  PUBLISHER_STATE_STORE: z.enum(['dir', 'redis']).default('dir'),
  /** Time to live of the release lease with PUBLISHER_STATE_STORE=redis, ms (renewed while held). */
  PUBLISHER_LEASE_MS: z.coerce.number().int().min(1000).default(30_000),
  /** Kafka session timeout of the consumer: how soon a dead instance's partitions move to another, ms. */
  PUBLISHER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(30_000),
  /** Private state with PUBLISHER_STATE_STORE=dir: staged aggregates and drawn noise (never public). */
  PUBLISHER_STATE_DIR: z.string().default(join(REPO_ROOT, '.stack', 'publisher')),
  /**
   * Equipment registry file (the one ingest loads): the communes without equipment of a dataset's
   * families are its structural zeros, the only cells published as exact zeros.
   */
  REGISTRY_FILE: z.string().default(join(REPO_ROOT, 'infra', 'registry', 'equipment.json')),
  /** Governance policy file (default: infra/governance/policy.yaml). */
  POLICY_PATH: z.string().optional(),
  /** Kafka consumer group. */
  PUBLISHER_GROUP_ID: z.string().default('ondijon-publisher'),
  /** Release trigger: a period closing in event time, a fixed interval, or only on demand (publish-now). */
  PUBLISHER_TRIGGER: z.enum(['event-time', 'interval', 'manual']).default('event-time'),
  /** How often due periods are looked for with the event-time trigger (the publication delay passes in wall-clock time), ms. */
  PUBLISHER_TICK_MS: z.coerce.number().int().positive().default(10_000),
  /** Interval of the interval trigger, ms. */
  PUBLISHER_RELEASE_INTERVAL_MS: z.coerce.number().int().positive().default(3_600_000),
  /**
   * UNSAFE, tests and demos only: replaces every dataset's publication delay (hours), even the 24 h
   * floor of person-derived data. Recorded in each release's notes (`publishDelayOverridden`).
   */
  PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS: optionalNumber,
  /** Source topic per dataset, overriding the policy (`dataset=topic,…`); tests use their own topics. */
  PUBLISHER_SOURCE_TOPICS: topicMap,
  /**
   * Topic that receives aggregate records failing their schema, like the other source topics overridable
   * (tests and prefixed runs use their own); default the registered `dlq.s3.stream.v1`.
   */
  PUBLISHER_DEAD_LETTER_TOPIC: z.string().trim().min(1).default(TOPICS['dlq.s3.stream.v1'].name),
  /** Datasets to publish (comma-separated; default every dataset of the policy). */
  PUBLISHER_DATASETS: z
    .string()
    .optional()
    .transform((s) =>
      s
        ? s
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : undefined,
    ),
  /** Read a new consumer group's topics from the beginning (aggregates are kept 400 days). */
  PUBLISHER_FROM_BEGINNING: z.stringbool().default(true),
  /** Fault tests only: SIGKILL the process at this step of a release write. */
  PUBLISHER_TEST_KILL_AT_STEP: z.enum(WRITE_STEPS).optional(),
});
/** The publisher's configuration. */
export type PublisherConfig = Readonly<z.infer<typeof PublisherEnv>>;

/** Loads the publisher's configuration from the environment (all problems at once). */
export function loadPublisherConfig(env: NodeJS.ProcessEnv = process.env): PublisherConfig {
  return loadConfig(PublisherEnv, env);
}
