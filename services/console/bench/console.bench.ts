// `pnpm bench:console` (issue 15): does the console slow ingest down? The city preset (~9 700 equipment) is
// simulated unpaced (SIM_SPEED=max) through the real ingest on a namespace of its own; ingest's rate is
// measured without the console, with the console and 20 open live (SSE) sessions of the supervisor, then
// without again, in the same run (ratio = with / mean of the two without). Then the equipment page of the
// 10 000-equipment registry is loaded in Debian's chromium: time to first contentful paint and until the
// table and map are filled. Prints a table and writes reports/bench-console.json. Not a test: figures swing
// with the machine's load (printed).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { generateRegistry, topicList } from '@ondijon/contracts';
import { createKafka, deleteNamespaceAcls } from '@ondijon/kafka';
import {
  endpoints,
  securityOf,
  serviceSecretEnvs,
  stackMqttCredentials,
  stackProvision,
  stackUp,
} from '@ondijon/stack';
import {
  REPO_ROOT,
  type ServiceHandle,
  serviceEntry,
  startService,
  stopAll,
  waitHttpOk,
} from '@ondijon/devstack';
import {
  consoleEnv,
  freePort,
  mqttEnv,
  type PipelinePlan,
  plannedTopics,
  serviceEnvs,
} from '@ondijon/devstack';

const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 40);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 20);
const SSE_CLIENTS = Number(process.env.BENCH_SSE_CLIENTS ?? 20);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

await stackUp({ log: () => undefined });
const ep = {
  ...endpoints(),
  mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
};
const runId = `cb${Date.now().toString(36)}`;
const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-console-bench-'));
const plan: PipelinePlan = {
  topicPrefix: `${runId}.`,
  mqttPrefix: `${runId}/`,
  runId,
  registryFile: path.join(dir, 'registry.json'),
  opendataDir: path.join(dir, 'opendata'),
  publisherStateDir: path.join(dir, 'publisher'),
  ports: { ingest: await freePort(), processors: 0, publisher: 0, api: 0 },
  endpoints: ep,
  secrets: serviceSecretEnvs(),
  ingestConnections: 4,
};
const registry = generateRegistry({ seed: 1, scale: 'city' });
writeFileSync(plan.registryFile, JSON.stringify(registry));
await stackProvision({ namespace: plan.topicPrefix });
const services: ServiceHandle[] = [];
const ingest = startService('ingest', serviceEntry('ingest'), {
  env: { ...serviceEnvs(plan).ingest, LOG_LEVEL: 'warn' },
  logFile: path.join(dir, 'ingest.log'),
});
services.push(ingest);
await waitHttpOk(`http://127.0.0.1:${plan.ports.ingest}/readyz`, 90_000, ingest);
services.push(
  startService('simulator', serviceEntry('simulator'), {
    logFile: path.join(dir, 'simulator.log'),
    env: {
      MQTT_URL: ep.mqttUrl,
      ...mqttEnv(plan, 'admin'),
      SIM_TOPIC_PREFIX: plan.mqttPrefix,
      SIM_REGISTRY_FILE: plan.registryFile,
      SIM_PRESET: 'city',
      SIM_START: 'now-2d',
      SIM_SPEED: 'max',
      SIM_FAULTS: 'default',
      SIM_CLIENT_ID_PREFIX: `ondijon-sim-${runId}`,
    },
  }),
);

const received = async () => {
  const text = await (await fetch(`http://127.0.0.1:${plan.ports.ingest}/metrics`)).text();
  return Number(/^ondijon_ingest_messages_received_total (\d+)/m.exec(text)?.[1] ?? 0);
};
const measure = async (label: string) => {
  const a = await received();
  const t = Date.now();
  await sleep(WINDOW_S);
  const rate = ((await received()) - a) / ((Date.now() - t) / 1000);
  const load = loadavg()[0]!;
  process.stdout.write(`  ${label}: ${rate.toFixed(0)} msg/s (load ${load.toFixed(1)})\n`);
  return { label, rate, load };
};

await sleep(WARMUP_S);
const rounds = [await measure('without console')];

