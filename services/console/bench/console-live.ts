// A look at the console on the real pipeline (not a test): ingest, the console and the simulator (faults
// on, a day compressed) on a namespace of their own, for DURATION_S seconds; then prints what the
// supervisor's API shows and the console's own counters beside ingest's. Usage:
// `node --import tsx services/console/bench/console-live.ts [preset small|city] [speed 720] [seconds 60]`.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateRegistry, topicList } from '@ondijon/contracts';
import { deleteNamespaceAcls } from '@ondijon/kafka';
import {
  endpoints,
  securityOf,
  serviceSecretEnvs,
  stackMqttCredentials,
  stackProvision,
  stackUp,
} from '@ondijon/stack';
import { createKafka } from '@ondijon/kafka';
import { deleteRoundQueues, signIn, simulatorEnv } from './kit';
import { REPO_ROOT, serviceEntry, startService, stopAll, waitHttpOk } from '@ondijon/devstack';
import { consoleEnv, freePort, type PipelinePlan, plannedTopics, serviceEnvs } from '@ondijon/devstack';

const [preset = 'small', speed = '720', seconds = '60'] = process.argv.slice(2);
await stackUp({ log: () => undefined });
const ep = {
  ...endpoints(),
  mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
};
const runId = `cl${Date.now().toString(36)}`;
const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-console-live-'));
const plan: PipelinePlan = {
  topicPrefix: `${runId}.`,
  mqttPrefix: `${runId}/`,
  runId,
  registryFile:
    preset === 'city'
      ? path.join(dir, 'registry.json')
      : path.join(REPO_ROOT, 'infra', 'registry', 'equipment.json'),
  opendataDir: path.join(dir, 'opendata'),
  publisherStateDir: path.join(dir, 'publisher'),
  ports: { ingest: await freePort(), processors: 0, publisher: 0, api: 0 },
  endpoints: ep,
  secrets: serviceSecretEnvs(),
  ingestConnections: 4,
};
if (preset === 'city')
  writeFileSync(plan.registryFile, JSON.stringify(generateRegistry({ seed: 1, scale: 'city' })));
await stackProvision({ namespace: plan.topicPrefix });
const consolePort = await freePort();
const services = [
  startService('ingest', serviceEntry('ingest'), {
    env: { ...serviceEnvs(plan).ingest, LOG_LEVEL: 'warn' },
    logFile: path.join(dir, 'ingest.log'),
  }),
  startService('console', path.join(REPO_ROOT, 'services/console/src/main.ts'), {
    env: { ...consoleEnv(plan, consolePort), LOG_LEVEL: 'warn' },
    logFile: path.join(dir, 'console.log'),
  }),
];
await waitHttpOk(`http://127.0.0.1:${plan.ports.ingest}/readyz`, 90_000, services[0]);
await waitHttpOk(`http://127.0.0.1:${consolePort}/readyz`, 90_000, services[1]);
const sim = startService('simulator', serviceEntry('simulator'), {
  logFile: path.join(dir, 'simulator.log'),
  env: simulatorEnv(plan, { preset, start: 'now-1d', speed, faults: 'default' }),
});
services.push(sim);
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));

// Sign in as the supervisor and read what the pages show.
const base = `http://127.0.0.1:${consolePort}`;
const cookie = await signIn(base, plan.secrets!.console.CONSOLE_USERS_FILE!);
const get = async (u: string) => (await fetch(`${base}${u}`, { headers: { cookie } })).json();
const eq = (await get('/api/equipment')) as { equipment: { status: string }[]; alerts: { kind: string }[] };
const rej = (await get('/api/rejections')) as { counts: Record<string, number> };
const overview = (await get('/api/overview')) as { rates: { byFamily: Record<string, number[]> } };
const metrics = await (await fetch(`http://127.0.0.1:${plan.ports.ingest}/metrics`)).text();
const consoleMetrics = await (await fetch(`${base}/metrics`)).text();
const statuses: Record<string, number> = {};
for (const r of eq.equipment) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
const alerts: Record<string, number> = {};
for (const a of eq.alerts) alerts[a.kind] = (alerts[a.kind] ?? 0) + 1;
const report = {
  preset,
  speed: Number(speed),
  seconds: Number(seconds),
  equipment: eq.equipment.length,
  statuses,
  alerts,
  rejectionsByCode: rej.counts,
  ratesLastStep: Object.fromEntries(Object.entries(overview.rates.byFamily).map(([f, s]) => [f, s.at(-1)])),
  consoleRecords: consoleMetrics.split('\n').filter((l) => l.startsWith('ondijon_console_records_read')),
  ingestCounters: metrics
    .split('\n')
    .filter((l) => /^ondijon_ingest_(messages|records|dead)/.test(l))
    .slice(0, 20),
};
console.log(JSON.stringify(report, null, 2));
mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
writeFileSync(path.join(REPO_ROOT, 'reports', 'console-live.json'), JSON.stringify(report, null, 2));
await stopAll(services, 15_000);
const admin = createKafka({
  brokers: ep.kafkaBrokers,
  clientId: 'console-live',
  security: securityOf(ep),
}).admin();
await admin.connect();
await deleteNamespaceAcls(
  admin,
  topicList.map((t) => `${plan.topicPrefix}${t.name}`),
);
await admin.deleteTopics({ topics: plannedTopics(plan).map((t) => t.name) }).catch(() => undefined);
await admin.disconnect();
// The run's shared-subscription queue holds what ingest had not taken when it stopped: not left in the broker.
await deleteRoundQueues(runId);
