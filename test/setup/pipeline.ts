/**
 * A pipeline run for tests and benchmarks that need the stack (CONTRIBUTING.md, "Testing"): its own topic
 * namespace provisioned with the registry's ACLs, its folders, its ports, each service as its own
 * principal on the local stack, and everything it created removed at cleanup (ACLs, topics, consumer
 * groups, the processors' Redis keys, the folder). Services start as child processes with the runner's
 * own code (`startService` of tools/devstack/src/harness.ts), one or several instances each.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { topicList, type TopicName } from '@ondijon/contracts';
import {
  consoleEnv,
  freePort,
  plannedTopics,
  REPO_ROOT,
  serviceEntry,
  serviceEnvs,
  type PipelinePlan,
  type ServiceHandle,
  type ServiceName,
  startService,
  stopAll,
  waitHttpOk,
} from '@ondijon/devstack';
import { deleteNamespaceAcls } from '@ondijon/kafka';
import {
  serviceSecretEnvs,
  stackProvision,
  type StackProvisionResult,
  withoutCredentials,
} from '@ondijon/stack';
import { createStreamRedis } from '@ondijon/stream';
import {
  type Cleanup,
  deleteGroups,
  deleteRedisKeys,
  deleteTopics,
  type TestEndpoints,
  testEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { Cluster } from 'ioredis';
import { usesStackSecrets } from './index';

/** The registry's telemetry topics (`tel.*` and `pii.*`): where ingest stores every report it accepts. */
export const TELEMETRY_TOPICS = topicList
  .filter((t) => t.area === 'tel' || t.area === 'pii')
  .map((t) => t.name as TopicName);

/** A service a test can start: the pipeline's, or the control-centre console. */
export type PipelineService = Exclude<ServiceName, 'simulator'> | 'console' | 'simulator';

/** Options of `testPipeline`. */
export interface TestPipelineOptions {
  /** Prefix of the run id (letters only), e.g. `kk`. */
  name: string;
  /** Where the run's cleanup is registered (run it in `afterAll`). */
  cleanup: Cleanup;
  /** Endpoints (default `testEndpoints()`); `kafkaBrokers` of the 3-node cluster, say. */
  endpoints?: Partial<TestEndpoints>;
  /** Kafka nodes of the brokers (3: replication 3, min ISR 2); default 1. */
  kafkaNodes?: 1 | 3;
  /**
   * Redis of the processors' and the publisher's state when not the endpoints' (`redis+cluster://…` of a
   * Redis Cluster, with the admin user's credentials: each service gets its own user's).
   */
  stateRedisUrl?: string;
  /** Registry file (default infra/registry/equipment.json). */
  registryFile?: string;
  /** A registry of the run's own (a generated fleet), written as `<dir>/registry.json` and used instead. */
  registry?: unknown;
  /** Keep the folder (logs, open data) when this environment variable is set; the path is printed. */
  keepEnv?: string;
  /** Processors (definition names) whose consumer groups are deleted at cleanup. */
  processors?: string[];
  /** Other consumer groups to delete at cleanup. */
  groups?: string[];
  /** Retry the cleanup of Kafka (a node of the cluster may have just restarted). */
  retryCleanup?: boolean;
  /** Plan fields passed through. */
  plan?: Partial<
    Pick<PipelinePlan, 'publishDelayHours' | 'idleFlushMs' | 'ingestConnections' | 'logLevel' | 'mqttPrefix'>
  >;
}

/** A provisioned run: its plan, its folder, and its services. */
export interface TestPipeline {
  plan: PipelinePlan;
  /** What the provisioning did (replication factor, drift, ACLs created). */
  provisioned: StackProvisionResult;
  /** The run's folder (logs `<service>[-<instance>].log`, open data, publisher state). */
  dir: string;
  /** Every service started so far (stopped at cleanup, in reverse order). */
  services: ServiceHandle[];
  /**
   * Starts one instance of a service with the run's environment plus `env`. The first instance of a
   * service listens on the plan's port; another instance (`instance` ≠ 'a') gets a port of its own and its
   * own MQTT client ids (ingest). Returns the handle and its probe URL.
   */
  start: (
    name: PipelineService,
    options?: {
      instance?: string;
      env?: Record<string, string>;
      port?: number;
      /** Where its output goes (default `<dir>/<service>[-<instance>].log`). */
      logFile?: string;
    },
  ) => Promise<PipelineProcess>;
  /** Starts the services (first instance each) and waits until each answers /readyz. */
  startAll: (
    names: PipelineService[],
    env?: Partial<Record<PipelineService, Record<string, string>>>,
  ) => Promise<PipelineProcess[]>;
}

