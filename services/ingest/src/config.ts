import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WIRE_LIMITS } from '@ondijon/contracts';
import { commonEnv, kafkaSecurityEnv, loadConfig } from '@ondijon/service-kit';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The committed default equipment registry. */
export const DEFAULT_REGISTRY_FILE = path.join(repoRoot, 'infra', 'registry', 'equipment.json');

/** Environment of the ingest service (CONTRIBUTING.md rule 7); see `.env.example`. */
export const IngestEnv = z.object({
  ...commonEnv,
  ...kafkaSecurityEnv,
  /**
   * Key of the keyed pseudonyms (or ONDIJON_PSEUDONYM_SECRET_FILE); at least 32 characters. Unset in
   * development: the governance package's development secret (a warning); required with ONDIJON_ENV=production.
   */
  ONDIJON_PSEUDONYM_SECRET: z.string().optional(),
  /**
   * X25519 public key (PEM, or ONDIJON_DEAD_LETTER_PUBLIC_KEY_FILE) to which dead letters' payloads are
   * sealed (packages/governance/src/seal.ts); only the replay tool holds the private key. Unset in
   * development: payloads are kept in clear (a warning); required with ONDIJON_ENV=production.
   */
  ONDIJON_DEAD_LETTER_PUBLIC_KEY: z.string().optional(),
  /**
   * Further brokers to fail over to, comma-separated URLs (the backup of a replicated pair,
   * docs/mqtt-broker.md): every connection tries MQTT_URL first, then each of these in turn at each
   * reconnection. Empty: MQTT_URL only.
   */
  MQTT_FAILOVER_URLS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== ''),
    )
    .pipe(z.array(z.url({ protocol: /^mqtts?$/ }))),
  /** MQTT connections per process, all in one shared subscription, feeding one Kafka producer. */
  INGEST_CONNECTIONS: z.coerce.number().int().min(1).max(256).default(16),
  /** Shared-subscription group (`$share/<group>/…`): every ingest instance of a deployment joins the same one. */
  MQTT_SHARE_GROUP: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('ingest'),
  /**
   * Client id prefix; connection i of a process is `<prefix>-<boot>-<i>`, `<boot>` new at each start.
   * The shared subscription is one durable queue on the broker (Artemis), not a share per session, so
   * nothing waits for a client id to come back; a fresh id per start never resumes a dead process's
   * session (Artemis 2.40 would count that session's unacknowledged messages against the window).
   */
  MQTT_CLIENT_ID_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default(`ondijon-ingest-${hostname()}`),
  /** MQTT 5 session expiry, s: how long the broker keeps an absent ingest's queue (default one day). */
  MQTT_SESSION_EXPIRY_S: z.coerce.number().int().min(1).default(86_400),
  /**
   * QoS 1 messages ingest holds per connection while Kafka acknowledges them: past this it stops reading
   * the connection and TCP pushes back to the broker, which keeps the messages. Bounds memory to
   * connections × this; 64 keeps a connection busy across a Kafka round trip of a few ms.
   */
  MQTT_RECEIVE_MAXIMUM: z.coerce.number().int().min(1).max(65_535).default(64),
  /** MQTT keepalive, s. */
  MQTT_KEEPALIVE_S: z.coerce.number().int().min(5).default(60),
  /**
   * Prefix of every MQTT topic read (tests: `t/<unique>/`): ingest subscribes to
   * `$share/<group>/<prefix>ondijon/v1/#` and strips the prefix before parsing the topic grammar.
   */
  MQTT_TOPIC_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9_.-]+\/)*$/, 'expected segments each ending with /')
    .default(''),
  /** CloudEvents content mode of telemetry records: binary (ce_* headers) or structured (the former format). */
  INGEST_CE_MODE: z.enum(['binary', 'structured']).default('binary'),
  /** Largest payload accepted, bytes (64 KiB). */
  INGEST_MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(256)
    .max(WIRE_LIMITS.maxPayloadBytes)
    .default(WIRE_LIMITS.maxPayloadBytes),
  /** How far ahead of the ingest clock an observation may be (device clock skew), ms. */
  INGEST_MAX_FUTURE_SKEW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5 * 60_000),
  /**
   * Oldest observation accepted, in days before the ingest clock (also never before 2020-01-01): older
   * is a device clock not set or a stale buffer (ONDIJON_TIME_TOO_OLD). Raise it for a deliberate backfill.
   */
  INGEST_MAX_PAST_AGE_DAYS: z.coerce.number().int().min(1).default(400),
  /** Equipment registry file (JSON, `EquipmentRegistryFile`). */
  REGISTRY_FILE: z.string().default(DEFAULT_REGISTRY_FILE),
  /**
   * Where the equipment index comes from. `topic` (default): the compacted `ref.s0.equipment.v1` (prefixed),
   * read to its end before MQTT is subscribed, then followed, so entries another tool or instance publishes
   * apply while ingest runs. `file`: REGISTRY_FILE only, loaded once (fallback when the topic cannot be used).
   */
  REGISTRY_SOURCE: z.enum(['topic', 'file']).default('topic'),
  /** How long the initial read of the reference topic may take before start fails, ms. */
  REGISTRY_LOAD_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(30_000),
  /** Publish the registry file to the compacted reference topic at start (idempotent: keyed by equipment id). */
  REGISTRY_PUBLISH_ON_START: z.stringbool().default(true),
  /** Governance policy file; empty = the governance package's default (infra/governance/policy.yaml). */
  POLICY_FILE: z.string().default(''),
  /** Prefix of every Kafka topic written (tests: `t<unique>.`); empty in production. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/)
    .default(''),
  /** kafkajs client id. */
  KAFKA_CLIENT_ID: z.string().default('ondijon-ingest'),
  /** Batching producer linger, ms. */
  KAFKA_LINGER_MS: z.coerce.number().int().min(0).default(2),
  /**
   * Codec of the record batches ingest produces: `gzip` (kafkajs' own) or `none`. gzip stores a reading
   * in a fraction of its bytes once batches hold tens of records (docs/capacity.md, "Kafka on disk").
   */
  KAFKA_COMPRESSION: z.enum(['gzip', 'none']).default('gzip'),
  /** Records buffered or in flight in the producer before connections stop reading. */
  KAFKA_MAX_BUFFERED_RECORDS: z.coerce.number().int().min(1).default(10_000),
  /** HTTP port of /healthz, /readyz, /metrics (0 = any free port). */
  HTTP_PORT: z.coerce.number().int().min(0).max(65_535).default(19_401),
  /** HTTP bind address. */
  HTTP_HOST: z.string().default('127.0.0.1'),
});
/** Validated ingest configuration. */
export type IngestConfig = Readonly<z.infer<typeof IngestEnv>>;

/** Loads the ingest configuration from `env`, naming every invalid variable at once. */
export function loadIngestConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  return loadConfig(IngestEnv, env);
}
