import {
  type BatchingProducer,
  createBatchingProducer,
  createConsumer,
  createKafka,
  type KafkaConsumer,
} from '@ondijon/kafka';
import { cryptoRng, defaultPolicyPath, loadPolicy, type Policy, type Rng } from '@ondijon/governance';
import {
  createStoreWriter,
  openStoreReader,
  recoverStore,
  storeBackendOf,
  type StoreBackend,
  type WriteStep,
} from '@ondijon/opendata';
import {
  Counter,
  Gauge,
  buildAdminServer,
  buildProbeServer,
  kafkaSecurityOf,
  redisAuthOf,
  requireBearerToken,
  createMetricsRegistry,
  metricName,
  type Logger,
  type Registry,
} from '@ondijon/service-kit';
import { type DeadLetter, OnDijonError } from '@ondijon/contracts';
import type { Kafka } from 'kafkajs';
import { createStreamRedis } from '@ondijon/stream';
import type { PublisherConfig } from './config';
import { deadLetterHeaders } from './dead-letter';
import { PublisherCore, type PublishOutcome } from './publisher';
import { loadEquipmentPresence, type EquipmentPresence } from './equipment';
import {
  type FencedLease,
  type HeldLease,
  RedisNoiseStore,
  RedisStaging,
  ReleaseLease,
  StateKeys,
  assertFences,
  catalogueLease,
  type Fence,
  type StateRedis,
} from './redis-state';
import { datasetScope, fencedBackend } from './store-scope';
import { NoiseStore, Staging, type NoiseMemoryStore, type StagingStore } from './staging';

const SERVICE = 'publisher';

/** What `buildApp` may be given instead of building it. */
export interface PublisherDeps {
  log: Logger;
  registry?: Registry;
  kafka?: Kafka;
  policy?: Policy;
  /** Noise randomness; crypto-quality by default (never seed it in production). */
  rng?: Rng;
  clock?: () => Date;
  /** Equipment per commune; default: read from `config.REGISTRY_FILE`. */
  equipment?: EquipmentPresence;
  /** Redis client of the shared state (PUBLISHER_STATE_STORE=redis); default: built from the config. */
  redis?: StateRedis;
  /** Called at each step of a release write (fault tests crash the process here). */
  onStoreStep?: (step: WriteStep, info: { datasetId: string; releaseId: string }) => Promise<void> | void;
}

/** The running publisher. */
export interface PublisherApp {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Publishes due periods now (what `POST /publish-now` does). */
  publishNow(options?: { datasetId?: string; day?: string }): Promise<PublishOutcome[]>;
  /** Port of the probe server once started. */
  readonly port: number;
  /** Port of POST /publish-now once started (the probe port unless PUBLISHER_ADMIN_PORT is set). */
  readonly adminPort: number;
  readonly core: PublisherCore;
}

/**
 * Builds the publisher: Kafka `agg.*` consumer → durable staging (offsets committed after) →
 * anonymisation gate → open-data store, plus probes, metrics and `POST /publish-now`.
 */
