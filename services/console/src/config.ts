import { resolve } from 'node:path';
import { z } from 'zod';
import { RoleMapEnv } from './oidc';
import {
  commonEnv,
  kafkaSecretRequirements,
  kafkaSecurityEnv,
  loadConfig,
  requireSecrets,
} from '@ondijon/service-kit';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/** Environment of the console (see .env.example). */
export const ConfigSchema = z.object({
  KAFKA_BROKERS: commonEnv.KAFKA_BROKERS,
  ...kafkaSecurityEnv,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  SHUTDOWN_DEADLINE_MS: commonEnv.SHUTDOWN_DEADLINE_MS,
  ONDIJON_ENV: commonEnv.ONDIJON_ENV,
  /** Listen address and port of the console (pages, JSON, SSE, probes). */
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(18090),
  /** Prefix of every Kafka topic name (a run's namespace; '' = the registry's names). */
  KAFKA_TOPIC_PREFIX: z.string().default(''),
  /** Kafka consumer group prefix; must start with the console principal's prefix `ondijon-console`. */
  CONSOLE_GROUP_ID: z
    .string()
    .regex(/^ondijon-console/, 'must start with ondijon-console (the ACL prefix of the console principal)')
    .default('ondijon-console'),
  /** The equipment registry (the file ingest reads). */
  REGISTRY_FILE: z.string().default(resolve(REPO_ROOT, 'infra/registry/equipment.json')),
  /** The governance policy: which payload fields are above S1 and so masked. */
  POLICY_FILE: z.string().default(resolve(REPO_ROOT, 'infra/governance/policy.yaml')),
  /** The open-data store the publisher writes (read-only here: the governance page). */
  OPENDATA_DIR: z.string().default(resolve(REPO_ROOT, '.stack/opendata')),
  /** The users file: logins, roles and scrypt hashes (`pnpm stack up` writes the demo users'). */
  CONSOLE_USERS_FILE: z.string().min(1),
  /** Key of the signed session and CSRF cookies (or `CONSOLE_SESSION_SECRET_FILE`), at least 32 characters. */
  CONSOLE_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters'),
  /** Session lifetime, minutes. */
  CONSOLE_SESSION_MINUTES: z.coerce.number().int().positive().default(480),
  /** Secure attribute of the cookies (HTTPS only); default on in production. */
  CONSOLE_SECURE_COOKIES: z.stringbool().optional(),
  /** Map tiles (`https://…/{z}/{x}/{y}.png`); unset = no tile server, points over a blank map. */
  CONSOLE_TILE_URL: z.string().optional(),
  /** Attribution shown with the tiles. */
  CONSOLE_TILE_ATTRIBUTION: z.string().default(''),
  /** Ingest's Prometheus metrics (comma-separated, one per instance): latency on the overview. */
  CONSOLE_INGEST_METRICS_URLS: z
    .string()
    .default('http://127.0.0.1:19401/metrics')
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== ''),
    ),
  /** The processors' Prometheus metrics (comma-separated): consumer lag on the overview. */
  CONSOLE_PROCESSORS_METRICS_URLS: z
    .string()
    .default('http://127.0.0.1:19402/metrics')
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== ''),
    ),
  /** The overview's pipeline figures (metrics, store) are read at most once per this many ms. */
  CONSOLE_PIPELINE_REFRESH_MS: z.coerce.number().int().min(500).default(5000),
  /** Login attempts per source address per window (every attempt counts). */
  CONSOLE_LOGIN_MAX_PER_ADDRESS: z.coerce.number().int().positive().default(30),
  /** Failed login attempts per account per window. */
  CONSOLE_LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().positive().default(5),
  /** The login rate-limit window, seconds. */
  CONSOLE_LOGIN_WINDOW_S: z.coerce.number().int().positive().default(900),
  /** Addresses and accounts the login limiter remembers at most (bounded memory). */
  CONSOLE_LOGIN_LIMIT_ENTRIES: z.coerce.number().int().positive().default(10_000),
  /** Seconds between two live (SSE) updates of a page. */
  CONSOLE_PUSH_INTERVAL_MS: z.coerce.number().int().min(200).default(2000),
  /** An equipment is silent after this many reporting intervals without a report. */
  CONSOLE_SILENT_INTERVALS: z.coerce.number().positive().default(3),
  /** Dead letters kept in memory for the rejections page. */
  CONSOLE_DEAD_LETTERS_KEPT: z.coerce.number().int().positive().default(5000),
  /**
   * Replay of dead letters from the rejections page (issue 15, item 3): runs ingest's replay tool
   * (`services/ingest` `dead-letters replay --id …`) as the `replay` Kafka principal given below.
   */
  CONSOLE_REPLAY: z.stringbool().default(false),
  /** The replay tool's Kafka principal and password (or `_FILE`), and the pseudonymisation secret ingest uses. */
  REPLAY_KAFKA_SASL_USERNAME: z.string().optional(),
  REPLAY_KAFKA_SASL_PASSWORD: z.string().optional(),
  REPLAY_ONDIJON_PSEUDONYM_SECRET: z.string().optional(),
  /** The replay tool's private key of sealed dead letters (PEM, or `_FILE`): ingest seals each payload to it. */
  REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY: z.string().optional(),
  /** The registry a replay checks letters against (the fixed one); default REGISTRY_FILE. */
  REPLAY_REGISTRY_FILE: z.string().optional(),
  /** MQTT topic prefix of the run (dead letters carry it in their topic). */
  CONSOLE_MQTT_TOPIC_PREFIX: z.string().default(''),
  /** Read dead letters from the start of their topics (14-day retention) or only new ones. */
  CONSOLE_DEAD_LETTERS_FROM_BEGINNING: z.stringbool().default(true),
  /**
   * Read the S1 telemetry topics from their start instead of their end (the console shows the present;
   * `pnpm bench:console-feed` sets it to time the console's reading of records already in Kafka).
   */
  CONSOLE_TELEMETRY_FROM_BEGINNING: z.stringbool().default(false),
  /**
   * Single sign-on (OpenID Connect, authorization code + PKCE): the provider's issuer URL. Unset = local
   * logins only (the default); set = the sign-in page also offers the provider, local logins still work.
   */
  CONSOLE_OIDC_ISSUER: z.url().optional(),
  /** The console's client id at the provider. */
  CONSOLE_OIDC_CLIENT_ID: z.string().min(1).optional(),
  /** Its client secret (or `_FILE`); unset = a public client (PKCE only). */
  CONSOLE_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** The callback URL registered with the provider: `<console URL>/auth/oidc/callback`. */
  CONSOLE_OIDC_REDIRECT_URI: z.url().optional(),
  /** Where the provider sends the browser after its logout (registered with it); unset: its own page. */
  CONSOLE_OIDC_POST_LOGOUT_REDIRECT_URI: z.url().optional(),
  /** Scopes asked for (must bring the login and groups claims, in the ID token or from userinfo). */
  CONSOLE_OIDC_SCOPES: z.string().default('openid profile'),
  /** Claim naming the user (audit lines); `sub` when absent. */
  CONSOLE_OIDC_LOGIN_CLAIM: z.string().min(1).default('preferred_username'),
  /** Claim holding the user's groups (a string or an array). */
  CONSOLE_OIDC_ROLES_CLAIM: z.string().min(1).default('groups'),
  /**
   * Group → console role, first match wins: `<group>=supervisor`, `<group>=governance`,
   * `<group>=operator:<operator>`, comma-separated. A user in none of them is refused.
   */
  CONSOLE_OIDC_ROLE_MAP: RoleMapEnv.default([]),
});
/** Configuration of the console. */
export type Config = z.infer<typeof ConfigSchema>;

