// `pnpm stack up|down|status|provision` — the only module of @ondijon/stack with side effects on import.
import { parseArgs } from 'node:util';
import { StackError, resolveConfig } from './config';
import { stackProvision } from './provision';
import { redisClusterDown, redisClusterRunning, redisClusterUp } from './redis-cluster';
import { ensureS3Proxy, s3Down, s3Running, s3Up } from './s3';
import { mqttPairDown, stackDown, stackStatus, stackUp, type ServiceStatus } from './stack';

const usage = `usage: pnpm stack <command> [options]

commands:
  up            start Kafka, the MQTT broker and Redis (idempotent; waits until each answers)
  down          stop what the stack started (data under .stack/ is kept)
  status        address, pid and health of each service
  provision     create the Kafka topics of the registry and their ACLs (idempotent; reports drift)
  fetch-s3      fetch the optional S3 server (S3Proxy, Maven Central) if it is not there yet
  up-cluster    same as: up --kafka-nodes 3
  down-cluster  same as: down --kafka-nodes 3

options:
  --kafka-nodes 3   act on the 3-node Kafka cluster (brokers 19192-19194) instead of the single node
  --mqtt-nodes 2    the MQTT broker as a replicated pair: up starts the primary (ports of the single node,
                    which it replaces) and a backup (ONDIJON_MQTT_BACKUP_PORT, default 11884) and waits until
                    the backup is in step; down stops the pair only (docs/mqtt-broker.md)
  --purge           with down --kafka-nodes 3: also delete the cluster's data
  --s3              with up: also start the optional S3 server (S3Proxy from Maven Central; port
                    ONDIJON_S3_PORT, default 18333); down stops it whenever it runs
  --redis-cluster   with up: also start a 3-master Redis Cluster (ports ONDIJON_REDIS_CLUSTER_PORT, default
                    16380, and the next two); down stops it whenever it runs
  --json            machine-readable output (status, provision)`;

function table(rows: ServiceStatus[]): string {
  const lines = [
    ['SERVICE', 'ADDRESS', 'PID', 'OWNER', 'HEALTH'],
    ...rows.map((r) => [
      r.service,
      r.address,
      r.pid === null ? '-' : String(r.pid),
      r.owner,
      r.healthy ? 'ok' : `down (${r.detail})`,
    ]),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines
    .map((l) => l.map((cell, i) => (i === l.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'kafka-nodes': { type: 'string' },
      'mqtt-nodes': { type: 'string' },
      json: { type: 'boolean' },
      purge: { type: 'boolean' },
      s3: { type: 'boolean' },
      'redis-cluster': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  let command = positionals[0];
  let nodesArg = values['kafka-nodes'];
  if (command === 'up-cluster' || command === 'down-cluster') {
    command = command.slice(0, -'-cluster'.length);
    nodesArg = '3';
  }
  if (values.help || command === undefined) {
    console.log(usage);
    return command === undefined && !values.help ? 1 : 0;
  }
  if (nodesArg !== undefined && nodesArg !== '1' && nodesArg !== '3') {
    throw new StackError(`--kafka-nodes ${nodesArg} is not supported; use 1 (default) or 3.`);
  }
  const kafkaNodes = nodesArg === '3' ? 3 : 1;
  const mqttNodesArg = values['mqtt-nodes'];
  if (mqttNodesArg !== undefined && mqttNodesArg !== '1' && mqttNodesArg !== '2') {
    throw new StackError(`--mqtt-nodes ${mqttNodesArg} is not supported; use 1 (default) or 2.`);
  }
  const mqttNodes = mqttNodesArg === '2' ? 2 : 1;
  // With --json, stdout carries only the JSON document; progress goes to stderr.
  const log = (line: string) => (values.json ? console.error(line) : console.log(line));
  switch (command) {
    case 'up': {
      const rows = await stackUp({ kafkaNodes, mqttNodes, log });
      if (values.s3) {
        const s3 = await s3Up({ log });
        rows.push({
          service: 's3',
          address: s3.endpoint,
          pid: null,
          owner: 'stack',
          healthy: true,
          detail: '',
        });
      }
      if (values['redis-cluster']) {
        for (const port of await redisClusterUp({ log }))
          rows.push({
            service: 'redis-cluster',
            address: `redis://127.0.0.1:${port}`,
            pid: null,
            owner: 'stack',
            healthy: true,
            detail: '',
          });
      }
      console.log(values.json ? JSON.stringify(rows, null, 2) : table(rows));
      return rows.every((r) => r.healthy) ? 0 : 1;
    }
    case 'down': {
      if (mqttNodes === 2) {
        await mqttPairDown({ log });
        return 0;
      }
      await stackDown({ kafkaNodes, log, purgeCluster: values.purge ?? false });
      if (kafkaNodes === 1 && s3Running() && (await s3Down())) log('s3: stopped');
      if (kafkaNodes === 1 && redisClusterRunning())
        for (const port of await redisClusterDown()) log(`redis-cluster: stopped ${port}`);
      return 0;
    }
    case 'fetch-s3': {
      console.log(await ensureS3Proxy(resolveConfig(), log));
      return 0;
    }
    case 'status': {
      const rows = await stackStatus({ kafkaNodes, mqttNodes });
      console.log(values.json ? JSON.stringify(rows, null, 2) : table(rows));
      return rows.every((r) => r.healthy) ? 0 : 1;
    }
    case 'provision': {
      const result = await stackProvision({ kafkaNodes });
      if (values.json) console.log(JSON.stringify(result, null, 2));
      else {
        console.log(`brokers ${result.brokers.join(',')}, replication factor ${result.replicationFactor}`);
        console.log(`created ${result.created.length}: ${result.created.join(', ') || '-'}`);
        console.log(`existing ${result.existing.length}`);
        for (const d of result.drift)
          console.log(
            `drift: ${d.topic} ${d.setting} is ${d.actual}, registry says ${d.expected} (not changed; fix by hand)`,
          );
        if (result.acls) {
          console.log(`ACLs created ${result.acls.created.length}, existing ${result.acls.existing}`);
          for (const d of result.acls.drift)
            console.log(`drift: ACL ${d.acl}: ${d.reason} (not removed; fix by hand)`);
        }
      }
      return 0;
    }
    default:
      console.error(`unknown command "${command}"\n\n${usage}`);
      return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof StackError) console.error(error.message);
    else {
      // Anything else is a bug or an unexpected environment: one line, the stack only on request.
      const message = error instanceof Error ? error.message : String(error);
      console.error(`stack: ${message} (set DEBUG=ondijon:stack for details)`);
      if (process.env.DEBUG?.includes('ondijon:stack') && error instanceof Error) console.error(error.stack);
    }
    process.exit(1);
  },
);