/** A started service instance. */
export interface PipelineProcess {
  handle: ServiceHandle;
  /** `http://127.0.0.1:<port>` of its probes (absent for the simulator). */
  url?: string;
  /** The environment it was started with (to start it again the same way). */
  env: Record<string, string>;
  /** Waits until /readyz answers 2xx (throws with its last lines if it exits first). */
  ready: (timeoutMs?: number) => Promise<void>;
}

/** The environment variable of each service's probe port. */
const PORT_VAR: Record<Exclude<PipelineService, 'simulator'>, string> = {
  ingest: 'HTTP_PORT',
  processors: 'PROBE_PORT',
  publisher: 'PUBLISHER_PORT',
  'opendata-api': 'PORT',
  console: 'PORT',
};

/**
 * Plans and provisions a run's namespace on the brokers (topics with the registry's ACLs; on three nodes
 * replication 3 and min ISR 2) and registers its cleanup. Services are started with `start`/`startAll`.
 */
export async function testPipeline(options: TestPipelineOptions): Promise<TestPipeline> {
  const endpoints = { ...testEndpoints(), ...options.endpoints };
  const { cleanup } = options;
  const runId = uniqueName(options.name).replace(/[^A-Za-z0-9]/g, '');
  const dir = await mkdtemp(path.join(tmpdir(), `ondijon-${options.name}-`));
  cleanup.add(async () => {
    if (options.keepEnv && process.env[options.keepEnv])
      process.stdout.write(`${options.name}: logs kept in ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  });
  const plan: PipelinePlan = {
    topicPrefix: `t${runId}.`,
    mqttPrefix: `t/${runId}/`,
    runId,
    registryFile:
      options.registry !== undefined
        ? path.join(dir, 'registry.json')
        : (options.registryFile ?? path.join(REPO_ROOT, 'infra', 'registry', 'equipment.json')),
    opendataDir: path.join(dir, 'opendata'),
    publisherStateDir: path.join(dir, 'publisher'),
    ports: {
      ingest: await freePort(),
      processors: await freePort(),
      publisher: await freePort(),
      api: await freePort(),
    },
    endpoints,
    // Every service as its own principal (least privilege), as `./ondijon run` does. The worker's env names
    // the stack's endpoints: ask for the local stack's credentials explicitly.
    ...(usesStackSecrets(testEndpoints())
      ? { secrets: serviceSecretEnvs({ config: { externalKafka: undefined, externalRedis: undefined } }) }
      : {}),
    ...options.plan,
  };
  if (options.registry !== undefined) await writeFile(plan.registryFile, JSON.stringify(options.registry));
  const brokers = endpoints.kafkaBrokers;
  const retried = (what: string, task: () => Promise<unknown>) => () =>
    options.retryCleanup
      ? waitFor(() => task().then(() => true), { timeoutMs: 60_000, intervalMs: 1_000, message: what })
      : task();
  const provisioned = await stackProvision({
    namespace: plan.topicPrefix,
    brokers,
    ...(options.kafkaNodes === 3 ? { kafkaNodes: 3 } : {}),
  });
  cleanup.add(
    retried('ACLs deleted', async () => {
      const admin = testKafka(uniqueName('pipeline-acl'), brokers).admin();
      await admin.connect();
      try {
        await deleteNamespaceAcls(
          admin,
          topicList.map((t) => `${plan.topicPrefix}${t.name}`),
        );
      } finally {
        await admin.disconnect();
      }
    }),
  );
  cleanup.add(
    retried('topics deleted', () =>
      deleteTopics(
        plannedTopics(plan).map((t) => t.name),
        brokers,
      ),
    ),
  );
  const groups = [
    `ondijon-publisher-${runId}`,
    ...(options.processors ?? []).map((p) => `ondijon-processors-${runId}.${p}`),
    ...(options.groups ?? []).map((g) => g.replace('<run>', runId)),
  ];
  cleanup.add(retried('groups deleted', () => deleteGroups(groups, brokers)));
  const clearRedis = async (url: string, prefix: string) => {
    const redis = createStreamRedis(url);
    try {
      // On a cluster, SCAN each master (a run's keys share their processor's hash tag: one slot per DEL).
      if (redis instanceof Cluster) {
        if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
        for (const node of redis.nodes('master')) await deleteRedisKeys(node, prefix);
      } else await deleteRedisKeys(redis, prefix);
    } finally {
      await redis.quit();
    }
  };
  cleanup.add(async () => {
    const state = options.stateRedisUrl ?? endpoints.redisUrl;
    await clearRedis(state, `processors:stream:${runId}:`);
    await clearRedis(state, `publisher:{ondijon-publisher-${runId}}:`);
  });

  const services: ServiceHandle[] = [];
  cleanup.add(async () => {
    const ended = await stopAll(services, 15_000);
    services.length = 0;
    return ended;
  });
  const envs = serviceEnvs(plan) as Record<string, Record<string, string>>;
  if (options.stateRedisUrl !== undefined)
    for (const service of ['processors', 'publisher'])
      envs[service]!.REDIS_URL =
        'REDIS_USERNAME' in envs[service]!
          ? withoutCredentials(options.stateRedisUrl)
          : options.stateRedisUrl;
  const planPort: Record<string, number> = {
    ingest: plan.ports.ingest,
    processors: plan.ports.processors,
    publisher: plan.ports.publisher,
    'opendata-api': plan.ports.api,
  };

  const start: TestPipeline['start'] = async (name, o = {}) => {
    const instance = o.instance ?? 'a';
    const portVar = name === 'simulator' ? undefined : PORT_VAR[name];
    // The port: given, or the one of the environment it is started again with, or the plan's (first
    // instance), or a free one.
    const given = o.port ?? (portVar && o.env?.[portVar] ? Number(o.env[portVar]) : undefined);
    const port =
      given ?? (instance === 'a' ? planPort[name] : undefined) ?? (portVar ? await freePort() : undefined);
    const env: Record<string, string> = {
      ...(name === 'console' ? consoleEnv(plan, port!) : (envs[name] ?? {})),
      ...(portVar && port !== undefined ? { [portVar]: String(port) } : {}),
      // Two ingest instances share the subscription group, never a client id (the broker would drop one).
      ...(name === 'ingest' && instance !== 'a'
        ? { MQTT_CLIENT_ID_PREFIX: `${envs.ingest!.MQTT_CLIENT_ID_PREFIX}-${instance}` }
        : {}),
      ...o.env,
    };
    const label = instance === 'a' ? name : `${name}-${instance}`;
    const entry =
      name === 'console' ? path.join(REPO_ROOT, 'services', 'console', 'src', 'main.ts') : serviceEntry(name);
    const handle = startService(label, entry, {
      env,
      logFile: o.logFile ?? path.join(dir, `${label}.log`),
    });
    services.push(handle);
    const url = port === undefined ? undefined : `http://127.0.0.1:${port}`;
    return {
      handle,
      env,
      ...(url ? { url } : {}),
      ready: (timeoutMs = 240_000) =>
        url ? waitHttpOk(`${url}/readyz`, timeoutMs, handle) : Promise.resolve(),
    };
  };

  return {
    plan,
    provisioned,
    dir,
    services,
    start,
    async startAll(names, env = {}) {
      const started: PipelineProcess[] = [];
      for (const name of names) started.push(await start(name, { env: env[name] ?? {} }));
      // Started together, waited for together: on a loaded 2-core machine a start takes seconds to minutes.
      for (const p of started) await p.ready();
      return started;
    },
  };
}
