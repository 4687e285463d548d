import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WIRE_LIMITS } from '@ondijon/contracts';
import { infraDir, type StackConfig } from './config';
import { fetchWithMaven } from './maven';
import { compileArtemisJava, packJar } from './java-tools';
import { ensureMqttTls, mqttCaFile, mqttServerPemFile } from './mqtt-tls';
import { mqttGuardFile, syncMqttAccess } from './operators';
import { requireJava } from './prerequisites';
import { isOurs, readPid, startDetached, tail, type PidRecord } from './proc';
import { secretsDir } from './secrets';

const execFileAsync = promisify(execFile);

/**
 * The MQTT broker of the stack: Apache ActiveMQ Artemis (Apache-2.0), its `bin` distribution from
 * Maven Central. Why this broker and not Mosquitto: docs/mqtt-broker.md.
 */
export const ARTEMIS_VERSION = '2.40.0';

/** Folder of the local broker: `etc/` (generated config), `data/` (journal), log and pid file. */
export function artemisDir(config: StackConfig): string {
  return path.join(config.dir, 'artemis');
}

/** Pid file of the local broker. */
export function artemisPidFile(config: StackConfig): string {
  return path.join(artemisDir(config), 'artemis.pid.json');
}

/** Log of the local broker. */
export function artemisLog(config: StackConfig): string {
  return path.join(artemisDir(config), 'artemis.log');
}

/** Where the distribution is unpacked (shared by every stack of the machine, like the Maven cache). */
export function artemisHome(config: StackConfig): string {
  return config.artemisHome ?? path.join(config.dir, 'artemis-dist', `apache-artemis-${ARTEMIS_VERSION}`);
}

