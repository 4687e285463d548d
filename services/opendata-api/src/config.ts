import { resolve } from 'node:path';
import { z } from 'zod';
import { storeEnv } from '@ondijon/opendata';
import { commonEnv, loadConfig } from '@ondijon/service-kit';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/** Environment of the open-data API (see .env.example). */
export const ConfigSchema = z
  .object({
    LOG_LEVEL: commonEnv.LOG_LEVEL,
    SHUTDOWN_DEADLINE_MS: commonEnv.SHUTDOWN_DEADLINE_MS,
    /** Root of the open-data store (read-only here). */
    OPENDATA_DIR: z.string().default(resolve(REPO_ROOT, '.stack/opendata')),
    /** Or an S3-compatible bucket: OPENDATA_STORE=s3://bucket/prefix with OPENDATA_S3_* (docs/scale-out.md). */
    ...storeEnv,
    /** Listen address and port. */
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(18080),
    /** Absolute base URL used in links (DCAT IRIs, download URLs); default: derived from each request's Host. */
    PUBLIC_BASE_URL: z.url().optional(),
    /** Rate limiting per client IP. */
    RATE_LIMIT_ENABLED: z.stringbool().default(true),
    RATE_LIMIT_MAX: z.coerce.number().int().positive().default(600),
    RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
    /**
     * How long a store file checked unchanged is trusted without another stat (ms): requests then
     * make no file-system round trip; a new release is served at most this long after it is written.
     */
    STORE_REVALIDATE_MS: z.coerce.number().int().min(0).default(1000),
    /**
     * Run long scans (filtered, sorted or grouped queries over large releases) in a worker thread at
     * a lower OS priority, so cheap requests are not queued behind them.
     */
    SCAN_WORKER: z.stringbool().default(true),
    /** Nice value of the scan worker thread (Linux): higher = the HTTP thread wins the CPU more often. */
    SCAN_WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /** Site title shown by CKAN status_show and the DCAT catalogue. */
    SITE_TITLE: z.string().default('OnDijon — données ouvertes de Dijon Métropole'),
    /**
     * Deployment mode. In production PUBLIC_BASE_URL is required: links built from a client's Host
     * header would otherwise be cached and served to others.
     */
    ONDIJON_ENV: z.enum(['development', 'test', 'production']).default('development'),
  })
  .superRefine((c, ctx) => {
    if (c.ONDIJON_ENV === 'production' && !c.PUBLIC_BASE_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_BASE_URL'],
        message:
          'required when ONDIJON_ENV=production (the absolute base URL of links, e.g. https://data.example.fr)',
      });
  });
/** Configuration of the open-data API. */
export type Config = z.infer<typeof ConfigSchema>;

/** The effective STORE_REVALIDATE_MS (see the schema). */
export function storeRevalidateMs(c: Readonly<Config>): number {
  return c.STORE_REVALIDATE_MS ?? (c.ONDIJON_ENV === 'production' ? 1000 : 0);
}

/** Loads the configuration from the environment (all problems at once, frozen). */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  return loadConfig(ConfigSchema, env);
}

/** A configuration for tests: defaults with overrides, validated the same way. */
export function testConfig(overrides: Partial<Record<keyof Config, string>> = {}): Readonly<Config> {
  return loadConfig(ConfigSchema, {
    PORT: '0',
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}