/** The single sign-on settings, checked together: every problem named at once (CONTRIBUTING.md rule 7). */
const OidcComplete = ConfigSchema.superRefine((c, ctx) => {
  if (c.CONSOLE_OIDC_ISSUER === undefined) return;
  for (const name of ['CONSOLE_OIDC_CLIENT_ID', 'CONSOLE_OIDC_REDIRECT_URI'] as const)
    if (c[name] === undefined)
      ctx.addIssue({ code: 'custom', path: [name], message: 'required when CONSOLE_OIDC_ISSUER is set' });
  if (c.CONSOLE_OIDC_ROLE_MAP.length === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['CONSOLE_OIDC_ROLE_MAP'],
      message: 'required when CONSOLE_OIDC_ISSUER is set (no group would grant a role)',
    });
  if (c.ONDIJON_ENV === 'production')
    for (const name of ['CONSOLE_OIDC_ISSUER', 'CONSOLE_OIDC_REDIRECT_URI'] as const)
      if (c[name]?.startsWith('http:'))
        ctx.addIssue({ code: 'custom', path: [name], message: 'must be https in production' });
});

/** Loads the configuration (all problems at once, frozen) and checks the secrets in production. */
export function loadConsoleConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const config = loadConfig(OidcComplete, env);
  requireSecrets(config.ONDIJON_ENV, [
    ...kafkaSecretRequirements(config),
    { name: 'CONSOLE_SESSION_SECRET', value: config.CONSOLE_SESSION_SECRET, minLength: 32 },
  ]);
  return config;
}

/** Whether cookies carry `Secure`. */
export function secureCookies(config: Readonly<Config>): boolean {
  return config.CONSOLE_SECURE_COOKIES ?? config.ONDIJON_ENV === 'production';
}