const consolePort = await freePort();
const consoleService = startService('console', path.join(REPO_ROOT, 'services/console/src/main.ts'), {
  env: { ...consoleEnv(plan, consolePort), LOG_LEVEL: 'warn' },
  logFile: path.join(dir, 'console.log'),
});
services.push(consoleService);
const base = `http://127.0.0.1:${consolePort}`;
await waitHttpOk(`${base}/readyz`, 90_000, consoleService);
const form = await fetch(`${base}/login`);
const csrfCookie = form.headers
  .getSetCookie()
  .map((c) => c.split(';')[0])
  .join('; ');
const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
const secretsDir = path.dirname(plan.secrets!.console.CONSOLE_USERS_FILE!);
const password = readFileSync(path.join(secretsDir, 'console-superviseur.password'), 'utf8').trim();
const login = await fetch(`${base}/login`, {
  method: 'POST',
  redirect: 'manual',
  headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ login: 'superviseur', password, _csrf: token }),
});
const cookie = `${csrfCookie}; ${login.headers
  .getSetCookie()
  .map((c) => c.split(';')[0])
  .join('; ')}`;
// 20 live sessions of the supervisor (every equipment), each read to the end of every update.
const aborts: AbortController[] = [];
let sseBytes = 0;
for (let i = 0; i < SSE_CLIENTS; i++) {
  const ac = new AbortController();
  aborts.push(ac);
  void fetch(`${base}/api/events`, { headers: { cookie }, signal: ac.signal })
    .then(async (res) => {
      for await (const chunk of res.body!) sseBytes += (chunk as Uint8Array).length;
    })
    .catch(() => undefined);
}
await sleep(10);
rounds.push(await measure(`with console + ${SSE_CLIENTS} SSE sessions`));

// Page load of the equipment view with the whole registry, in Debian's chromium.
const userDataDir = mkdtempSync(path.join(tmpdir(), 'ondijon-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const [name, value] = login.headers.getSetCookie()[0]!.split(';')[0]!.split(/=(.*)/s) as [string, string];
await context.addCookies([{ name, value, url: base }]);
const page = await context.newPage();
const t0 = Date.now();
await page.goto(`${base}/equipment`);
await page.waitForFunction(
  () => {
    const g = globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } };
    return g.document.querySelectorAll('#equipment tbody tr').length > 0;
  },
  undefined,
  { timeout: 120_000, polling: 50 },
);
const interactiveMs = Date.now() - t0;
const fcpMs = await page.evaluate(() => {
  const g = globalThis as unknown as {
    performance: { getEntriesByName(n: string): { startTime: number }[] };
  };
  return g.performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null;
});
const shown = await page.locator('#shown').textContent();
await context.close();
rmSync(userDataDir, { recursive: true, force: true });

for (const ac of aborts) ac.abort();
await consoleService.stop(15_000);
await sleep(5);
rounds.push(await measure('without console (again)'));

const without = (rounds[0]!.rate + rounds[2]!.rate) / 2;
const ratio = rounds[1]!.rate / without;
const report = {
  registry: registry.equipment.length,
  windowS: WINDOW_S,
  sseClients: SSE_CLIENTS,
  sseBytes,
  rounds,
  ratio,
  target: 0.95,
  met: ratio >= 0.95,
  equipmentPage: { firstContentfulPaintMs: fcpMs, tableAndMapFilledMs: interactiveMs, shown },
};
process.stdout.write(
  `\n| measure | value |\n|---|---|\n| ingest without console | ${rounds[0]!.rate.toFixed(0)} / ${rounds[2]!.rate.toFixed(0)} msg/s |\n| ingest with console + ${SSE_CLIENTS} SSE | ${rounds[1]!.rate.toFixed(0)} msg/s |\n| ratio (target ≥ 0.95) | ${ratio.toFixed(3)} ${ratio >= 0.95 ? 'met' : 'NOT met'} |\n| equipment page (${registry.equipment.length} equipment): first contentful paint | ${fcpMs?.toFixed(0) ?? '—'} ms |\n| equipment page: table and map filled | ${interactiveMs} ms |\n`,
);
mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-console.json'), JSON.stringify(report, null, 2));

await stopAll(services, 15_000);
const admin = createKafka({
  brokers: ep.kafkaBrokers,
  clientId: 'console-bench',
  security: securityOf(ep),
}).admin();
await admin.connect();
await deleteNamespaceAcls(
  admin,
  topicList.map((t) => `${plan.topicPrefix}${t.name}`),
);
await admin.deleteTopics({ topics: plannedTopics(plan).map((t) => t.name) }).catch(() => undefined);
await admin.disconnect();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
