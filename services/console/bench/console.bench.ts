// `pnpm bench:console` (issue 15): does the console slow ingest down? The city preset (9 680 equipment) is
// simulated at full speed (`SIM_SPEED=max` from a day ago: the simulator sends as fast as the machine lets it
// until it catches up with the clock, far longer than a round), so the figure is ingest's throughput with
// and without the console. Interleaved rounds, each on a namespace of its own (fresh Kafka topics, a fresh
// MQTT shared-subscription queue, a fresh ingest): without the console, with the console and 20 open live
// (SSE) sessions of the supervisor, without, with… Per round: ingest's received rate, ingest's CPU per
// message (its process CPU counter over its messages counter) and ingest's receive → Kafka acknowledgement
// p50/p99 (its histogram), over the same window after a warm-up. The ratios are per pair (with/without for
// the rate, without/with for cost); their medians are the figures. Then the equipment page with 10 016
// equipment (the city preset with 416 cabinets instead of 400), live, in Debian's chromium: first
// contentful paint, table and map filled, and time to interactive (the end of the last long task before
// 2 s without one, as Lighthouse's TTI with a shorter quiet window). Prints a table and writes
// reports/bench-console.json. Not a test: figures move with the machine's load (printed per round).
//
// A stalled stack (the MQTT broker or Kafka not answering) stops the bench with an error naming what
// stalled and where its logs are, instead of hanging: ingest's counter must move every BENCH_STALL_S
// (default 60 s) once the simulator sends, every metrics read has a timeout, each round has a deadline
// (BENCH_ROUND_TIMEOUT_S, default 900 s); the rounds done are still printed and written.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { chromium } from 'playwright-core';
import { generateRegistry, REGISTRY_PRESETS, topicList } from '@ondijon/contracts';
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
const SPEED = process.env.BENCH_SPEED ?? 'max';
const STALL_S = Number(process.env.BENCH_STALL_S ?? 60);
const ROUND_TIMEOUT_S = Number(process.env.BENCH_ROUND_TIMEOUT_S ?? 900);
const PAGE_CABINETS = Number(process.env.BENCH_PAGE_CABINETS ?? 416);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A stack that stops answering is named, not waited for. */
class StallError extends Error {}
async function within<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StallError(`${what}: no answer within ${seconds} s`)),
          seconds * 1000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

await within(stackUp({ log: () => undefined }), 600, 'pnpm stack up');
const ep = {
  ...endpoints(),
  mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
};
const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-console-bench-'));
const registryFile = path.join(dir, 'registry.json');
const registry = generateRegistry({ seed: 1, scale: 'city' });
writeFileSync(registryFile, JSON.stringify(registry));
const pageRegistryFile = path.join(dir, 'registry-page.json');
const pageRegistry = generateRegistry({
  seed: 1,
  scale: { ...REGISTRY_PRESETS.city, cabinets: PAGE_CABINETS },
});
writeFileSync(pageRegistryFile, JSON.stringify(pageRegistry));
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
  const res = await within(
    fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) }),
    15,
    'ingest /metrics',
  );
  const families = parsePrometheus(await res.text()) as {
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

/** The console's process CPU counter, seconds. */
async function consoleCpuS(base: string): Promise<number> {
  const res = await within(
    fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) }),
    15,
    'console /metrics',
  );
  const m = /^ondijon_console_process_cpu_seconds_total (\S+)$/m.exec(await res.text());
  return m ? Number(m[1]) : NaN;
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
  /** The console's own CPU over the window, % of one core. */
  consoleCpuPct?: number;
}

interface PageLoad {
  equipment: number;
  firstContentfulPaintMs: number | null;
  tableAndMapFilledMs: number;
  interactiveMs: number;
  longTasks: number;
  shown: string | null;
  load: number;
}
let pageLoad = null as PageLoad | null;

/**
 * Waits `seconds`, reading ingest's counter every 5 s: throws when it has not moved for STALL_S (the
 * broker delivers nothing, or Kafka does not acknowledge: ingest stops taking messages).
 */
async function watch(port: number, seconds: number, logs: string): Promise<void> {
  const end = Date.now() + seconds * 1000;
  let last = (await readIngest(port)).received;
  let movedAt = Date.now();
  while (Date.now() < end) {
    await sleep(Math.min(5, Math.max(0, (end - Date.now()) / 1000)));
    const now = (await readIngest(port)).received;
    if (now !== last) {
      last = now;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > STALL_S * 1000)
      throw new StallError(
        `ingest received nothing for ${STALL_S} s (${now} so far): the MQTT broker or Kafka stalled; logs in ${logs}`,
      );
  }
}

