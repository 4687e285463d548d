import { existsSync, rmSync } from 'node:fs';
import {
  StackError,
  clusterBrokersOf,
  endpointsOf,
  saslOf,
  resolveConfig,
  type Endpoints,
  type StackConfig,
} from './config';
import { probeKafka, probeMqtt, probeRedis, type Probe } from './health';
import {
  ensureStackSecrets,
  serviceSecretEnvsOf,
  withoutCredentials,
  type ServiceSecretEnvs,
} from './secrets';
import {
  ensureKafkaJars,
  kafkaDeployment,
  nodeLogTail,
  nodePidFile,
  nodeProcess,
  addLatePrincipals,
  startKafkaNode,
  type KafkaDeployment,
  type KafkaNode,
} from './kafka';
import { artemisLogTail, artemisNode, artemisPidFile, ensureArtemis, startArtemis } from './artemis';
import { artemisBackupProcess, backupState, downMqttPair, mqttBackupUrl, upMqttPair } from './artemis-ha';
import { mqttCredentials, mqttPasswordFile, readMqttCredentials, stackPrincipals } from './mqtt-principals';
import { requireBinaries, requireJava } from './prerequisites';
import { isOurs, portOpen, readPid, sleep, stopRecorded, tail } from './proc';
import { redisDir, redisPidFile, startRedis } from './redis';
import path from 'node:path';

/** Services of the local stack. */
export type ServiceName = 'kafka' | 'mqtt' | 'redis';

/** Options shared by every stack operation. */
export interface StackOptions {
  /** Overrides of the env-derived configuration (ports, folder, external endpoints). */
  config?: Partial<StackConfig>;
  /** 1 = the single-node Kafka (default), 3 = the 3-node cluster (replication 3, min ISR 2). */
  kafkaNodes?: 1 | 3;
  /** 1 = the single MQTT broker (default), 2 = the replicated pair (primary and backup, docs/mqtt-broker.md). */
  mqttNodes?: 1 | 2;
  /** Progress lines (the CLI prints them); silent by default. */
  log?: (line: string) => void;
}

/** Options of `stackUp`. */
export interface StackUpOptions extends StackOptions {
  /** Services to bring up (default all three). */
  services?: ServiceName[];
  /** How long to wait for each service to answer after starting it (default 90 s, 150 s for 3 nodes). */
  timeoutMs?: number;
}

/** One line of `stack status`. */
export interface ServiceStatus {
  /** `kafka` (single node), `kafka-1..3` (cluster), `mqtt` (the broker), `redis`. */
  service: string;
  /** Address clients use. */
  address: string;
  /** Pid when the stack started it and it still runs, else null. */
  pid: number | null;
  /** `stack` = started by us; `external` = env endpoint; `other` = answers but not ours; `none` = not running. */
  owner: 'stack' | 'external' | 'other' | 'none';
  /** True when it really answers (describeCluster / CONNACK / PONG). */
  healthy: boolean;
  /** What the probe saw. */
  detail: string;
}

const envNameOfPort: Record<string, string> = {
  kafka: 'ONDIJON_KAFKA_PORT (and ONDIJON_KAFKA_CONTROLLER_PORT)',
  cluster: 'ONDIJON_KAFKA_CLUSTER_PORT (and ONDIJON_KAFKA_CLUSTER_CONTROLLER_PORT)',
  mqtt: 'ONDIJON_MQTT_PORT',
  redis: 'ONDIJON_REDIS_PORT',
};

function foreignPort(port: number, what: string, envKey: string): StackError {
  return new StackError(
    `Port ${port} is in use by another process that does not answer as ${what}; stop that process or choose other ports with ${envNameOfPort[envKey]}, and retry.`,
  );
}

/** Brokers of a deployment as `host:port`. */
function brokersOf(deployment: KafkaDeployment): string[] {
  return deployment.nodes.map((n) => `127.0.0.1:${n.port}`);
}

