// `pnpm bench:console` (issue 15): does the console slow ingest down? The city preset (~9 700 equipment)
// is simulated at a fixed rate well below ingest's capacity (live clock, every family's interval set so the
// fleet sends about BENCH_RATE msg/s), so what changes with the console is ingest's cost, not a saturated
// throughput that swings with the machine. Interleaved rounds, each on a namespace of its own (fresh Kafka
// topics, a fresh MQTT shared-subscription queue, a fresh ingest): without the console, with the console
// and 20 open live (SSE) sessions of the supervisor, without, with… Per round: ingest's received rate,
// ingest's CPU per message (its process CPU counter over its messages counter) and ingest's receive → Kafka
// acknowledgement p50/p99 (its histogram), over the same window after a warm-up. The ratios are per pair
// (without/with for cost, with/without for rate); their medians are the figures. Then the equipment page
// of the whole registry is loaded in Debian's chromium (first contentful paint, table and map filled).
// Prints a table and writes reports/bench-console.json. Not a test: figures move with the machine's load
// (printed per round).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { chromium } from 'playwright-core';
import { FAMILIES, generateRegistry, topicList } from '@ondijon/contracts';
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
  consoleEnv,
  freePort,
  mqttEnv,
  type PipelinePlan,
  plannedTopics,
  serviceEntry,
  serviceEnvs,
  startService,
  stopAll,
  waitHttpOk,
} from '@ondijon/devstack';
import { histogramQuantile } from '../src/pipeline';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 45);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 20);
const SSE_CLIENTS = Number(process.env.BENCH_SSE_CLIENTS ?? 20);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

await stackUp({ log: () => undefined });
const ep = {
  ...endpoints(),
  mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
};
const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-console-bench-'));
const registryFile = path.join(dir, 'registry.json');
const registry = generateRegistry({ seed: 1, scale: 'city' });
writeFileSync(registryFile, JSON.stringify(registry));
const intervalS = Math.min(3600, Math.max(10, Math.round(registry.equipment.length / RATE)));
const secrets = serviceSecretEnvs();
const admin = createKafka({
  brokers: ep.kafkaBrokers,
  clientId: 'console-bench',
  security: securityOf(ep),
}).admin();
await admin.connect();

interface Reading {
  received: number;
  cpuS: number;
  buckets: Map<number, number>;
}
async function readIngest(port: number): Promise<Reading> {
  const families = parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()) as {
    name: string;
    metrics: { value?: string; buckets?: Record<string, string> }[];
  }[];
  const value = (name: string) => Number(families.find((f) => f.name === name)?.metrics[0]?.value ?? 0);
  const buckets = new Map<number, number>();
  for (const [le, c] of Object.entries(
    families.find((f) => f.name === 'ondijon_ingest_ack_latency_seconds')?.metrics[0]?.buckets ?? {},
  ))
    buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(c));
  return {
    received: value('ondijon_ingest_messages_received_total'),
    cpuS: value('ondijon_ingest_process_cpu_seconds_total'),
    buckets,
  };
}

/** Signs the supervisor in; returns the session cookie header. */
async function signIn(base: string): Promise<string> {
  const form = await fetch(`${base}/login`);
  const csrfCookie = form.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const password = readFileSync(
    path.join(path.dirname(secrets.console.CONSOLE_USERS_FILE!), 'console-superviseur.password'),
    'utf8',
  ).trim();
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login: 'superviseur', password, _csrf: token }),
  });
  if (login.status !== 303) throw new Error(`supervisor sign-in answered ${login.status}`);
  return [csrfCookie, ...login.headers.getSetCookie().map((c) => c.split(';')[0])].join('; ');
}

interface Round {
  label: 'without' | 'with';
  ratePerS: number;
  cpuUsPerMsg: number;
  p50Ms: number | null;
  p99Ms: number | null;
  load: number;
  sseBytes?: number;
}

interface PageLoad {
  firstContentfulPaintMs: number | null;
  tableAndMapFilledMs: number;
  shown: string | null;
}
let pageLoad = null as PageLoad | null;

