// The replicated pair of the MQTT broker (`pnpm stack up --mqtt-nodes 2`): Artemis replication, a primary
// (the single node's instance, ports and journal, with the pair's policy) and a backup with its own journal
// and ports. docs/mqtt-broker.md "The replicated pair" says what it guarantees and what it does not.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { StackError, type StackConfig } from './config';
import {
  artemisNode,
  artemisNodeRole,
  artemisPidFile,
  ensureArtemis,
  startArtemis,
  type ArtemisNode,
} from './artemis';
import { probeMqtt, type Probe } from './health';
import { readMqttCredentials } from './mqtt-principals';
import { requireJava } from './prerequisites';
import { isOurs, portOpen, readPid, sleep, stopRecorded, tail, type PidRecord } from './proc';

/** Pid file of a node. */
function pidFileOf(node: ArtemisNode): string {
  return path.join(node.dir, 'artemis.pid.json');
}

/** Log of a node. */
function artemisNodeLog(node: Pick<ArtemisNode, 'dir'>): string {
  return path.join(node.dir, 'artemis.log');
}

/** The backup's process when it is alive and ours. */
export function artemisBackupProcess(config: StackConfig): PidRecord | undefined {
  const record = readPid(pidFileOf(artemisNode(config, 'backup')));
  return isOurs(record) ? record : undefined;
}

/** MQTT URL of the pair's backup node (answers only once it has taken over). */
export function mqttBackupUrl(config: StackConfig): string {
  return `mqtt://127.0.0.1:${config.mqttBackupPort}`;
}

// Artemis' own log lines (ActiveMQServerLogger, 2.40): a backup started and waiting, in step with the
// primary, active after a failover, restarting as a backup after a failback.
const BACKUP_EVENTS = /AMQ221109|AMQ221024|AMQ221010|AMQ221039/g;

/**
 * What the backup is doing, from its log's last event: `in-sync` (replicating, can take over), `active`
 * (took over from the primary), `syncing` (started, not yet in step), `down` (not running).
 */
export function backupState(config: StackConfig): 'in-sync' | 'active' | 'syncing' | 'down' {
  const node = artemisNode(config, 'backup');
  if (!isOurs(readPid(pidFileOf(node)))) return 'down';
  const log = artemisNodeLog(node);
  if (!existsSync(log)) return 'syncing';
  const events = readFileSync(log, 'utf8').match(BACKUP_EVENTS) ?? [];
  const last = events.at(-1);
  if (last === 'AMQ221024') return 'in-sync';
  if (last === 'AMQ221010') return 'active';
  return 'syncing';
}

function adminOf(config: StackConfig) {
  return readMqttCredentials(config, 'admin');
}

async function waitUntil(
  what: string,
  check: () => Promise<Probe>,
  timeoutMs: number,
  hint: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Probe = { ok: false, detail: 'not checked' };
  while (Date.now() < deadline) {
    last = await check();
    if (last.ok) return;
    await sleep(500);
  }
  throw new StackError(
    `${what} within ${Math.round(timeoutMs / 1000)} s (${last.detail}); read ${hint()} and retry.`,
  );
}

/**
 * Starts what is missing of the replicated pair and waits until the primary answers MQTT and the backup is
 * in step with it (idempotent). A single node that runs is stopped cleanly and started again as the primary
 * (same journal). After a failover, the primary that starts again replicates from the active backup and then
 * takes over (failback), so this also brings a pair back to its normal layout.
 */
export async function upMqttPair(
  config: StackConfig,
  log: (line: string) => void,
  timeoutMs = 120_000,
  waitForBackup = true,
): Promise<void> {
  const primary = artemisNode(config, 'primary');
  const backup = artemisNode(config, 'backup');
  if (isOurs(readPid(artemisPidFile(config))) && artemisNodeRole(primary) !== 'primary') {
    log('mqtt: stopping the single node to start it again as the primary of the replicated pair');
    await stopRecorded(artemisPidFile(config), 30_000);
  }
  const starts: ArtemisNode[] = [];
  for (const node of [primary, backup]) {
    if (isOurs(readPid(pidFileOf(node)))) continue;
    for (const port of [node.mqttPort, node.mqttsPort, node.adminPort])
      if (await portOpen(port))
        throw new StackError(
          `Port ${port} of the MQTT ${node.role} is in use by another process; stop it or choose other ports (ONDIJON_MQTT_PORT, ONDIJON_MQTTS_PORT, ONDIJON_MQTT_ADMIN_PORT, ONDIJON_MQTT_BACKUP_PORT, ONDIJON_MQTTS_BACKUP_PORT, ONDIJON_MQTT_BACKUP_ADMIN_PORT), and retry.`,
        );
    starts.push(node);
  }
  if (starts.length > 0) {
    requireJava();
    const home = await ensureArtemis(config, log);
    for (const node of starts) {
      const record = await startArtemis(config, home, node);
      log(
        `mqtt-${node.role}: started Apache ActiveMQ Artemis pid ${record.pid} (MQTT 127.0.0.1:${node.mqttPort}, replication 127.0.0.1:${node.adminPort})`,
      );
    }
  }
  // After a failover the primary answers MQTT only once it has failed back.
  await waitUntil(
    'The MQTT primary did not answer',
    async () => {
      if (!isOurs(readPid(pidFileOf(primary))))
        throw new StackError(
          `The MQTT primary exited while starting (${tail(artemisNodeLog(primary), 2)}); read ${artemisNodeLog(primary)}.`,
        );
      return probeMqtt(`mqtt://127.0.0.1:${primary.mqttPort}`, 3_000, adminOf(config));
    },
    timeoutMs,
    () => artemisNodeLog(primary),
  );
  log('mqtt-primary: healthy');
  if (!waitForBackup) return;
  await waitUntil(
    'The MQTT backup did not get in step with the primary',
    async () => {
      const state = backupState(config);
      if (state === 'down')
        throw new StackError(
          `The MQTT backup exited while starting (${tail(artemisNodeLog(backup), 2)}); read ${artemisNodeLog(backup)}.`,
        );
      return { ok: state === 'in-sync', detail: `backup ${state}` };
    },
    timeoutMs,
    () => artemisNodeLog(backup),
  );
  log('mqtt-backup: in step with the primary (replicating)');
}

/** Stops the backup, then the primary (clean stops: the backup does not take over). Data is kept. */
export async function downMqttPair(config: StackConfig, log: (line: string) => void): Promise<void> {
  if (backupState(config) === 'active' && !isOurs(readPid(artemisPidFile(config))))
    log(
      'mqtt-backup: WARNING it is active (took over from the primary) and holds the newest messages; start the pair again with `pnpm stack up --mqtt-nodes 2` while it runs, so that the primary fails back, before stopping it (docs/mqtt-broker.md)',
    );
  for (const node of [artemisNode(config, 'backup'), artemisNode(config, 'primary')])
    if ((await stopRecorded(pidFileOf(node), 30_000)) === 'stopped') log(`mqtt-${node.role}: stopped`);
}
