import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WIRE_LIMITS } from '@ondijon/contracts';
import { StackError, infraDir, which, type StackConfig } from './config';
import { requireJava } from './prerequisites';
import { isOurs, readPid, startDetached, tail, type PidRecord } from './proc';
import { KAFKA_CONTROLLER_USER, kafkaSecret, scramSha512Credential } from './secrets';
import { KAFKA_SUPER_USER, type KafkaPrincipal, kafkaPrincipals } from '@ondijon/contracts';

const execFileAsync = promisify(execFile);

/** One Kafka process (combined broker + controller, KRaft). */
export interface KafkaNode {
  /** `kafka` for the single node, `kafka-N` for cluster nodes. */
  name: string;
  /** KRaft node id (1-based). */
  nodeId: number;
  /** Client listener port on 127.0.0.1. */
  port: number;
  /** Controller listener port on 127.0.0.1. */
  controllerPort: number;
  /** The node's folder: config, data (`data/`), logs, pid file. */
  dir: string;
}

/** A Kafka deployment: the single node or the 3-node cluster. */
export interface KafkaDeployment {
  /** `single` (default stack) or `cluster` (3 nodes, fault tests). */
  mode: 'single' | 'cluster';
  /** Folder holding the cluster id and the nodes' folders. */
  dir: string;
  /** Its nodes. */
  nodes: KafkaNode[];
}

/** The Kafka version pinned in infra/kafka/pom.xml. */
export function pinnedKafkaVersion(): string {
  const pom = readFileSync(path.join(infraDir, 'kafka', 'pom.xml'), 'utf8');
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  if (version === undefined) throw new Error('infra/kafka/pom.xml has no <kafka.version>');
  return version;
}

/** The single-node or 3-node deployment described by `config`. */
export function kafkaDeployment(config: StackConfig, mode: 'single' | 'cluster'): KafkaDeployment {
  if (mode === 'single') {
    const dir = path.join(config.dir, 'kafka');
    return {
      mode,
      dir,
      nodes: [
        {
          name: 'kafka',
          nodeId: 1,
          port: config.kafkaPort,
          controllerPort: config.kafkaControllerPort,
          dir: path.join(dir, 'node-1'),
        },
      ],
    };
  }
  const dir = path.join(config.dir, 'kafka-cluster');
  const nodes = config.clusterPorts.map((port, i) => ({
    name: `kafka-${i + 1}`,
    nodeId: i + 1,
    port,
    controllerPort: config.clusterControllerPorts[i] ?? port + 100,
    dir: path.join(dir, `node-${i + 1}`),
  }));
  return { mode, dir, nodes };
}

/** Folder of the cached broker jars (shared by both deployments and by test stacks). */
export function libsDir(config: StackConfig): string {
  return config.kafkaLibsDir;
}