async function round(index: number, withConsole: boolean): Promise<Round> {
  const runId = `cb${Date.now().toString(36)}${index}`;
  const plan: PipelinePlan = {
    topicPrefix: `${runId}.`,
    mqttPrefix: `${runId}/`,
    runId,
    registryFile,
    opendataDir: path.join(dir, runId, 'opendata'),
    publisherStateDir: path.join(dir, runId, 'publisher'),
    ports: { ingest: await freePort(), processors: 0, publisher: 0, api: 0 },
    endpoints: ep,
    secrets,
    ingestConnections: 2,
  };
  await stackProvision({ namespace: plan.topicPrefix });
  const services: ServiceHandle[] = [];
  const aborts: AbortController[] = [];
  let sseBytes = 0;
  try {
    const ingest = startService('ingest', serviceEntry('ingest'), {
      env: { ...serviceEnvs(plan).ingest, LOG_LEVEL: 'warn' },
      logFile: path.join(dir, `${runId}-ingest.log`),
    });
    services.push(ingest);
    await waitHttpOk(`http://127.0.0.1:${plan.ports.ingest}/readyz`, 300_000, ingest);
    let base = '';
    let cookie = '';
    if (withConsole) {
      const port = await freePort();
      const consoleService = startService('console', path.join(REPO_ROOT, 'services/console/src/main.ts'), {
        env: { ...consoleEnv(plan, port), LOG_LEVEL: 'warn' },
        logFile: path.join(dir, `${runId}-console.log`),
      });
      services.push(consoleService);
      base = `http://127.0.0.1:${port}`;
      await waitHttpOk(`${base}/readyz`, 300_000, consoleService);
      cookie = await signIn(base);
      // 20 live sessions of the supervisor (every equipment), each read to the end of every update.
      for (let i = 0; i < SSE_CLIENTS; i++) {
        const ac = new AbortController();
        aborts.push(ac);
        void fetch(`${base}/api/events`, { headers: { cookie }, signal: ac.signal })
          .then(async (res) => {
            for await (const chunk of res.body!) sseBytes += (chunk as Uint8Array).length;
          })
          .catch(() => undefined);
      }
    }
    services.push(
      startService('simulator', serviceEntry('simulator'), {
        logFile: path.join(dir, `${runId}-simulator.log`),
        env: {
          MQTT_URL: ep.mqttUrl,
          ...mqttEnv(plan, 'admin'),
          SIM_TOPIC_PREFIX: plan.mqttPrefix,
          SIM_REGISTRY_FILE: plan.registryFile,
          SIM_PRESET: 'city',
          SIM_START: new Date().toISOString(),
          SIM_SPEED: '1',
          SIM_INTERVALS: FAMILIES.map((f) => `${f}=${intervalS}`).join(','),
          SIM_FAULTS: 'none',
          SIM_CLIENT_ID_PREFIX: `ondijon-sim-${runId}`,
        },
      }),
    );
    // The simulator sending (starting it takes up to minutes on a loaded machine), then the warm-up.
    const deadline = Date.now() + 300_000;
    while ((await readIngest(plan.ports.ingest)).received === 0) {
      if (Date.now() > deadline) throw new Error('the simulator sent nothing within 5 minutes');
      await sleep(2);
    }
    await sleep(WARMUP_S);
    const a = await readIngest(plan.ports.ingest);
    const t = Date.now();
    const bytes0 = sseBytes;
    await sleep(WINDOW_S);
    const b = await readIngest(plan.ports.ingest);
    const seconds = (Date.now() - t) / 1000;
    const messages = b.received - a.received;
    const delta = new Map([...b.buckets].map(([le, c]) => [le, c - (a.buckets.get(le) ?? 0)]));
    const q = (p: number) => {
      const v = histogramQuantile(p, delta);
      return v === null ? null : v * 1000;
    };
    const result: Round = {
      label: withConsole ? 'with' : 'without',
      ratePerS: messages / seconds,
      cpuUsPerMsg: messages > 0 ? ((b.cpuS - a.cpuS) * 1e6) / messages : NaN,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      load: loadavg()[0]!,
      ...(withConsole ? { sseBytes: sseBytes - bytes0 } : {}),
    };
    if (withConsole && pageLoad === null) pageLoad = await loadEquipmentPage(base, cookie);
    process.stdout.write(
      `  round ${index + 1} ${result.label.padEnd(7)}: ${result.ratePerS.toFixed(0)} msg/s, ${result.cpuUsPerMsg.toFixed(1)} CPU µs/msg, p50 ${result.p50Ms?.toFixed(1)} ms, p99 ${result.p99Ms?.toFixed(1)} ms (load ${result.load.toFixed(1)})\n`,
    );
    return result;
  } finally {
    for (const ac of aborts) ac.abort();
    // The simulator first, then the console, then ingest once it has read what was sent.
    await stopAll(services, 15_000);
    await deleteNamespaceAcls(
      admin,
      topicList.map((t) => `${plan.topicPrefix}${t.name}`),
    );
    await admin.deleteTopics({ topics: plannedTopics(plan).map((t) => t.name) }).catch(() => undefined);
    await admin.deleteGroups([`ondijon-ingest-${runId}`]).catch(() => undefined);
  }
}