/** Fetches the distribution with Maven (once) and unpacks it, unless it is there already. */
export async function ensureArtemis(config: StackConfig, log: (line: string) => void): Promise<string> {
  const home = artemisHome(config);
  if (existsSync(path.join(home, 'lib', 'artemis-boot.jar'))) return home;
  log(`resolving Apache ActiveMQ Artemis ${ARTEMIS_VERSION} from Maven Central into ${home}`);
  const staging = `${home}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await fetchWithMaven(
    `the MQTT broker (Apache ActiveMQ Artemis ${ARTEMIS_VERSION})`,
    [
      'dependency:copy',
      `-Dartifact=org.apache.activemq:apache-artemis:${ARTEMIS_VERSION}:zip:bin`,
      `-DoutputDirectory=${staging}`,
    ],
    staging,
  );
  // Python's zipfile unpacks it (Debian always has python3; `unzip` is not always installed).
  const zip = path.join(staging, `apache-artemis-${ARTEMIS_VERSION}-bin.zip`);
  await execFileAsync('python3', ['-m', 'zipfile', '-e', zip, staging], { timeout: 5 * 60_000 });
  rmSync(zip, { force: true });
  mkdirSync(path.dirname(home), { recursive: true });
  rmSync(home, { recursive: true, force: true });
  renameSync(path.join(staging, `apache-artemis-${ARTEMIS_VERSION}`), home);
  rmSync(staging, { recursive: true, force: true });
  return home;
}

/**
 * A broker node of the stack: the single node, or one of the replicated pair (`--mqtt-nodes 2`). The primary
 * is the single node's instance (same folder, ports and journal) with the pair's policy; the backup has its
 * own folder and ports and reads the primary's access files (one set of principals and ACLs for both).
 */
export interface ArtemisNode {
  /** `single` (no replication), `primary` or `backup` of the replicated pair. */
  role: 'single' | 'primary' | 'backup';
  /** Instance folder: `etc/`, `data/` (journal), `lib/`, log and pid file. */
  dir: string;
  /** MQTT port. */
  mqttPort: number;
  /** MQTT over TLS port. */
  mqttsPort: number;
  /** Core-protocol port on loopback: management, and the pair's replication link. */
  adminPort: number;
  /** The other node's core-protocol port (the pair only). */
  peerAdminPort: number | undefined;
}

/** The node of `role` in the stack described by `config`. */
export function artemisNode(config: StackConfig, role: ArtemisNode['role'] = 'single'): ArtemisNode {
  if (role === 'backup')
    return {
      role,
      dir: path.join(config.dir, 'artemis-backup'),
      mqttPort: config.mqttBackupPort,
      mqttsPort: config.mqttsBackupPort,
      adminPort: config.mqttBackupAdminPort,
      peerAdminPort: config.mqttAdminPort,
    };
  return {
    role,
    dir: artemisDir(config),
    mqttPort: config.mqttPort,
    mqttsPort: config.mqttsPort,
    adminPort: config.mqttAdminPort,
    peerAdminPort: role === 'primary' ? config.mqttBackupAdminPort : undefined,
  };
}

/** The role a node was last started in (its `role` file), or undefined before its first start. */
export function artemisNodeRole(node: Pick<ArtemisNode, 'dir'>): ArtemisNode['role'] | undefined {
  const file = path.join(node.dir, 'role');
  if (!existsSync(file)) return undefined;
  const role = readFileSync(file, 'utf8').trim();
  return role === 'single' || role === 'primary' || role === 'backup' ? role : undefined;
}

/** The pair's cluster user's password (`mqtt-cluster.password`, 0600), created once. */
function clusterPassword(config: StackConfig): string {
  const dir = secretsDir(config);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'mqtt-cluster.password');
  if (!existsSync(file))
    writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600, flag: 'wx' });
  return readFileSync(file, 'utf8').trim();
}

/**
 * broker.xml of a node of the replicated pair: infra/artemis/broker.xml as it is, with the block of
 * infra/artemis/ha-replication.xml (only this role's policy kept) inserted before `</core>`.
 */
export function pairBrokerXml(role: 'primary' | 'backup', password: string): string {
  const broker = readFileSync(path.join(infraDir, 'artemis', 'broker.xml'), 'utf8');
  const other = role === 'primary' ? 'backup' : 'primary';
  const block = readFileSync(path.join(infraDir, 'artemis', 'ha-replication.xml'), 'utf8')
    .replace(new RegExp(`[ \\t]*<!-- role:${other} -->[\\s\\S]*<!-- /role:${other} -->\\n`), '')
    .replace('@CLUSTER_PASSWORD@', password.replace(/[<>&"']/g, ''));
  const end = broker.lastIndexOf('</core>');
  if (end < 0 || !block.includes(`<${role}>`) || block.includes(`<${other}>`))
    throw new Error('infra/artemis/broker.xml or ha-replication.xml lost its markers (</core>, role blocks)');
  return `${broker.slice(0, end)}\n    <!-- ===== replicated pair (${role}): infra/artemis/ha-replication.xml ===== -->\n${block}  ${broker.slice(end)}`;
}

/**
 * Writes the instance's configuration (from infra/artemis), the TLS material (the stack's CA and the
 * server certificate) and the access files rendered from the operators' state (infra/stack/src/operators.ts).
 * The access files (JAAS, security settings) live only in the primary's `etc/`; a backup reads them there.
 */
export async function writeArtemisInstance(
  config: StackConfig,
  home = artemisHome(config),
  node: ArtemisNode = artemisNode(config),
): Promise<void> {
  const dir = node.dir;
  const etc = path.join(dir, 'etc');
  const accessEtc = path.join(artemisDir(config), 'etc');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  mkdirSync(etc, { recursive: true });
  mkdirSync(accessEtc, { recursive: true });
  for (const file of ['log4j2.properties', 'management.xml'])
    copyFileSync(path.join(infraDir, 'artemis', file), path.join(etc, file));
  copyFileSync(path.join(infraDir, 'artemis', 'login.config'), path.join(accessEtc, 'login.config'));
  await ensureMqttTls(config);
  // The MQTT client-id guard (infra/artemis/ClientIdGuard.java): the broker loads the jars of <instance>/lib.
  const guard = await compileArtemisJava(config, home, 'ClientIdGuard');
  await packJar(guard, path.join(dir, 'lib', 'ondijon-broker.jar'));
  await syncMqttAccess(config);
  let brokerXml = path.join(accessEtc, 'broker.xml');
  if (node.role !== 'single') {
    brokerXml = path.join(etc, `broker-${node.role}.xml`);
    writeFileSync(brokerXml, pairBrokerXml(node.role, clusterPassword(config)), { mode: 0o600 });
    chmodSync(brokerXml, 0o600);
  }
  const bootstrap = readFileSync(path.join(infraDir, 'artemis', 'bootstrap.xml'), 'utf8').replace(
    '${ondijon.brokerXmlUri}',
    `file:${brokerXml}`,
  );
  writeFileSync(path.join(etc, 'bootstrap.xml'), bootstrap);
  writeFileSync(path.join(dir, 'role'), `${node.role}\n`);
}

/** The recorded broker process when it is alive and ours. */
export function artemisProcess(config: StackConfig): PidRecord | undefined {
  const record = readPid(artemisPidFile(config));
  return isOurs(record) ? record : undefined;
}

/** Starts a broker node in the background (does not wait); by default the single node. */
export async function startArtemis(
  config: StackConfig,
  home: string,
  node: ArtemisNode = artemisNode(config),
): Promise<PidRecord> {
  const java = requireJava();
  await writeArtemisInstance(config, home, node);
  return startDetached({
    command: java,
    args: artemisJavaArgs(config, home, node),
    cwd: node.dir,
    logFile: path.join(node.dir, 'artemis.log'),
    pidFile: path.join(node.dir, 'artemis.pid.json'),
    fingerprint: ['org.apache.activemq.artemis.boot.Artemis', `-Dartemis.instance=${node.dir}`],
  });
}

/**
 * The broker JVM's arguments for a node. Every node reads the access files (JAAS, security settings) and
 * the guard's file from the primary's `etc/`, where `pnpm operators` writes them: a backup that takes
 * over keeps the operators' caps and the revoked list.
 */
export function artemisJavaArgs(config: StackConfig, home: string, node: ArtemisNode): string[] {
  const dir = node.dir;
  const etc = path.join(dir, 'etc');
  const accessEtc = path.join(artemisDir(config), 'etc');
  return [
    `-Xmx${config.artemisHeap}`,
    '-Xms64m',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=file:${path.join(etc, 'log4j2.properties')}`,
    `-Djava.security.auth.login.config=${path.join(accessEtc, 'login.config')}`,
    `-Dartemis.home=${home}`,
    `-Dartemis.instance=${dir}`,
    `-Dartemis.instance.etc=${etc}`,
    `-Djava.io.tmpdir=${path.join(dir, 'tmp')}`,
    `-Dondijon.dataDir=${path.join(dir, 'data')}`,
    `-Dondijon.etcDir=${accessEtc}`,
    `-Dondijon.guardFile=${mqttGuardFile(config)}`,
    `-Dondijon.mqttPort=${node.mqttPort}`,
    `-Dondijon.mqttsPort=${node.mqttsPort}`,
    `-Dondijon.adminPort=${node.adminPort}`,
    ...(node.peerAdminPort === undefined ? [] : [`-Dondijon.peerAdminPort=${node.peerAdminPort}`]),
    `-Dondijon.serverPem=${mqttServerPemFile(config)}`,
    `-Dondijon.caPem=${mqttCaFile(config)}`,
    `-Dondijon.maxPacketBytes=${WIRE_LIMITS.mqttMaxPacketBytes}`,
    '-classpath',
    path.join(home, 'lib', 'artemis-boot.jar'),
    'org.apache.activemq.artemis.boot.Artemis',
    'run',
  ];
}

/** Last lines of the broker log, for error messages. */
export function artemisLogTail(config: StackConfig): string {
  return tail(artemisLog(config), 3);
}