/** Resolves the broker jars with Maven into `.stack/kafka/libs`, unless the pinned version is already there. */
export async function ensureKafkaJars(config: StackConfig, log: (line: string) => void): Promise<void> {
  const version = pinnedKafkaVersion();
  const libs = libsDir(config);
  if (existsSync(path.join(libs, `kafka_2.13-${version}.jar`))) return;
  const mvn = which('mvn');
  if (mvn === undefined) {
    throw new StackError(
      'Maven is not installed (no `mvn` on PATH), and it is needed once to fetch the Kafka jars; install it (apt-get install -y maven) and retry.',
    );
  }
  log(`resolving Apache Kafka ${version} jars from Maven Central into ${libs}`);
  const staging = `${libs}.partial`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await execFileAsync(
      mvn,
      [
        '-B',
        '-q',
        '-Dstyle.color=never',
        '-f',
        path.join(infraDir, 'kafka', 'pom.xml'),
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${staging}`,
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000 },
    );
  } catch (error) {
    const out = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    const line = out
      .replace(/\u001b\[[0-9;]*m/g, '')
      .split('\n')
      .find((l) => l.includes('[ERROR]'));
    const cleaned = line?.replace('[ERROR]', '').replace(/\s+/g, ' ').trim() ?? 'mvn failed';
    const reason = cleaned.length > 160 ? `${cleaned.slice(0, 157)}...` : cleaned;
    throw new StackError(
      `Maven could not fetch Apache Kafka ${version} from Maven Central (${reason}); check network access to Maven Central (or set a mirror in ~/.m2/settings.xml) and retry.`,
    );
  }
  rmSync(libs, { recursive: true, force: true });
  renameSync(staging, libs);
}

/** JAAS options: a quoted value (the generated secrets are base64url, so no quote can occur). */
function jaasValue(value: string): string {
  if (/["\\;\s]/.test(value))
    throw new Error('a Kafka secret must not contain quotes, backslashes, semicolons or spaces');
  return `"${value}"`;
}

function serverProperties(config: StackConfig, deployment: KafkaDeployment, node: KafkaNode): string {
  const voters = deployment.nodes.map((n) => `${n.nodeId}@127.0.0.1:${n.controllerPort}`).join(',');
  const rf = deployment.nodes.length >= 3 ? 3 : 1;
  const minIsr = rf === 3 ? 2 : 1;
  const lines = [
    `# Generated by \`pnpm stack up\` (infra/stack/src/kafka.ts); edit infra/kafka/broker.properties instead.`,
    `node.id=${node.nodeId}`,
    `controller.quorum.voters=${voters}`,
    `listeners=SASL_PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
    `advertised.listeners=SASL_PLAINTEXT://127.0.0.1:${node.port}`,
    // Clients and brokers between them: SCRAM-SHA-512, credentials in the metadata log (added at format).
    // The broker itself connects as the super user.
    `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=${jaasValue(KAFKA_SUPER_USER)} password=${jaasValue(kafkaSecret(config, KAFKA_SUPER_USER).value)};`,
    // Controllers cannot use SCRAM (its credentials live in the log the controllers serve): SASL/PLAIN with
    // one static user, so the controller port is not an anonymous door to the cluster.
    `listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=${jaasValue(KAFKA_CONTROLLER_USER)} password=${jaasValue(kafkaSecret(config, KAFKA_CONTROLLER_USER).value)} user_${KAFKA_CONTROLLER_USER}=${jaasValue(kafkaSecret(config, KAFKA_CONTROLLER_USER).value)};`,
    `super.users=User:${KAFKA_SUPER_USER};User:${KAFKA_CONTROLLER_USER}`,
    `log.dirs=${path.join(node.dir, 'data')}`,
    // Internal topics must fit the number of brokers, or consumers loop on "coordinator not available".
    `offsets.topic.replication.factor=${rf}`,
    `transaction.state.log.replication.factor=${rf}`,
    `transaction.state.log.min.isr=${minIsr}`,
    `share.coordinator.state.topic.replication.factor=${rf}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    `default.replication.factor=${rf}`,
    `min.insync.replicas=${minIsr}`,
    // Set with the MQTT broker's packet limit from one place (packages/contracts wire-limits.ts).
    `message.max.bytes=${WIRE_LIMITS.kafkaMaxRecordBytes}`,
    '',
    readFileSync(path.join(infraDir, 'kafka', 'broker.properties'), 'utf8'),
  ];
  return lines.join('\n');
}

function clusterId(deployment: KafkaDeployment): string {
  const file = path.join(deployment.dir, 'cluster-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  // A Kafka Uuid: 16 random bytes, base64url without padding (22 characters). Like Kafka's own
  // Uuid.randomUuid, never one starting with '-': StorageTool would read it as an option and fail.
  let id = randomBytes(16).toString('base64url');
  while (id.startsWith('-')) id = randomBytes(16).toString('base64url');
  mkdirSync(deployment.dir, { recursive: true });
  writeFileSync(file, id);
  return id;
}

/**
 * Principals added after the storage format took SCRAM credentials (issue 15: `console`): a storage formatted
 * before them is not re-formatted; `addLatePrincipals` gives them their credentials on the running broker.
 */
export const LATE_PRINCIPALS: readonly KafkaPrincipal[] = ['console'];

/** A hash of the principals' passwords: storage formatted with other credentials cannot authenticate anyone. */
function credentialsFingerprint(config: StackConfig, principals: readonly KafkaPrincipal[] = kafkaPrincipals): string {
  const hash = createHash('sha256');
  for (const p of principals) hash.update(`${p}\0${kafkaSecret(config, p).value}\0`);
  return `scram-sha-512 ${hash.digest('hex')}`;
}

/** The fingerprint of a storage formatted before the late principals existed. */
function legacyFingerprint(config: StackConfig): string {
  return credentialsFingerprint(
    config,
    kafkaPrincipals.filter((p) => !LATE_PRINCIPALS.includes(p)),
  );
}

/**
 * Gives the late principals their SCRAM credentials on a running deployment whose storage was formatted
 * before them (Admin API AlterUserScramCredentials, by infra/kafka/AddScramUsers.java on the broker's
 * jars; passwords on stdin, never on a command line), then records the full fingerprint. Idempotent.
 */
export async function addLatePrincipals(
  config: StackConfig,
  deployment: KafkaDeployment,
  log: (line: string) => void,
): Promise<void> {
  const legacy = legacyFingerprint(config);
  const stale = deployment.nodes.filter((n) => {
    const marker = path.join(n.dir, 'auth-scram');
    return existsSync(marker) && readFileSync(marker, 'utf8').trim() === legacy;
  });
  if (stale.length === 0) return;
  const java = requireJava();
  const input = [
    `127.0.0.1:${deployment.nodes[0]!.port}`,
    `${KAFKA_SUPER_USER}\t${kafkaSecret(config, KAFKA_SUPER_USER).value}`,
    ...LATE_PRINCIPALS.map((p) => `${p}\t${kafkaSecret(config, p).value}`),
    '',
  ].join('\n');
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      java,
      ['-cp', `${libsDir(config)}/*`, path.join(infraDir, 'kafka', 'AddScramUsers.java')],
      { maxBuffer: 4 * 1024 * 1024 },
      (error, _stdout, stderr) =>
        error
          ? reject(
              new StackError(
                `Kafka: could not add the credentials of ${LATE_PRINCIPALS.join(', ')} (${String(stderr).trim().split('\n').pop() ?? error.message})`,
              ),
            )
          : resolve(),
    );
    child.stdin?.end(input);
  });
  const full = credentialsFingerprint(config);
  for (const n of stale) writeFileSync(path.join(n.dir, 'auth-scram'), `${full}\n`);
  log(`kafka: added the SCRAM credentials of ${LATE_PRINCIPALS.join(', ')} (storage formatted before them)`);
}

/** Pid file of a node. */
export function nodePidFile(node: KafkaNode): string {
  return path.join(node.dir, 'kafka.pid.json');
}

/** The recorded process of a node when it is alive and ours. */
export function nodeProcess(node: KafkaNode): PidRecord | undefined {
  const record = readPid(nodePidFile(node));
  return isOurs(record) ? record : undefined;
}

/** Writes the node's config, formats its storage once, and starts it in the background (does not wait). */
export async function startKafkaNode(
  config: StackConfig,
  deployment: KafkaDeployment,
  node: KafkaNode,
): Promise<PidRecord> {
  const java = requireJava();
  mkdirSync(path.join(node.dir, 'data'), { recursive: true });
  const propsFile = path.join(node.dir, 'server.properties');
  // The file holds the super user's and the controller's passwords.
  writeFileSync(propsFile, serverProperties(config, deployment, node), { mode: 0o600 });
  chmodSync(propsFile, 0o600);
  const classpath = `${libsDir(config)}/*`;
  const marker = path.join(node.dir, 'auth-scram');
  const fingerprint = credentialsFingerprint(config);
  if (existsSync(path.join(node.dir, 'data', 'meta.properties'))) {
    const recorded = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '';
    // A storage formatted before the late principals is upgraded once the broker runs (addLatePrincipals).
    if (recorded !== fingerprint && recorded !== legacyFingerprint(config)) {
      throw new StackError(
        `Kafka's storage in ${node.dir} was formatted ${recorded === '' ? 'without authentication (before SASL/SCRAM)' : 'with other credentials than .stack/secrets'}; delete that folder (this loses its topics) and retry.`,
      );
    }
  } else {
    try {
      await execFileAsync(
        java,
        [
          '-Xmx256m',
          '-cp',
          classpath,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          clusterId(deployment),
          '-c',
          propsFile,
          '--ignore-formatted',
          // Every principal's SCRAM credential, salted here: the password is not on the command line.
          ...kafkaPrincipals.flatMap((p) => [
            '--add-scram',
            scramSha512Credential(p, kafkaSecret(config, p).value),
          ]),
        ],
        { maxBuffer: 4 * 1024 * 1024 },
      );
      writeFileSync(marker, `${fingerprint}\n`);
    } catch (error) {
      const out =
        `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`
          .trim()
          .split('\n')
          .pop();
      throw new StackError(
        `Kafka could not format its storage in ${node.dir} (${out ?? 'unknown error'}); delete that folder if it is from another cluster and retry.`,
      );
    }
  }
  return startDetached({
    command: java,
    args: [
      `-Xmx${config.kafkaHeap}`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dkafka.logs.dir=${node.dir}`,
      `-Dlog4j2.configurationFile=${path.join(infraDir, 'kafka', 'log4j2.properties')}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      propsFile,
    ],
    cwd: node.dir,
    logFile: path.join(node.dir, 'stdout.log'),
    pidFile: nodePidFile(node),
    fingerprint: ['kafka.Kafka', propsFile],
  });
}

/** Last lines of a node's broker log, for error messages. */
export function nodeLogTail(node: KafkaNode): string {
  const server = tail(path.join(node.dir, 'server.log'), 3);
  return server !== '' ? server : tail(path.join(node.dir, 'stdout.log'), 3);
}