async function round(
  index: number,
  withConsole: boolean,
  options: { registryFile?: string; page?: boolean } = {},
): Promise<Round> {
  const runId = `cb${Date.now().toString(36)}${index}`;
  const plan: PipelinePlan = {
    topicPrefix: `${runId}.`,
    mqttPrefix: `${runId}/`,
    runId,
    registryFile: options.registryFile ?? registryFile,
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
          // Full speed from a day ago: the city's default intervals, as fast as the machine sends.
          SIM_START: 'now-1d',
          SIM_SPEED: SPEED,
          SIM_FAULTS: 'none',
          SIM_CLIENT_ID_PREFIX: `ondijon-sim-${runId}`,
        },
      }),
    );
    // The simulator sending (starting it takes up to minutes on a loaded machine), then the warm-up.
    const deadline = Date.now() + 300_000;
    while ((await readIngest(plan.ports.ingest)).received === 0) {
      if (Date.now() > deadline)
        throw new StallError(
          `ingest received nothing within 5 minutes of the simulator's start; logs in ${dir}`,
        );
      await sleep(2);
    }
    await watch(plan.ports.ingest, WARMUP_S, dir);
    if (options.page) {
      pageLoad = await within(loadEquipmentPage(base, cookie), 300, 'the equipment page in chromium');
      return {
        label: 'with',
        ratePerS: NaN,
        cpuUsPerMsg: NaN,
        p50Ms: null,
        p99Ms: null,
        load: loadavg()[0]!,
      };
    }
    const a = await readIngest(plan.ports.ingest);
    const consoleCpu0 = withConsole ? await consoleCpuS(base) : NaN;
    const t = Date.now();
    const bytes0 = sseBytes;
    await watch(plan.ports.ingest, WINDOW_S, dir);
    const b = await readIngest(plan.ports.ingest);
    const seconds = (Date.now() - t) / 1000;
    const consoleCpu1 = withConsole ? await consoleCpuS(base) : NaN;
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
      ...(withConsole
        ? { sseBytes: sseBytes - bytes0, consoleCpuPct: ((consoleCpu1 - consoleCpu0) / seconds) * 100 }
        : {}),
    };
    process.stdout.write(
      `  round ${index + 1} ${result.label.padEnd(7)}: ${result.ratePerS.toFixed(0)} msg/s, ${result.cpuUsPerMsg.toFixed(1)} CPU µs/msg, p50 ${result.p50Ms?.toFixed(1)} ms, p99 ${result.p99Ms?.toFixed(1)} ms${withConsole ? `, console ${result.consoleCpuPct?.toFixed(0)} % CPU` : ''} (load ${result.load.toFixed(1)})\n`,
    );
    return result;
  } finally {
    for (const ac of aborts) ac.abort();
    // The simulator first, then the console, then ingest (each SIGKILLed after 15 s).
    await stopAll(services, 15_000);
    // A stalled Kafka would hang the clean-up: bounded, and said.
    await within(
      (async () => {
        await deleteNamespaceAcls(
          admin,
          topicList.map((t) => `${plan.topicPrefix}${t.name}`),
        );
        await admin.deleteTopics({ topics: plannedTopics(plan).map((t) => t.name) }).catch(() => undefined);
        await admin.deleteGroups([`ondijon-ingest-${runId}`]).catch(() => undefined);
      })(),
      120,
      `removing the round's namespace ${plan.topicPrefix}`,
    ).catch((err: unknown) => process.stderr.write(`  clean-up: ${String(err)}\n`));
  }
}

/**
 * Loads the equipment page (as the supervisor) in Debian's chromium: first contentful paint, the table and
 * map filled, and time to interactive (the end of the last long task once 2 s pass without one).
 */
