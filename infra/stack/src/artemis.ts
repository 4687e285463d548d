import { execFile } from 'node:child_process';
import {
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
import { syncMqttAccess } from './operators';
import { requireJava } from './prerequisites';
import { isOurs, readPid, startDetached, tail, type PidRecord } from './proc';

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
 * Writes the instance's configuration (from infra/artemis), the TLS material (the stack's CA and the
 * server certificate) and the access files rendered from the operators' state (infra/stack/src/operators.ts).
 */
export async function writeArtemisInstance(config: StackConfig, home = artemisHome(config)): Promise<void> {
  const dir = artemisDir(config);
  const etc = path.join(dir, 'etc');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  mkdirSync(etc, { recursive: true });
  for (const file of ['login.config', 'log4j2.properties', 'management.xml'])
    copyFileSync(path.join(infraDir, 'artemis', file), path.join(etc, file));
  const bootstrap = readFileSync(path.join(infraDir, 'artemis', 'bootstrap.xml'), 'utf8').replace(
    '${ondijon.brokerXmlUri}',
    `file:${path.join(etc, 'broker.xml')}`,
  );
  writeFileSync(path.join(etc, 'bootstrap.xml'), bootstrap);
  await ensureMqttTls(config);
  // The MQTT client-id guard (infra/artemis/ClientIdGuard.java): the broker loads the jars of <instance>/lib.
  const guard = await compileArtemisJava(config, home, 'ClientIdGuard');
  await packJar(guard, path.join(dir, 'lib', 'ondijon-broker.jar'));
  await syncMqttAccess(config);
}

/** The recorded broker process when it is alive and ours. */
export function artemisProcess(config: StackConfig): PidRecord | undefined {
  const record = readPid(artemisPidFile(config));
  return isOurs(record) ? record : undefined;
}

/** Starts the local broker in the background (does not wait). */
export async function startArtemis(config: StackConfig, home: string): Promise<PidRecord> {
  const java = requireJava();
  await writeArtemisInstance(config, home);
  const dir = artemisDir(config);
  const etc = path.join(dir, 'etc');
  return startDetached({
    command: java,
    args: [
      `-Xmx${config.artemisHeap}`,
      '-Xms64m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=file:${path.join(etc, 'log4j2.properties')}`,
      `-Djava.security.auth.login.config=${path.join(etc, 'login.config')}`,
      `-Dartemis.home=${home}`,
      `-Dartemis.instance=${dir}`,
      `-Dartemis.instance.etc=${etc}`,
      `-Djava.io.tmpdir=${path.join(dir, 'tmp')}`,
      `-Dondijon.dataDir=${path.join(dir, 'data')}`,
      `-Dondijon.etcDir=${etc}`,
      `-Dondijon.mqttPort=${config.mqttPort}`,
      `-Dondijon.mqttsPort=${config.mqttsPort}`,
      `-Dondijon.adminPort=${config.mqttAdminPort}`,
      `-Dondijon.serverPem=${mqttServerPemFile(config)}`,
      `-Dondijon.caPem=${mqttCaFile(config)}`,
      `-Dondijon.maxPacketBytes=${WIRE_LIMITS.mqttMaxPacketBytes}`,
      '-classpath',
      path.join(home, 'lib', 'artemis-boot.jar'),
      'org.apache.activemq.artemis.boot.Artemis',
      'run',
    ],
    cwd: dir,
    logFile: artemisLog(config),
    pidFile: artemisPidFile(config),
    fingerprint: ['org.apache.activemq.artemis.boot.Artemis', `-Dartemis.instance=${dir}`],
  });
}

/** Last lines of the broker log, for error messages. */
export function artemisLogTail(config: StackConfig): string {
  return tail(artemisLog(config), 3);
}