export function buildApp(config: PublisherConfig, deps: PublisherDeps): PublisherApp {
  const { log } = deps;
  const registry = deps.registry ?? createMetricsRegistry(SERVICE);
  const policy = deps.policy ?? loadPolicy(config.POLICY_PATH ?? defaultPolicyPath());
  const kafka =
    deps.kafka ??
    createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: `ondijon-${SERVICE}`,
      logger: log,
      ...(kafkaSecurityOf(config) ? { security: kafkaSecurityOf(config) } : {}),
    });

  const records = new Counter({
    name: metricName(SERVICE, 'records_total'),
    help: 'Aggregate records consumed, by outcome.',
    labelNames: ['topic', 'outcome'],
    registers: [registry],
  });
  const releases = new Counter({
    name: metricName(SERVICE, 'releases_total'),
    help: 'Release attempts, by dataset and outcome.',
    labelNames: ['dataset', 'outcome'],
    registers: [registry],
  });
  const blocked = new Counter({
    name: metricName(SERVICE, 'releases_blocked_total'),
    help: 'Releases blocked by the pre-release check or the budget.',
    labelNames: ['dataset', 'code'],
    registers: [registry],
  });
  const budget = new Gauge({
    name: metricName(SERVICE, 'privacy_budget_spent_epsilon'),
    help: 'ε spent for the latest released day, per dataset.',
    labelNames: ['dataset'],
    registers: [registry],
  });
  const staged = new Gauge({
    name: metricName(SERVICE, 'staged_aggregates'),
    help: 'Aggregates held in the staging area.',
    registers: [registry],
  });

  // Private state: a local folder (one instance) or Redis shared by the group, with the release lease.
  const ownRedis =
    config.PUBLISHER_STATE_STORE === 'redis' && !deps.redis
      ? // `redis+cluster://…` connects to a Redis Cluster (docs/scale-out.md).
        createStreamRedis(config.REDIS_URL, { maxRetriesPerRequest: 20, ...redisAuthOf(config) })
      : undefined;
  const redis = deps.redis ?? ownRedis;
  let staging: StagingStore;
  let noise: NoiseMemoryStore;
  let lease: ReleaseLease | undefined;
  let catalogue: FencedLease | undefined;
  if (config.PUBLISHER_STATE_STORE === 'redis') {
    const keys = new StateKeys(config.PUBLISHER_GROUP_ID);
    staging = new RedisStaging(redis!, keys);
    noise = new RedisNoiseStore(redis!, keys);
    const leaseOptions = {
      ttlMs: config.PUBLISHER_LEASE_MS,
      onLost: (token: number, name: string) => log.error({ token, lease: name }, 'lease lost'),
    };
    lease = new ReleaseLease(redis!, keys, leaseOptions);
    catalogue = catalogueLease(redis!, keys, leaseOptions);
  } else {
    staging = new Staging(config.PUBLISHER_STATE_DIR);
    noise = new NoiseStore(config.PUBLISHER_STATE_DIR);
  }
  // What this process holds while it writes (one write at a time: the core and the writer serialise):
  // the release lease of the dataset being written, and the catalogue lock while the catalogue and the
  // dataset files are rewritten. Every replaced object (catalogue, dataset files, registers) is written
  // only after checking both fences in Redis (the store has no check of its own).
  let datasetFence: Fence | undefined;
  let catalogueHeld: HeldLease | undefined;
  const catalogueWaitMs = 4 * config.PUBLISHER_LEASE_MS;
  const acquireCatalogue = async (): Promise<void> => {
    if (!catalogue || catalogueHeld) return;
    catalogueHeld = await catalogue.acquire(catalogueWaitMs);
    if (!catalogueHeld)
      throw new OnDijonError(
        'ONDIJON_LEASE_LOST',
        'the catalogue lock stayed busy; the write is retried later',
        {
          details: { waitedMs: catalogueWaitMs },
        },
      );
  };
  const releaseCatalogue = async (clean: boolean): Promise<void> => {
    const held = catalogueHeld;
    catalogueHeld = undefined;
    await held?.release(clean);
  };
  /** Runs `fn` holding the catalogue lock (reentrant: within a write that holds it already, directly). */
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (!catalogue || catalogueHeld) return fn();
    await acquireCatalogue();
    let clean = false;
    try {
      const v = await fn();
      clean = true;
      return v;
    } finally {
      await releaseCatalogue(clean);
    }
  };
  // Next offset to process per `topic:partition`, for the caught-up test of the event-time trigger.
  const positions = new Map<string, bigint>();
  const admin = kafka.admin();
  const caughtUp = async (topic: string): Promise<boolean> => {
    const offsets = await admin.fetchTopicOffsets(topic);
    let committed: Map<number, bigint> | undefined;
    for (const o of offsets) {
      const high = BigInt(o.high);
      if (high === BigInt(o.low)) continue;
      let pos = positions.get(`${topic}:${o.partition}`);
      if (pos === undefined) {
        // Not consumed by this process yet: what the group committed before counts.
        committed ??= new Map(
          (
            await admin.fetchOffsets({ groupId: config.PUBLISHER_GROUP_ID, topics: [topic] })
          )[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? [],
        );
        pos = committed.get(o.partition) ?? -1n;
      }
      if (pos < high) return false;
    }
    return true;
  };
  // The open-data store: OPENDATA_DIR, or OPENDATA_STORE=s3://bucket/prefix (an S3-compatible server).
  const baseStore = storeBackendOf(config);
  const store: StoreBackend = catalogue
    ? fencedBackend(baseStore, async () => {
        if (!catalogueHeld)
          throw new OnDijonError(
            'ONDIJON_LEASE_LOST',
            'a shared store object written without the catalogue lock',
          );
        await assertFences(
          redis!,
          datasetFence ? [catalogueHeld.fence, datasetFence] : [catalogueHeld.fence],
        );
      })
    : baseStore;
  const storeWriter = createStoreWriter(store, {
    logger: log,
    ...(deps.onStoreStep || catalogue
      ? {
          onStep: async (step: WriteStep, info: { datasetId: string; releaseId: string }) => {
            await deps.onStoreStep?.(step, info);
            // The release is whole in place and invisible: now the catalogue's read-modify-write, alone.
            if (step === 'release:renamed') await acquireCatalogue();
            if (step === 'catalog:written') await releaseCatalogue(true);
          },
        }
      : {}),
  });
  const writer: typeof storeWriter = {
    ...storeWriter,
    async writeRelease(input) {
      try {
        return await storeWriter.writeRelease(input);
      } finally {
        // A write that failed between the two steps gives the catalogue lock back as unfinished.
        await releaseCatalogue(false);
      }
    },
    updateRegister: (name, value) => exclusive(() => storeWriter.updateRegister(name, value)),
  };
  /** Recovers what a dead holder of `datasetId`'s lease left, holding that lease and the catalogue lock. */
  const recoverDataset = (datasetId: string) =>
    exclusive(() => recoverStore(datasetScope(store, datasetId), { logger: log }));
  const reader = openStoreReader(store);
  const core = new PublisherCore({
    policy,
    ...(config.PUBLISHER_DATASETS ? { datasets: config.PUBLISHER_DATASETS } : {}),
    topicOverrides: config.PUBLISHER_SOURCE_TOPICS,
    staging,
    noise,
    lease: lease && {
      run: (datasetId, fn, waitMs) =>
        lease.run(
          datasetId,
          async (fence) => {
            datasetFence = fence;
            try {
              if (fence.previousUnfinished) {
                const report = await recoverDataset(datasetId);
                log.warn(
                  { report, datasetId, token: fence.token },
                  'previous lease holder did not finish: dataset recovered',
                );
              }
              return await fn(fence);
            } finally {
              datasetFence = undefined;
            }
          },
          waitMs,
        ),
    },
    exclusive,
    writer,
    reader,
    rng: deps.rng ?? cryptoRng(),
    log,
    ...(deps.clock ? { clock: deps.clock } : {}),
    publishDelayOverrideHours: config.PUBLISHER_UNSAFE_PUBLISH_DELAY_HOURS,
    equipment: deps.equipment ?? loadEquipmentPresence(config.REGISTRY_FILE),
    trigger: config.PUBLISHER_TRIGGER,
    caughtUp,
    observer: {
      record: (topic, outcome) => records.inc({ topic, outcome }),
      release: (dataset, outcome, code) => {
        releases.inc({ dataset, outcome });
        if (code) blocked.inc({ dataset, code });
      },
      budget: (dataset, _day, spent) => budget.set({ dataset }, spent),
    },
  });

  const deadLetters = new Counter({
    name: metricName(SERVICE, 'dead_letters_total'),
    help: 'Aggregate records written to the dead-letter topic, by source topic.',
    labelNames: ['topic'],
    registers: [registry],
  });
  let producer: BatchingProducer | undefined;
  /** Writes a batch's dead letters and resolves once Kafka acknowledged all of them (acks=all). */
  const sendDeadLetters = async (letters: DeadLetter[]): Promise<void> => {
    const p = producer!;
    await Promise.all(
      letters.map((d) =>
        p.send(config.PUBLISHER_DEAD_LETTER_TOPIC, {
          key: d.kafkaTopic ?? null,
          value: JSON.stringify(d),
          headers: deadLetterHeaders(d),
        }),
      ),
    );
    for (const d of letters) deadLetters.inc({ topic: d.kafkaTopic });
    log.warn(
      {
        count: letters.length,
        topic: letters[0]?.kafkaTopic,
        deadLetterTopic: config.PUBLISHER_DEAD_LETTER_TOPIC,
      },
      'aggregate records dead-lettered',
    );
  };

  let consumer: KafkaConsumer | undefined;
  let consuming = false;
  let timer: NodeJS.Timeout | undefined;
  let kickPending = false;
  let closed = false;
  const probes = buildProbeServer({
    registry,
    readiness: {
      kafka: () => (consuming ? null : 'consumer not running'),
      deadLetters: () =>
        producer?.isHealthy() ? null : 'dead-letter producer not connected or its last send failed',
    },
  });
  // Admin endpoints change state: bearer token always, on the probe server or a server of their own.
  const adminServer = config.PUBLISHER_ADMIN_PORT === undefined ? probes : buildAdminServer();
  adminServer.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith('/publish-now'))
      await requireBearerToken(config.PUBLISHER_ADMIN_TOKEN, 'PUBLISHER_ADMIN_TOKEN')(req, reply);
  });
  adminServer.post('/publish-now', async (req) => {
    const q = (req.query ?? {}) as { dataset?: string; day?: string };
    return {
      outcomes: await core.publishDue({
        onDemand: true,
        ...(q.dataset ? { datasetId: q.dataset } : {}),
        ...(q.day ? { day: q.day } : {}),
      }),
    };
  });

  const runDue = async () => {
    try {
      await core.publishDue();
    } catch (err) {
      log.error({ err }, 'release round failed');
    } finally {
      staged.set(staging.size);
    }
  };
  // Event time moves with the input: look for due periods after each batch, once at a time.
  const kick = () => {
    if (config.PUBLISHER_TRIGGER !== 'event-time' || kickPending || closed) return;
    kickPending = true;
    setImmediate(() => {
      kickPending = false;
      void runDue();
    });
  };

  let port = 0;
  let adminPort = 0;
  return {
    core,
    get port() {
      return port;
    },
    get adminPort() {
      return adminPort;
    },
    publishNow: (options = {}) => core.publishDue({ onDemand: true, ...options }),
    async start() {
      if (!lease) {
        const report = await recoverStore(store, { logger: log });
        log.info({ report }, 'store recovered');
      } else {
        // With a group, each dataset is recovered by the holder of its lease (debris of a write in
        // progress must not be removed): here when it is free, else by its holder.
        for (const datasetId of core.datasetIds) {
          const r = await lease.run(
            datasetId,
            async (fence) => {
              datasetFence = fence;
              try {
                return await recoverDataset(datasetId);
              } finally {
                datasetFence = undefined;
              }
            },
            0,
          );
          if (r) log.info({ datasetId, report: r.value }, 'store recovered');
          else log.info({ datasetId }, 'release lease busy at start: recovery left to its holder');
        }
      }
      await core.writeUsesRegister();
      await staging.load();
      staged.set(staging.size);
      await probes.listen({ host: config.PUBLISHER_HOST, port: config.PUBLISHER_PORT });
      const addr = probes.server.address();
      port = typeof addr === 'object' && addr ? addr.port : config.PUBLISHER_PORT;
      adminPort = port;
      if (adminServer !== probes) {
        await adminServer.listen({
          host: config.PUBLISHER_ADMIN_HOST,
          port: config.PUBLISHER_ADMIN_PORT ?? 0,
        });
        const a = adminServer.server.address();
        adminPort = typeof a === 'object' && a ? a.port : 0;
      }

      await admin.connect();
      producer = createBatchingProducer(kafka);
      await producer.connect();
      consumer = createConsumer(kafka, {
        groupId: config.PUBLISHER_GROUP_ID,
        topics: core.topics,
        fromBeginning: config.PUBLISHER_FROM_BEGINNING,
        sessionTimeout: config.PUBLISHER_SESSION_TIMEOUT_MS,
        heartbeatInterval: Math.min(3000, Math.floor(config.PUBLISHER_SESSION_TIMEOUT_MS / 3)),
        resolve: 'handler',
        // Partitions may have moved: positions of this process are stale, the group's offsets count.
        onGroupJoin: () => positions.clear(),
        logger: log,
      });
      const c = consumer;
      await c.start(async (payload) => {
        const { batch } = payload;
        let last: string | undefined;
        const letters: DeadLetter[] = [];
        for (const m of batch.messages) {
          if (!payload.isRunning() || payload.isStale()) break;
          const result = core.ingest({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            value: m.value,
            headers: m.headers,
            key: m.key,
            timestamp: m.timestamp,
          });
          if (result.outcome === 'invalid') letters.push(result.deadLetter);
          last = m.offset;
        }
        if (last === undefined) return;
        // Offsets are committed only once what they cover is durably staged or dead-lettered: a crash
        // or a failed dead-letter send (which throws, so kafkajs retries the batch) replays the rest.
        if (letters.length > 0) await sendDeadLetters(letters);
        await core.flush();
        await c.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
        ]);
        payload.resolveOffset(last);
        positions.set(`${batch.topic}:${batch.partition}`, BigInt(last) + 1n);
        await payload.heartbeat();
        staged.set(staging.size);
        kick();
      });
      consuming = true;
      const every =
        config.PUBLISHER_TRIGGER === 'interval'
          ? config.PUBLISHER_RELEASE_INTERVAL_MS
          : config.PUBLISHER_TICK_MS;
      if (config.PUBLISHER_TRIGGER !== 'manual') timer = setInterval(() => void runDue(), every);
      kick();
      log.info({ port, topics: core.topics, trigger: config.PUBLISHER_TRIGGER }, 'publisher started');
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      consuming = false;
      await consumer?.stop();
      // After the consumer: a batch in progress may still be sending its dead letters.
      await producer?.disconnect();
      await admin.disconnect();
      // Let a release in progress finish: it is atomic anyway, but finishing saves redoing it.
      await core.idle();
      await probes.close();
      if (adminServer !== probes) await adminServer.close();
      await ownRedis?.quit();
    },
  };
}