async function waitHealthy(
  what: string,
  probe: () => Promise<Probe>,
  stillRunning: () => boolean,
  timeoutMs: number,
  logHint: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Probe = { ok: false, detail: 'not probed' };
  while (Date.now() < deadline) {
    last = await probe();
    if (last.ok) return;
    if (!stillRunning()) {
      throw new StackError(
        `${what} exited while starting (${oneLine(logHint()) || last.detail}); read its log under .stack and retry.`,
      );
    }
    await sleep(500);
  }
  throw new StackError(
    `${what} did not answer within ${Math.round(timeoutMs / 1000)} s (${last.detail}); read its log under .stack (${oneLine(logHint())}) and retry.`,
  );
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** Probes Kafka as the stack's super user. */
function probeKafkaAs(config: StackConfig, brokers: string[], expected: number): Promise<Probe> {
  return probeKafka(brokers, expected, 3_000, saslOf(endpointsOf(config)));
}

/** Brings up Kafka (the nodes the deployment lacks), waiting until every broker is listed. */
async function upKafka(
  config: StackConfig,
  deployment: KafkaDeployment,
  log: (l: string) => void,
  timeoutMs: number,
): Promise<void> {
  const brokers = brokersOf(deployment);
  const first = await probeKafkaAs(config, brokers, deployment.nodes.length);
  // A node of ours started before authentication (no credentials fingerprint) never lets the super user in.
  const unsecured = deployment.nodes.find(
    (n) => nodeProcess(n) !== undefined && !existsSync(path.join(n.dir, 'auth-scram')),
  );
  if (unsecured !== undefined) {
    throw new StackError(
      `Kafka ${unsecured.name} runs without authentication (started before SASL/SCRAM); run \`pnpm stack down\`, delete ${unsecured.dir} (this loses its topics) and retry.`,
    );
  }
  if (first.ok && deployment.nodes.every((n) => nodeProcess(n) !== undefined)) {
    log(`kafka: already running (${brokers.join(',')})`);
    await addLatePrincipals(config, deployment, log);
    return;
  }
  const toStart: KafkaNode[] = [];
  for (const node of deployment.nodes) {
    if (nodeProcess(node) !== undefined) continue; // ours, running (maybe still starting)
    if ((await portOpen(node.port)) || (await portOpen(node.controllerPort))) {
      // Something listens: fine if it is a healthy Kafka we did not start (reuse), else a foreign process.
      const alone = await probeKafkaAs(config, [`127.0.0.1:${node.port}`], 1);
      if (alone.ok) continue;
      throw foreignPort(
        (await portOpen(node.port)) ? node.port : node.controllerPort,
        'Kafka',
        deployment.mode === 'single' ? 'kafka' : 'cluster',
      );
    }
    toStart.push(node);
  }
  if (toStart.length > 0) {
    requireJava();
    await ensureKafkaJars(config, log);
    // Cluster nodes start concurrently: each waits for a controller quorum of the others.
    for (const node of toStart) {
      const record = await startKafkaNode(config, deployment, node);
      log(`${node.name}: started pid ${record.pid} on 127.0.0.1:${node.port}`);
    }
  } else if (!first.ok) {
    log(`kafka: waiting for ${brokers.join(',')} to answer`);
  }
  await waitHealthy(
    deployment.mode === 'single' ? 'Kafka' : 'The 3-node Kafka cluster',
    () => probeKafkaAs(config, brokers, deployment.nodes.length),
    () => toStart.every((n) => nodeProcess(n) !== undefined),
    timeoutMs,
    () => toStart.map(nodeLogTail).join(' | '),
  );
  log(`kafka: healthy (${brokers.join(',')})`);
  await addLatePrincipals(config, deployment, log);
}

/** Starts what is missing of the local stack and waits until each service really answers; idempotent. */
export async function stackUp(options: StackUpOptions = {}): Promise<ServiceStatus[]> {
  const config = resolveConfig(options.config);
  const log = options.log ?? (() => undefined);
  const services = options.services ?? ['kafka', 'mqtt', 'redis'];
  const nodes = options.kafkaNodes ?? 1;
  const timeoutMs = options.timeoutMs ?? (nodes === 3 ? 150_000 : 90_000);
  ensureStackSecrets(config);
  const ep = endpointsOf(config);

  // Phase 1, before starting anything: what answers already, and is each missing service startable?
  // A broker that answers, even refusing these credentials, is reused (as a healthy Kafka we did not start is).
  const mqttPair = options.mqttNodes === 2 && services.includes('mqtt') && config.externalMqtt === undefined;
  const needMqtt =
    !mqttPair &&
    services.includes('mqtt') &&
    config.externalMqtt === undefined &&
    !(await probeMqtt(ep.mqttUrl, 3_000, mqttAdmin(config))).answered;
  const redisProbe =
    services.includes('redis') && config.externalRedis === undefined
      ? await probeRedis(ep.redisUrl)
      : undefined;
  const needRedis = redisProbe !== undefined && !redisProbe.ok;
  if (
    needRedis &&
    isOurs(readPid(redisPidFile(config))) &&
    /WRONGPASS|NOAUTH|NOPERM/.test(redisProbe.detail)
  ) {
    throw new StackError(
      "Redis runs without the stack's users (started before authentication, or .stack/secrets changed); run `pnpm stack down` and retry.",
    );
  }
  if (needMqtt && !isOurs(readPid(artemisPidFile(config))) && (await portOpen(config.mqttPort))) {
    throw foreignPort(config.mqttPort, 'an MQTT broker', 'mqtt');
  }
  if (needRedis && !isOurs(readPid(redisPidFile(config))) && (await portOpen(config.redisPort))) {
    throw foreignPort(config.redisPort, 'Redis', 'redis');
  }
  const wantKafka = services.includes('kafka') && (config.externalKafka === undefined || nodes === 3);
  const deployment = kafkaDeployment(config, nodes === 3 ? 'cluster' : 'single');
  if (wantKafka) {
    for (const node of deployment.nodes) {
      if (nodeProcess(node) !== undefined) continue;
      for (const port of [node.port, node.controllerPort]) {
        if ((await portOpen(port)) && !(await probeKafkaAs(config, [`127.0.0.1:${node.port}`], 1)).ok) {
          throw foreignPort(port, 'Kafka', nodes === 3 ? 'cluster' : 'kafka');
        }
      }
    }
  }
  const binaries = needRedis ? ['redis-server'] : [];
  const paths = binaries.length > 0 ? requireBinaries(binaries, log) : {};

  // Phase 2: start and wait, all services concurrently.
  const jobs: Promise<void>[] = [];
  if (needMqtt) {
    jobs.push(
      (async () => {
        if (!isOurs(readPid(artemisPidFile(config)))) {
          requireJava();
          const home = await ensureArtemis(config, log);
          // With the pair's backup running (active after a failover, or replicating), the node on these ports
          // must come back as its primary (which fails back), never as a single node beside it.
          const role = artemisBackupProcess(config) === undefined ? 'single' : 'primary';
          const record = await startArtemis(config, home, artemisNode(config, role));
          log(`mqtt: started Apache ActiveMQ Artemis pid ${record.pid} on ${ep.mqttUrl}`);
        }
        await waitHealthy(
          'The MQTT broker (Artemis)',
          () => probeMqtt(ep.mqttUrl, 3_000, mqttAdmin(config)),
          () => isOurs(readPid(artemisPidFile(config))),
          timeoutMs,
          () => artemisLogTail(config),
        );
        log('mqtt: healthy');
      })(),
    );
  } else if (mqttPair) {
    jobs.push(upMqttPair(config, log, timeoutMs));
  } else if (services.includes('mqtt')) {
    log(`mqtt: ${config.externalMqtt === undefined ? 'already running' : 'external'} (${ep.mqttUrl})`);
  }
  if (needRedis) {
    jobs.push(
      (async () => {
        if (!isOurs(readPid(redisPidFile(config)))) {
          const record = startRedis(config, paths['redis-server'] ?? 'redis-server');
          log(`redis: started pid ${record.pid} on ${withoutCredentials(ep.redisUrl)}`);
        }
        await waitHealthy(
          'Redis',
          () => probeRedis(ep.redisUrl),
          () => isOurs(readPid(redisPidFile(config))),
          timeoutMs,
          () =>
            tail(path.join(redisDir(config), 'redis.log'), 2) ||
            tail(path.join(redisDir(config), 'stdout.log'), 2),
        );
        log('redis: healthy');
      })(),
    );
  } else if (services.includes('redis')) {
    log(
      `redis: ${config.externalRedis === undefined ? 'already running' : 'external'} (${withoutCredentials(ep.redisUrl)})`,
    );
  }
  if (wantKafka) jobs.push(upKafka(config, deployment, log, timeoutMs));
  else if (services.includes('kafka')) log(`kafka: external (${ep.kafkaBrokers.join(',')})`);

  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return stackStatus(options);
}

/** Options of `stackDown`. */
export interface StackDownOptions extends StackOptions {
  /** Also delete the 3-node cluster's data (fault tests start from a clean cluster). */
  purgeCluster?: boolean;
}

/**
 * Stops what the stack started (by recorded pid: SIGTERM, SIGKILL after a deadline). With `kafkaNodes: 3`
 * only the cluster; otherwise the single node, Mosquitto, Redis and the cluster if it runs. Data is kept.
 */
export async function stackDown(options: StackDownOptions = {}): Promise<string[]> {
  const config = resolveConfig(options.config);
  const log = options.log ?? (() => undefined);
  const stopped: string[] = [];
  const stop = async (name: string, pidFile: string, deadlineMs: number) => {
    if ((await stopRecorded(pidFile, deadlineMs)) === 'stopped') {
      stopped.push(name);
      log(`${name}: stopped`);
    }
  };
  const cluster = kafkaDeployment(config, 'cluster');
  const jobs = cluster.nodes.map((n) => stop(n.name, nodePidFile(n), 20_000));
  if (options.kafkaNodes !== 3) {
    const single = kafkaDeployment(config, 'single');
    jobs.push(...single.nodes.map((n) => stop(n.name, nodePidFile(n), 30_000)));
    jobs.push(stop('mqtt', artemisPidFile(config), 20_000));
    jobs.push(stop('mqtt-backup', path.join(artemisNode(config, 'backup').dir, 'artemis.pid.json'), 20_000));
    jobs.push(stop('redis', redisPidFile(config), 10_000));
  }
  await Promise.all(jobs);
  if (options.purgeCluster) rmSync(cluster.dir, { recursive: true, force: true });
  if (stopped.length === 0) log('nothing of the stack was running');
  return stopped;
}

/** Address, pid, owner and health of each service (the cluster's nodes too when it runs or is asked for). */
export async function stackStatus(options: StackOptions = {}): Promise<ServiceStatus[]> {
  const config = resolveConfig(options.config);
  const ep = endpointsOf(config);
  const rows: Promise<ServiceStatus>[] = [];
  const kafkaRow = async (
    service: string,
    brokers: string[],
    expected: number,
    pid: number | null,
    external: boolean,
  ) => {
    const probe = await probeKafkaAs(config, brokers, expected);
    return {
      service,
      address: brokers.join(','),
      pid,
      owner: owner(external, pid, probe),
      healthy: probe.ok,
      detail: probe.detail,
    } satisfies ServiceStatus;
  };
  if (config.externalKafka !== undefined) rows.push(kafkaRow('kafka', config.externalKafka, 1, null, true));
  else {
    const node = kafkaDeployment(config, 'single').nodes[0]!;
    rows.push(kafkaRow('kafka', ep.kafkaBrokers, 1, nodeProcess(node)?.pid ?? null, false));
  }
  const cluster = kafkaDeployment(config, 'cluster');
  if (options.kafkaNodes === 3 || cluster.nodes.some((n) => nodeProcess(n) !== undefined)) {
    for (const node of cluster.nodes)
      rows.push(kafkaRow(node.name, [`127.0.0.1:${node.port}`], 1, nodeProcess(node)?.pid ?? null, false));
  }
  rows.push(
    (async () => {
      const probe = await probeMqtt(ep.mqttUrl, 3_000, mqttAdmin(config));
      const pid = config.externalMqtt === undefined ? pidOf(artemisPidFile(config)) : null;
      return {
        service: 'mqtt',
        address: ep.mqttUrl,
        pid,
        owner: owner(config.externalMqtt !== undefined, pid, probe),
        healthy: probe.ok,
        detail: probe.detail,
      };
    })(),
  );
  if (config.externalMqtt === undefined && (options.mqttNodes === 2 || artemisBackupProcess(config))) {
    rows.push(
      (async () => {
        // The backup answers MQTT only once it has taken over; replicating is its healthy state.
        const state = backupState(config);
        return {
          service: 'mqtt-backup',
          address: mqttBackupUrl(config),
          pid: artemisBackupProcess(config)?.pid ?? null,
          owner: state === 'down' ? 'none' : 'stack',
          healthy: state === 'in-sync' || state === 'active',
          detail: state === 'in-sync' ? 'replicating' : state,
        } satisfies ServiceStatus;
      })(),
    );
  }
  rows.push(
    (async () => {
      const probe = await probeRedis(ep.redisUrl);
      const pid = config.externalRedis === undefined ? pidOf(redisPidFile(config)) : null;
      return {
        service: 'redis',
        address: withoutCredentials(ep.redisUrl),
        pid,
        owner: owner(config.externalRedis !== undefined, pid, probe),
        healthy: probe.ok,
        detail: probe.detail,
      };
    })(),
  );
  return Promise.all(rows);
}

/** Credentials the stack probes the broker with: the env's for an external broker, else the local admin's. */
function mqttAdmin(config: StackConfig): { username: string; password: string } | undefined {
  if (config.externalMqtt !== undefined) {
    const { MQTT_USERNAME, MQTT_PASSWORD } = process.env;
    return MQTT_USERNAME && MQTT_PASSWORD ? { username: MQTT_USERNAME, password: MQTT_PASSWORD } : undefined;
  }
  return readMqttCredentials(config, 'admin');
}

function pidOf(pidFile: string): number | null {
  const record = readPid(pidFile);
  return isOurs(record) ? record.pid : null;
}

function owner(external: boolean, pid: number | null, probe: Probe): ServiceStatus['owner'] {
  if (external) return 'external';
  if (pid !== null) return 'stack';
  return probe.ok ? 'other' : 'none';
}

/** Endpoints of the single-node stack (env `KAFKA_BROKERS`, `MQTT_URL`, `REDIS_URL` win). */
export function endpoints(options: StackOptions = {}): Endpoints {
  return endpointsOf(resolveConfig(options.config));
}

/** Client addresses of the 3-node cluster. */
export function clusterBrokers(options: StackOptions = {}): string[] {
  return clusterBrokersOf(resolveConfig(options.config));
}

/** Starts the 3-node cluster (replication 3, min ISR 2) and waits until all three brokers are listed. */
export async function clusterUp(
  options: Omit<StackUpOptions, 'kafkaNodes' | 'services'> = {},
): Promise<string[]> {
  await stackUp({ ...options, kafkaNodes: 3, services: ['kafka'] });
  return clusterBrokers(options);
}

/** Stops the 3-node cluster (only it), optionally deleting its data. */
export async function clusterDown(options: Omit<StackDownOptions, 'kafkaNodes'> = {}): Promise<void> {
  await stackDown({ ...options, kafkaNodes: 3 });
}

function nodeOf(
  config: StackConfig,
  mode: 'single' | 'cluster',
  nodeId: number,
): { deployment: KafkaDeployment; node: KafkaNode } {
  const deployment = kafkaDeployment(config, mode);
  const node = deployment.nodes.find((n) => n.nodeId === nodeId);
  if (node === undefined) throw new Error(`no Kafka node ${nodeId} in the ${mode} deployment`);
  return { deployment, node };
}

/** Stops one broker of the 3-node cluster (fault tests); the other two keep serving with min ISR 2. */
export async function stopKafkaBroker(nodeId: 1 | 2 | 3, options: StackOptions = {}): Promise<void> {
  const { node } = nodeOf(resolveConfig(options.config), 'cluster', nodeId);
  await stopRecorded(nodePidFile(node), 20_000);
}

/** Kills one broker of the 3-node cluster with SIGKILL (fault tests: no controlled shutdown). */
export function killKafkaBroker(nodeId: 1 | 2 | 3, options: StackOptions = {}): void {
  const { node } = nodeOf(resolveConfig(options.config), 'cluster', nodeId);
  const record = nodeProcess(node);
  if (record !== undefined) process.kill(record.pid, 'SIGKILL');
}

/**
 * Restarts one broker of the 3-node cluster and waits until that broker itself answers and lists all three.
 * Probing the whole cluster is not enough: for a few seconds after a SIGKILL (the controller's broker
 * session timeout) the others still list the dead broker, so the cluster would look whole before the
 * restarted process listens.
 */
export async function startKafkaBroker(nodeId: 1 | 2 | 3, options: StackUpOptions = {}): Promise<void> {
  const config = resolveConfig(options.config);
  const { deployment, node } = nodeOf(config, 'cluster', nodeId);
  if (nodeProcess(node) === undefined) await startKafkaNode(config, deployment, node);
  await waitHealthy(
    `Kafka broker ${nodeId}`,
    () => probeKafkaAs(config, [`127.0.0.1:${node.port}`], 3),
    () => nodeProcess(node) !== undefined,
    options.timeoutMs ?? 120_000,
    () => nodeLogTail(node),
  );
}

/** Stops the single-node Kafka (ingest fault tests); Mosquitto and Redis keep running. */
export async function stopKafka(options: StackOptions = {}): Promise<void> {
  const { node } = nodeOf(resolveConfig(options.config), 'single', 1);
  await stopRecorded(nodePidFile(node), 30_000);
}

/** Starts the single-node Kafka again (same data) and waits until it answers. */
export async function startKafka(options: StackUpOptions = {}): Promise<void> {
  await stackUp({ ...options, kafkaNodes: 1, services: ['kafka'] });
}

/**
 * Starts the replicated MQTT pair (or what is missing of it) and waits until the primary answers and the
 * backup is in step; a running single node is restarted as the primary. After a failover this restarts the
 * primary, which fails back. Fault tests: docs/mqtt-broker.md "The replicated pair".
 */
export async function mqttPairUp(
  options: Omit<StackUpOptions, 'mqttNodes' | 'services'> & {
    /** Also wait until the backup is in step with the primary (default true). */
    waitForBackup?: boolean;
  } = {},
): Promise<void> {
  const config = resolveConfig({ ...options.config, externalMqtt: undefined });
  await upMqttPair(
    config,
    options.log ?? (() => undefined),
    options.timeoutMs ?? 120_000,
    options.waitForBackup ?? true,
  );
}

/** Stops both nodes of the replicated pair (clean stops; data kept). */
export async function mqttPairDown(options: StackOptions = {}): Promise<void> {
  await downMqttPair(resolveConfig(options.config), options.log ?? (() => undefined));
}

/** MQTT URL of the pair's backup node (`ONDIJON_MQTT_BACKUP_PORT`); it answers once it has taken over. */
export function stackMqttBackupUrl(options: StackOptions = {}): string {
  return mqttBackupUrl(resolveConfig(options.config));
}

/** Kills the MQTT broker with SIGKILL (fault tests: no clean stop, no last flush). */
export function killMqtt(options: StackOptions = {}): void {
  const record = readPid(artemisPidFile(resolveConfig(options.config)));
  if (isOurs(record)) process.kill(record.pid, 'SIGKILL');
}

/**
 * Starts the stack's MQTT broker again (same journal) and waits until it answers; an `MQTT_URL` in the
 * environment (tests set it to this broker) does not make it external here.
 */
export async function startMqtt(options: StackUpOptions = {}): Promise<void> {
  await stackUp({ ...options, config: { ...options.config, externalMqtt: undefined }, services: ['mqtt'] });
}

/** Credentials of an MQTT principal of the local stack (`admin`, `ingest`, or an operator code). */
export function stackMqttCredentials(
  username: string,
  options: StackOptions = {},
): { username: string; password: string } {
  return mqttCredentials(resolveConfig(options.config), username);
}

/**
 * Folder of the local stack's MQTT password files (`<principal>.password`, 0600): every operator of the
 * registry has one, so the simulator can log in as each operator (its `SIM_MQTT_PASSWORDS_DIR`).
 */
export function stackMqttPasswordsDir(options: StackOptions = {}): string {
  const config = resolveConfig(options.config);
  for (const p of stackPrincipals()) if (p.role === 'operator') mqttCredentials(config, p.username);
  return path.dirname(mqttPasswordFile(config, 'admin'));
}

/** The environment that gives each pipeline process its own credentials on this stack (file paths only). */
export function serviceSecretEnvs(options: StackOptions = {}): ServiceSecretEnvs {
  return serviceSecretEnvsOf(resolveConfig(options.config));
}
