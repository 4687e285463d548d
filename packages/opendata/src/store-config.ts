// The store's location in a service's environment (issue 17, item 2): a directory (OPENDATA_DIR) or an
// S3-compatible bucket (OPENDATA_STORE=s3://bucket/prefix with OPENDATA_S3_*; the secret key may be given
// as OPENDATA_S3_SECRET_ACCESS_KEY_FILE like every other secret).
import { z } from 'zod';
import { openBackend, type S3StoreOptions, type StoreBackend } from './backend';

/** Environment of the store's location, shared by the publisher (writer) and the open-data API (reader). */
export const storeEnv = {
  /** `s3://bucket/prefix` (S3-compatible server) or a directory; unset: OPENDATA_DIR. */
  OPENDATA_STORE: z.string().trim().min(1).optional(),
  /** Endpoint of the S3-compatible server, e.g. `http://127.0.0.1:24333`; unset: the SDK's default. */
  OPENDATA_S3_ENDPOINT: z.url().optional(),
  OPENDATA_S3_REGION: z.string().default('us-east-1'),
  OPENDATA_S3_ACCESS_KEY_ID: z.string().optional(),
  /** Its secret (or OPENDATA_S3_SECRET_ACCESS_KEY_FILE); never logged. */
  OPENDATA_S3_SECRET_ACCESS_KEY: z.string().optional(),
  /** Path-style addressing (`endpoint/bucket/key`), what self-hosted servers need. */
  OPENDATA_S3_FORCE_PATH_STYLE: z.stringbool().default(true),
};

/** The store part of a service's configuration. */
export interface StoreConfig {
  OPENDATA_DIR: string;
  OPENDATA_STORE?: string | undefined;
  OPENDATA_S3_ENDPOINT?: string | undefined;
  OPENDATA_S3_REGION?: string | undefined;
  OPENDATA_S3_ACCESS_KEY_ID?: string | undefined;
  OPENDATA_S3_SECRET_ACCESS_KEY?: string | undefined;
  OPENDATA_S3_FORCE_PATH_STYLE?: boolean | undefined;
}

/** Where the store is: `s3://…` or a directory. */
export function storeLocationOf(config: StoreConfig): string {
  return config.OPENDATA_STORE ?? config.OPENDATA_DIR;
}

/** S3 connection options of a configuration. */
export function s3OptionsOf(config: StoreConfig): S3StoreOptions {
  return {
    endpoint: config.OPENDATA_S3_ENDPOINT,
    region: config.OPENDATA_S3_REGION,
    accessKeyId: config.OPENDATA_S3_ACCESS_KEY_ID,
    secretAccessKey: config.OPENDATA_S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.OPENDATA_S3_FORCE_PATH_STYLE,
  };
}

/** The store backend a configuration names. */
export function storeBackendOf(config: StoreConfig): StoreBackend {
  return openBackend(storeLocationOf(config), s3OptionsOf(config));
}