async function loadEquipmentPage(base: string, cookie: string): Promise<PageLoad> {
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
  type Win = {
    longTaskEnds: number[];
    document: { querySelectorAll(s: string): { length: number } };
    performance: {
      now(): number;
      getEntriesByName(n: string): { startTime: number }[];
      getEntriesByType(t: string): { domContentLoadedEventEnd: number }[];
    };
  };
  try {
    await context.addCookies(
      cookie.split('; ').map((c) => {
        const [name, value] = c.split(/=(.*)/s) as [string, string];
        return { name, value, url: base };
      }),
    );
    const page = await context.newPage();
    // Long tasks (> 50 ms on the main thread) from the start of the page.
    await page.addInitScript(() => {
      const w = globalThis as unknown as Win & {
        PerformanceObserver: new (
          cb: (l: { getEntries(): { startTime: number; duration: number }[] }) => void,
        ) => {
          observe(o: object): void;
        };
      };
      w.longTaskEnds = [];
      new w.PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.longTaskEnds.push(e.startTime + e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(`${base}/equipment`);
    await page.waitForFunction(
      () => (globalThis as unknown as Win).document.querySelectorAll('#equipment tbody tr').length > 0,
      undefined,
      { timeout: 120_000, polling: 50 },
    );
    const tableAndMapFilledMs = await page.evaluate(() => (globalThis as unknown as Win).performance.now());
    // Quiet: 2 s without a long task (or the page's own 60 s bound: reported as it is).
    await page.waitForFunction(
      () => {
        const w = globalThis as unknown as Win;
        const last = Math.max(0, ...w.longTaskEnds);
        return w.performance.now() - last >= 2000;
      },
      undefined,
      { timeout: 60_000, polling: 100 },
    );
    const figures = await page.evaluate(() => {
      const w = globalThis as unknown as Win;
      return {
        fcp: w.performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
        dcl: w.performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? 0,
        lastLongTask: Math.max(0, ...w.longTaskEnds),
        longTasks: w.longTaskEnds.length,
      };
    });
    return {
      equipment: pageRegistry.equipment.length,
      firstContentfulPaintMs: figures.fcp,
      tableAndMapFilledMs,
      interactiveMs: Math.max(figures.fcp ?? 0, figures.dcl, figures.lastLongTask, tableAndMapFilledMs),
      longTasks: figures.longTasks,
      shown: await page.locator('#shown').textContent(),
      load: loadavg()[0]!,
    };
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

process.stdout.write(
  `city preset, ${registry.equipment.length} equipment, simulator at SIM_SPEED=${SPEED} from a day ago, ${PAIRS} pairs of rounds, ${WARMUP_S} s warm-up + ${WINDOW_S} s window each; then the equipment page with ${pageRegistry.equipment.length} equipment (load ${loadavg()[0]!.toFixed(1)})\n`,
);
const rounds: Round[] = [];
let failure: string | null = null;
try {
  for (let i = 0; i < PAIRS; i++) {
    rounds.push(await within(round(2 * i, false), ROUND_TIMEOUT_S, `round ${2 * i + 1}`));
    rounds.push(await within(round(2 * i + 1, true), ROUND_TIMEOUT_S, `round ${2 * i + 2}`));
  }
  await within(
    round(2 * PAIRS, true, { registryFile: pageRegistryFile, page: true }),
    ROUND_TIMEOUT_S,
    'the page round',
  );
} catch (err) {
  failure = err instanceof Error ? err.message : String(err);
  process.stderr.write(`\nbench stopped: ${failure}\n`);
}
await within(admin.disconnect(), 30, 'Kafka admin disconnect').catch(() => undefined);

const pairs = Array.from({ length: Math.floor(rounds.length / 2) }, (_, i) => ({
  without: rounds[2 * i]!,
  with: rounds[2 * i + 1]!,
}));
const rateRatio = median(pairs.map((p) => p.with.ratePerS / p.without.ratePerS));
const cpuRatio = median(pairs.map((p) => p.without.cpuUsPerMsg / p.with.cpuUsPerMsg));
const p99Ratio = median(pairs.map((p) => (p.without.p99Ms ?? NaN) / (p.with.p99Ms ?? NaN)));
const report = {
  registry: registry.equipment.length,
  simulatorSpeed: SPEED,
  windowS: WINDOW_S,
  warmupS: WARMUP_S,
  sseClients: SSE_CLIENTS,
  rounds,
  pairs: pairs.map((p) => ({ rateRatio: p.with.ratePerS / p.without.ratePerS })),
  medians: { rateRatio, cpuPerMessageRatio: cpuRatio, p99LatencyRatio: p99Ratio },
  target: 0.95,
  met: pairs.length > 0 ? rateRatio >= 0.95 : null,
  equipmentPage: pageLoad,
  error: failure,
};
const f = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d);
const pl = pageLoad;
process.stdout.write(
  `\n| round | console | ingest msg/s | CPU µs/msg | p50 ms | p99 ms | console CPU % | load |\n|---|---|---|---|---|---|---|---|\n${rounds
    .map(
      (r, i) =>
        `| ${i + 1} | ${r.label === 'with' ? `with + ${SSE_CLIENTS} SSE` : 'without'} | ${f(r.ratePerS, 0)} | ${f(r.cpuUsPerMsg)} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.consoleCpuPct, 0)} | ${f(r.load)} |`,
    )
    .join(
      '\n',
    )}\n\n| figure (median of the ${pairs.length} pairs) | value | target |\n|---|---|---|\n| ingest rate with / without | ${f(rateRatio, 3)} | ≥ 0.95 |\n| ingest CPU per message without / with | ${f(cpuRatio, 3)} | — |\n| ingest p99 latency without / with | ${f(p99Ratio, 3)} | — |\n| equipment page (${pageRegistry.equipment.length} equipment): first contentful paint | ${f(pl?.firstContentfulPaintMs, 0)} ms | — |\n| equipment page: table and map filled | ${f(pl?.tableAndMapFilledMs, 0)} ms | — |\n| equipment page: interactive (${pl?.longTasks ?? '—'} long tasks) | ${f(pl?.interactiveMs, 0)} ms | — |\n${failure ? `\nNOT COMPLETE: ${failure}\n` : ''}`,
);
mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-console.json'), JSON.stringify(report, null, 2));
// Logs are kept when the bench stopped (they say why).
if (failure === null) rmSync(dir, { recursive: true, force: true });
process.exit(failure === null ? 0 : 1);