/** Loads the equipment page of the whole registry in Debian's chromium (as the supervisor). */
async function loadEquipmentPage(base: string, cookie: string) {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'ondijon-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  try {
    await context.addCookies(
      cookie.split('; ').map((c) => {
        const [name, value] = c.split(/=(.*)/s) as [string, string];
        return { name, value, url: base };
      }),
    );
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
    const tableAndMapFilledMs = Date.now() - t0;
    const firstContentfulPaintMs = await page.evaluate(() => {
      const g = globalThis as unknown as {
        performance: { getEntriesByName(n: string): { startTime: number }[] };
      };
      return g.performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null;
    });
    return { firstContentfulPaintMs, tableAndMapFilledMs, shown: await page.locator('#shown').textContent() };
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

process.stdout.write(
  `city preset, ${registry.equipment.length} equipment every ${intervalS} s (≈ ${(registry.equipment.length / intervalS).toFixed(0)} msg/s), ${PAIRS} pairs of rounds, ${WARMUP_S} s warm-up + ${WINDOW_S} s window each\n`,
);
const rounds: Round[] = [];
for (let i = 0; i < PAIRS; i++) {
  rounds.push(await round(2 * i, false));
  rounds.push(await round(2 * i + 1, true));
}
await admin.disconnect();

const pairs = Array.from({ length: PAIRS }, (_, i) => ({
  without: rounds[2 * i]!,
  with: rounds[2 * i + 1]!,
}));
const rateRatio = median(pairs.map((p) => p.with.ratePerS / p.without.ratePerS));
const cpuRatio = median(pairs.map((p) => p.without.cpuUsPerMsg / p.with.cpuUsPerMsg));
const p99Ratio = median(pairs.map((p) => (p.without.p99Ms ?? NaN) / (p.with.p99Ms ?? NaN)));
const report = {
  registry: registry.equipment.length,
  intervalS,
  offeredRatePerS: registry.equipment.length / intervalS,
  windowS: WINDOW_S,
  warmupS: WARMUP_S,
  sseClients: SSE_CLIENTS,
  rounds,
  medians: { rateRatio, cpuPerMessageRatio: cpuRatio, p99LatencyRatio: p99Ratio },
  target: 0.95,
  met: cpuRatio >= 0.95 && rateRatio >= 0.95,
  equipmentPage: pageLoad,
};
const f = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d);
process.stdout.write(
  `\n| round | console | ingest msg/s | CPU µs/msg | p50 ms | p99 ms | load |\n|---|---|---|---|---|---|---|\n${rounds
    .map(
      (r, i) =>
        `| ${i + 1} | ${r.label === 'with' ? `with + ${SSE_CLIENTS} SSE` : 'without'} | ${f(r.ratePerS, 0)} | ${f(r.cpuUsPerMsg)} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.load)} |`,
    )
    .join(
      '\n',
    )}\n\n| figure (median of the ${PAIRS} pairs) | value | target |\n|---|---|---|\n| ingest rate with / without | ${f(rateRatio, 3)} | ≥ 0.95 |\n| ingest CPU per message without / with | ${f(cpuRatio, 3)} | ≥ 0.95 |\n| ingest p99 latency without / with | ${f(p99Ratio, 3)} | — |\n| equipment page (${registry.equipment.length} equipment): first contentful paint | ${f(pageLoad?.firstContentfulPaintMs, 0)} ms | — |\n| equipment page: table and map filled | ${f(pageLoad?.tableAndMapFilledMs, 0)} ms | — |\n`,
);
mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-console.json'), JSON.stringify(report, null, 2));
rmSync(dir, { recursive: true, force: true });
process.exit(0);
