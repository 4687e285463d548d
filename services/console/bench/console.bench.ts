// `pnpm bench:console` (issue 15): does the console slow ingest down? The city preset (9 680 equipment) is
// simulated at full speed (`SIM_SPEED=max` from 30 days ago, BENCH_SIM_START: the simulator sends as fast
// as the machine lets it; a round in which its event time came within BENCH_CAUGHT_UP_S of the clock was
// paced by the clock, not the machine, and is reported as not a measure and left out of the pairs), so the
// figure is ingest's throughput with and without the console. Interleaved rounds, each on a namespace of
// its own (fresh Kafka topics, a fresh MQTT shared-subscription queue, a fresh ingest; one MQTT topic prefix
// for the whole run, MQTT_PREFIX): without the
// console, with the console and 20 open live (SSE) sessions of the supervisor, without, with… (with
// BENCH_BASELINE_CONSOLE, another console's entry, e.g. the previous commit's, or BENCH_BASELINE_ENV, this
// console with another configuration, also runs in each group, so a change is measured against the code
// or setting before it in the same period). Per round: ingest's received rate,
// ingest's CPU per message (its process CPU counter over its messages counter) and ingest's receive →
// Kafka acknowledgement p50/p99 (its histogram), the console's CPU (% of a core, and per message ingest
// received), over the same window after a warm-up. The ratios are per pair (with/without for the rate,
// without/with for cost); their medians are the figures. Then the equipment page with 10 016
// equipment (the city preset with 416 cabinets instead of 400), live, in Debian's chromium: first
// contentful paint, table and map filled, and time to interactive (the end of the last long task before
// 2 s without one, as Lighthouse's TTI with a shorter quiet window). Prints a table and writes
// reports/bench-console.json. Not a test: figures move with the machine's load (printed per round).
//
// A stalled stack (the MQTT broker or Kafka not answering) stops the bench with an error naming what
// stalled and where its logs are, instead of hanging: ingest's counter must move every BENCH_STALL_S
// (default 60 s) once the simulator sends, every metrics read has a timeout, each round has a deadline
// (BENCH_ROUND_TIMEOUT_S, default 900 s); the rounds done are still printed and written.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { metricValue, parseMetrics } from '@ondijon/acceptance';
import { generateRegistry, REGISTRY_PRESETS, topicList } from '@ondijon/contracts';
import { createKafka, deleteNamespaceAcls } from '@ondijon/kafka';
import {
  endpoints,
  securityOf,
  serviceSecretEnvs,
  stackMqttCredentials,
  stackProvision,
  stackStatus,
  stackUp,
} from '@ondijon/stack';
import {
  REPO_ROOT,
  type ServiceHandle,
  consoleEnv,
  freePort,
  type PipelinePlan,
  plannedTopics,
  serviceEntry,
  serviceEnvs,
  startService,
  stopAll,
  waitHttpOk,
} from '@ondijon/devstack';
import { histogramQuantile } from '../src/pipeline';
import { deleteRoundQueues, procStat, signIn as signInAs, simulatorEnv } from './kit';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 45);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 20);
const SSE_CLIENTS = Number(process.env.BENCH_SSE_CLIENTS ?? 20);
const SPEED = process.env.BENCH_SPEED ?? 'max';
const STALL_S = Number(process.env.BENCH_STALL_S ?? 60);
const ROUND_TIMEOUT_S = Number(process.env.BENCH_ROUND_TIMEOUT_S ?? 900);
const PAGE_CABINETS = Number(process.env.BENCH_PAGE_CABINETS ?? 416);
/** Where the simulator's event time starts: far enough back that a round never reaches the present. */
const SIM_START = process.env.BENCH_SIM_START ?? 'now-30d';
/** A round whose simulator ends closer than this to the wall clock was paced by it: not a measure. */
const CAUGHT_UP_S = Number(process.env.BENCH_CAUGHT_UP_S ?? 3600);
/**
 * Before each round, the brokers must be quiet: Kafka's and the MQTT broker's CPU together under
 * BENCH_QUIET_PCT % of a core over 5 s (waiting at most BENCH_QUIET_MAX_S). Destroying the previous
 * round's queue leaves the MQTT broker compacting its journal for up to minutes, and the round after it
 * ran in that (the first round of a run never does: its pairs came out lowest, 0.74–0.93).
 */
const QUIET_PCT = Number(process.env.BENCH_QUIET_PCT ?? 15);
const QUIET_MAX_S = Number(process.env.BENCH_QUIET_MAX_S ?? 240);
/** `0` skips the equipment page round. */
const PAGE = process.env.BENCH_PAGE !== '0';
/**
 * Another console entry (e.g. an earlier commit's `services/console/src/main.ts`, extracted under
 * services/console/): each group of rounds then also runs it ("baseline"), so a change is measured
 * against the code before it in the same period, interleaved.
 */
const BASELINE_ENTRY = process.env.BENCH_BASELINE_CONSOLE;
/**
 * Environment of the baseline console (`KEY=value,KEY=value`), e.g. `CONSOLE_PUSH_INTERVAL_MS=5000`: with it alone,
 * the baseline is this console run with that configuration.
 */
const BASELINE_ENV = Object.fromEntries(
  (process.env.BENCH_BASELINE_ENV ?? '')
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]),
);
const HAS_BASELINE = BASELINE_ENTRY !== undefined || Object.keys(BASELINE_ENV).length > 0;
/** A directory: the console's CPU is profiled over each window and written there (bench/cpu-profile.ts). */
const CONSOLE_PROFILE = process.env.BENCH_CONSOLE_PROFILE;
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
/**
 * One MQTT prefix for every round of the run (each round still has its own Kafka topics, share group and
 * ingest, and its shared-subscription queue is destroyed after it): the broker keeps each MQTT topic it
 * saw (~11 KB of heap, docs/mqtt-broker.md "Memory") until it restarts, so a prefix per round added ~10 000
 * topics per round, slowed each round a little more than the one before and ran a 1 GiB broker out of heap
 * within a third run. With one prefix the rounds publish to the same ~10 000 topics.
 */
const MQTT_PREFIX = `cb${Date.now().toString(36)}/`;
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
  const families = parseMetrics(await res.text());
  const value = (name: string) => metricValue(families, name) ?? 0;
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
  return metricValue(await res.text(), 'ondijon_console_process_cpu_seconds_total') ?? NaN;
}

/** Signs the supervisor in; returns the session cookie header. */
const signIn = (base: string) => signInAs(base, secrets.console.CONSOLE_USERS_FILE!);

type Kind = 'without' | 'with' | 'baseline';
interface Round {
  label: Kind;
  /** Why the round is not a measure (the simulator caught up with the clock…), else absent. */
  notAMeasure?: string;
  /** How far the simulator's event time was behind the wall clock at the end of the window, s. */
  simLagS?: number | null;
  ratePerS: number;
  cpuUsPerMsg: number;
  p50Ms: number | null;
  p99Ms: number | null;
  load: number;
  sseBytes?: number;
  /** This bench's own CPU over the window (its metrics reads, the services' output), % of one core. */
  benchCpuPct?: number;
  /**
   * The 20 live sessions' process CPU over the window, % of one core (bench/sessions.ts, at nice 19):
   * browsers run on the operators' machines, not the server's; here they share its 2 cores with ingest.
   */
  sessionsCpuPct?: number;
  /** How long the round waited for the brokers to be quiet, s, and their CPU then (% of a core). */
  quietWaitS?: number;
  brokersCpuPctBefore?: number;
  /**
   * Where the 2 cores went over the window, % of one core each: the brokers, the simulator, ingest, and the
   * machine in all (busy, of 100 × cores): whether the round was CPU-bound, and what took more with the console.
   */
  cpuPct?: Record<string, number>;
  /** Live sessions the console answered (of BENCH_SSE_CLIENTS). */
  sessionsOpen?: number;
  /**
   * The console's `telemetry_age_seconds` (how far its live view was behind ingest), read every 5 s
   * over the window: the largest and the last (whether it kept up).
   */
  consoleAgeMaxS?: number | null;
  consoleAgeLastS?: number | null;
  /** The console's own CPU over the window, % of one core. */
  consoleCpuPct?: number;
  /** The console's own CPU per message ingest received over the window, µs. */
  consoleCpuUsPerMsg?: number;
}

interface PageLoad {
  equipment: number;
  firstContentfulPaintMs: number | null;
  tableAndMapFilledMs: number;
  /** Null when the page had no 2 s without a long task within 60 s of being filled. */
  interactiveMs: number | null;
  longTasks: number;
  shown: string | null;
  load: number;
}
const pageLoads: Partial<Record<'with' | 'baseline', PageLoad>> = {};

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

/** A process's CPU so far (user + system), seconds, from /proc; NaN once it is gone. */
function processCpuS(pid: number): number {
  try {
    return procStat(`/proc/${pid}/stat`).cpuS;
  } catch {
    return NaN;
  }
}

/**
 * The 20 live pages (bench/sessions.ts): a process of their own at the lowest priority (`nice -n 19`):
 * the operators' browsers run on their machines, not on the server, and here they share its 2 cores
 * with ingest. Returns its handle and the bytes its sessions have read so far.
 */
function openLiveSessions(base: string, cookie: string, logFile: string) {
  let bytes = 0;
  let open = 0;
  const stderr = openSync(logFile, 'a');
  const child = spawn(
    'nice',
    ['-n', '19', process.execPath, '--import', 'tsx', path.join(import.meta.dirname, 'sessions.ts')],
    {
      env: { ...process.env, SESSIONS_BASE: base, SESSIONS_COOKIE: cookie, SESSIONS_N: String(SSE_CLIENTS) },
      stdio: ['ignore', 'pipe', stderr],
    },
  );
  closeSync(stderr); // the child has its own copy
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      ({ bytes, open } = JSON.parse(line) as { bytes: number; open: number });
    } catch {
      /* not a count */
    }
  });
  return {
    pid: child.pid!,
    bytes: () => bytes,
    open: () => open,
    close: () => child.kill('SIGKILL'),
  };
}

/** The stack's broker processes (Kafka, MQTT), whose idleness a round waits for and whose CPU it reports. */
const brokers = (await stackStatus())
  .filter((row) => (row.service === 'kafka' || row.service === 'mqtt') && row.pid !== null)
  .map((row) => ({ name: row.service, pid: row.pid! }));
const brokerPids = brokers.map((b) => b.pid);

/** The machine's CPU time so far, busy and in all, seconds (/proc/stat; all cores). */
function machineCpuS(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: (total - fields[3]! - fields[4]!) / 100, total: total / 100 };
}
/** Waits until the brokers use under QUIET_PCT % of a core over 5 s (at most QUIET_MAX_S). */
async function quietBrokers(): Promise<{ waitedS: number; cpuPct: number }> {
  const start = Date.now();
  for (;;) {
    const cpu0 = brokerPids.reduce((sum, pid) => sum + processCpuS(pid), 0);
    await sleep(5);
    const cpuPct = ((brokerPids.reduce((sum, pid) => sum + processCpuS(pid), 0) - cpu0) / 5) * 100;
    const waitedS = (Date.now() - start) / 1000;
    if (!(cpuPct >= QUIET_PCT) || waitedS >= QUIET_MAX_S) return { waitedS, cpuPct };
  }
}

/** The console's `telemetry_age_seconds`: how far behind ingest its live view is (null before a record). */
async function consoleAgeS(base: string): Promise<number | null> {
  const res = await within(
    fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) }),
    15,
    'console /metrics',
  );
  return metricValue(await res.text(), 'ondijon_console_telemetry_age_seconds') ?? null;
}

async function round(
  index: number,
  kind: Kind,
  options: { registryFile?: string; page?: boolean } = {},
): Promise<Round> {
  const withConsole = kind !== 'without';
  const quiet = await quietBrokers();
  const runId = `cb${Date.now().toString(36)}${index}`;
  const plan: PipelinePlan = {
    topicPrefix: `${runId}.`,
    mqttPrefix: MQTT_PREFIX,
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
  let sessions: ReturnType<typeof openLiveSessions> | undefined;
  let consolePid: number | undefined;
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
      const entry =
        kind === 'baseline' && BASELINE_ENTRY !== undefined
          ? path.resolve(BASELINE_ENTRY)
          : path.join(REPO_ROOT, 'services/console/src/main.ts');
      const consoleService = startService('console', entry, {
        env: {
          ...consoleEnv(plan, port),
          LOG_LEVEL: 'warn',
          ...(kind === 'baseline' ? BASELINE_ENV : {}),
          ...(CONSOLE_PROFILE
            ? {
                BENCH_CONSOLE_PROFILE: path.resolve(CONSOLE_PROFILE),
                NODE_OPTIONS: `--import tsx --import ${path.join(import.meta.dirname, 'cpu-profile.ts')}`,
              }
            : {}),
        },
        logFile: path.join(dir, `${runId}-console.log`),
      });
      services.push(consoleService);
      consolePid = consoleService.child.pid;
      base = `http://127.0.0.1:${port}`;
      await waitHttpOk(`${base}/readyz`, 300_000, consoleService);
      cookie = await signIn(base);
      // 20 live sessions of the supervisor (every equipment), each read to the end of every update.
      sessions = openLiveSessions(base, cookie, path.join(dir, `${runId}-sessions.log`));
    }
    // The simulator's event time, from its progress lines (every 5 s): a simulator that has reached the
    // present sends at the clock's pace, not the machine's, and its round says nothing about ingest.
    let simTime: number | null = null;
    const simulator = startService('simulator', serviceEntry('simulator'), {
      logFile: path.join(dir, `${runId}-simulator.log`),
      onLine: (line) => {
        if (!line.includes('"progress"')) return;
        try {
          const t = Date.parse((JSON.parse(line) as { simTime?: string }).simTime ?? '');
          if (Number.isFinite(t)) simTime = t;
        } catch {
          /* not a JSON line */
        }
      },
      // Full speed from 30 days ago (BENCH_SIM_START): the city's default intervals, as fast as the
      // machine sends. The city sends ~6.5 msg/s of event time, so a day is ~0.56 M messages: from a day
      // ago a simulator at 3 000–11 000 msg/s reached the present within a round (a pair of 2 278 → 204
      // msg/s); 30 days are ~17 M messages, and a round that still reaches it is not a measure.
      env: simulatorEnv(plan, { preset: 'city', start: SIM_START, speed: SPEED, faults: 'none' }),
    });
    services.push(simulator);
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
      pageLoads[kind === 'baseline' ? 'baseline' : 'with'] = await within(
        loadEquipmentPage(base, cookie),
        300,
        'the equipment page in chromium',
      );
      return {
        label: kind,
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
    const bytes0 = sessions?.bytes() ?? 0;
    const sessionsCpu0 = sessions ? processCpuS(sessions.pid) : NaN;
    const processes = [...brokers, { name: 'simulator', pid: simulator.child.pid ?? 0 }];
    const processCpu0 = processes.map((p) => processCpuS(p.pid));
    const machine0 = machineCpuS();
    const benchCpu0 = process.cpuUsage();
    // The console's lag, every 5 s over the window.
    const ages: (number | null)[] = [];
    let sampling = withConsole;
    const sampler = (async () => {
      while (sampling) {
        ages.push(await consoleAgeS(base).catch(() => null));
        await sleep(5);
      }
    })();
    if (CONSOLE_PROFILE && consolePid !== undefined) process.kill(consolePid, 'SIGUSR2');
    await watch(plan.ports.ingest, WINDOW_S, dir);
    const b = await readIngest(plan.ports.ingest);
    if (CONSOLE_PROFILE && consolePid !== undefined) process.kill(consolePid, 'SIGUSR2');
    const seconds = (Date.now() - t) / 1000;
    const consoleCpu1 = withConsole ? await consoleCpuS(base) : NaN;
    const benchCpu = process.cpuUsage(benchCpu0);
    const sessionsCpuS = sessions ? processCpuS(sessions.pid) - sessionsCpu0 : NaN;
    const machine1 = machineCpuS();
    const cpuPct: Record<string, number> = Object.fromEntries(
      processes.map((p, k) => [p.name, ((processCpuS(p.pid) - processCpu0[k]!) / seconds) * 100]),
    );
    cpuPct.ingest = ((b.cpuS - a.cpuS) / seconds) * 100;
    cpuPct.machineBusy =
      ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100 * cpus().length;
    sampling = false;
    await sampler;
    if (withConsole) ages.push(await consoleAgeS(base).catch(() => null));
    const knownAges = ages.filter((a): a is number => a !== null);
    // The progress line after the window (5 s apart): where the simulator's event time was at its end.
    const simLagS = simTime === null ? null : (Date.now() - (simTime as number)) / 1000;
    const notAMeasure =
      simLagS === null
        ? 'no simulator progress line: whether it caught up with the clock is not known'
        : simLagS < CAUGHT_UP_S
          ? `the simulator caught up with the clock (event time ${Math.round(simLagS)} s behind it)`
          : undefined;
    const messages = b.received - a.received;
    const delta = new Map([...b.buckets].map(([le, c]) => [le, c - (a.buckets.get(le) ?? 0)]));
    const q = (p: number) => {
      const v = histogramQuantile(p, delta);
      return v === null ? null : v * 1000;
    };
    const result: Round = {
      label: kind,
      ...(notAMeasure ? { notAMeasure } : {}),
      simLagS,
      quietWaitS: quiet.waitedS,
      cpuPct,
      brokersCpuPctBefore: quiet.cpuPct,
      ratePerS: messages / seconds,
      cpuUsPerMsg: messages > 0 ? ((b.cpuS - a.cpuS) * 1e6) / messages : NaN,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      load: loadavg()[0]!,
      benchCpuPct: ((benchCpu.user + benchCpu.system) / 1e6 / seconds) * 100,
      ...(withConsole
        ? {
            sseBytes: (sessions?.bytes() ?? 0) - bytes0,
            sessionsCpuPct: (sessionsCpuS / seconds) * 100,
            sessionsOpen: sessions?.open() ?? 0,
            consoleAgeMaxS: knownAges.length > 0 ? Math.max(...knownAges) : null,
            consoleAgeLastS: ages.at(-1) ?? null,
            consoleCpuPct: ((consoleCpu1 - consoleCpu0) / seconds) * 100,
            consoleCpuUsPerMsg: messages > 0 ? ((consoleCpu1 - consoleCpu0) * 1e6) / messages : NaN,
          }
        : {}),
    };
    process.stdout.write(
      `  round ${index + 1} ${result.label.padEnd(7)}: ${result.ratePerS.toFixed(0)} msg/s, ${result.cpuUsPerMsg.toFixed(1)} CPU µs/msg, p50 ${result.p50Ms?.toFixed(1)} ms, p99 ${result.p99Ms?.toFixed(1)} ms${withConsole ? `, console ${result.consoleCpuPct?.toFixed(0)} % CPU (${result.consoleCpuUsPerMsg?.toFixed(1)} µs/msg), ${((result.sseBytes ?? 0) / seconds / 1e6).toFixed(1)} MB/s to ${result.sessionsOpen} sessions (their CPU ${result.sessionsCpuPct?.toFixed(0)} %), view behind ingest by ${result.consoleAgeLastS?.toFixed(1)} s (at most ${result.consoleAgeMaxS?.toFixed(1)})` : ''}, bench ${result.benchCpuPct?.toFixed(0)} % CPU; ${Object.entries(
        cpuPct,
      )
        .map(([k, v]) => `${k} ${v.toFixed(0)} %`)
        .join(
          ', ',
        )} (load ${result.load.toFixed(1)}; brokers quiet after ${quiet.waitedS.toFixed(0)} s, ${quiet.cpuPct.toFixed(0)} % of a core)${notAMeasure ? ` NOT A MEASURE: ${notAMeasure}` : ''}\n`,
    );
    return result;
  } finally {
    sessions?.close();
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
        await deleteRoundQueues(runId);
      })(),
      660,
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
    // Quiet: 2 s without a long task, within 60 s (a page never quiet is reported so, with its long tasks
    // so far, not as an error that stops the bench).
    const quiet = await page
      .waitForFunction(
        () => {
          const w = globalThis as unknown as Win;
          const last = Math.max(0, ...w.longTaskEnds);
          return w.performance.now() - last >= 2000;
        },
        undefined,
        { timeout: 60_000, polling: 100 },
      )
      .then(
        () => true,
        () => false,
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
      interactiveMs: quiet
        ? Math.max(figures.fcp ?? 0, figures.dcl, figures.lastLongTask, tableAndMapFilledMs)
        : null,
      longTasks: figures.longTasks,
      shown: await page.locator('#shown').textContent(),
      load: loadavg()[0]!,
    };
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

const kinds: Kind[] = HAS_BASELINE ? ['without', 'baseline', 'with'] : ['without', 'with'];
process.stdout.write(
  `city preset, ${registry.equipment.length} equipment, simulator at SIM_SPEED=${SPEED} from ${SIM_START}, ${PAIRS} groups of rounds (${kinds.join(', ')}), ${WARMUP_S} s warm-up + ${WINDOW_S} s window each${PAGE ? `; then the equipment page with ${pageRegistry.equipment.length} equipment` : ''} (load ${loadavg()[0]!.toFixed(1)})\n`,
);
const rounds: Round[] = [];
let failure: string | null = null;
try {
  // Every other group runs its rounds in reverse order (without, with; with, without; …): the rounds of a
  // run drift (3 814 → 3 443 → 3 071 msg/s for the rounds without the console, load 7–10), and a fixed
  // order would charge that drift to the later kind of every group.
  for (let i = 0; i < PAIRS; i++)
    for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
      const n = rounds.length;
      rounds.push(await within(round(n, kind), ROUND_TIMEOUT_S, `round ${n + 1}`));
    }
  if (PAGE)
    for (const kind of kinds.filter((k) => k !== 'without')) {
      const n = rounds.length;
      await within(
        round(n, kind, { registryFile: pageRegistryFile, page: true }),
        ROUND_TIMEOUT_S,
        `the page round (${kind})`,
      );
    }
} catch (err) {
  failure = err instanceof Error ? err.message : String(err);
  process.stderr.write(`\nbench stopped: ${failure}\n`);
}
await within(admin.disconnect(), 30, 'Kafka admin disconnect').catch(() => undefined);

// A pair is a group's round without the console and one with it, both measures (a round the simulator's
// clock paced is said, and left out).
const groups = Array.from({ length: Math.ceil(rounds.length / kinds.length) }, (_, g) =>
  rounds.slice(g * kinds.length, (g + 1) * kinds.length),
);
const pairsOf = (kind: 'with' | 'baseline') =>
  groups.flatMap((g) => {
    const without = g.find((r) => r.label === 'without');
    const withIt = g.find((r) => r.label === kind);
    return without && withIt && !without.notAMeasure && !withIt.notAMeasure
      ? [{ without, with: withIt }]
      : [];
  });
const figures = (kind: 'with' | 'baseline') => {
  const pairs = pairsOf(kind);
  return {
    pairs: pairs.length,
    pairRateRatios: pairs.map((p) => p.with.ratePerS / p.without.ratePerS),
    rateRatio: median(pairs.map((p) => p.with.ratePerS / p.without.ratePerS)),
    cpuPerMessageRatio: median(pairs.map((p) => p.without.cpuUsPerMsg / p.with.cpuUsPerMsg)),
    p99LatencyRatio: median(pairs.map((p) => (p.without.p99Ms ?? NaN) / (p.with.p99Ms ?? NaN))),
    consoleCpuUsPerMsg: median(pairs.map((p) => p.with.consoleCpuUsPerMsg ?? NaN)),
    consoleCpuPct: median(pairs.map((p) => p.with.consoleCpuPct ?? NaN)),
  };
};
const main = figures('with');
const baseline = HAS_BASELINE ? figures('baseline') : null;
const notMeasures = rounds.filter((r) => r.notAMeasure).length;
const report = {
  registry: registry.equipment.length,
  simulatorSpeed: SPEED,
  simulatorStart: SIM_START,
  windowS: WINDOW_S,
  warmupS: WARMUP_S,
  sseClients: SSE_CLIENTS,
  baselineConsole: BASELINE_ENTRY ?? null,
  baselineEnv: HAS_BASELINE ? BASELINE_ENV : null,
  rounds,
  roundsNotAMeasure: notMeasures,
  medians: main,
  baseline,
  target: 0.95,
  met: main.pairs > 0 ? main.rateRatio >= 0.95 : null,
  equipmentPage: pageLoads.with ?? null,
  equipmentPageBaseline: pageLoads.baseline ?? null,
  error: failure,
};
const f = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d);
const label = (k: Kind) =>
  k === 'without' ? 'without' : `${k === 'baseline' ? 'baseline' : 'with'} + ${SSE_CLIENTS} SSE`;
const figureRows = (name: string, m: ReturnType<typeof figures>) =>
  `| ${name}: ingest rate with / without (pairs ${m.pairRateRatios.map((r) => f(r, 2)).join(', ') || '—'}) | ${f(m.rateRatio, 3)} | ≥ 0.95 |\n| ${name}: ingest CPU per message without / with | ${f(m.cpuPerMessageRatio, 3)} | — |\n| ${name}: ingest p99 latency without / with | ${f(m.p99LatencyRatio, 3)} | — |\n| ${name}: console CPU per ingested message | ${f(m.consoleCpuUsPerMsg)} µs (${f(m.consoleCpuPct, 0)} % of a core) | — |\n`;
const pageRows = (name: string, pl: PageLoad | undefined) =>
  pl === undefined
    ? ''
    : `| ${name}: equipment page (${pl.equipment} equipment): first contentful paint | ${f(pl.firstContentfulPaintMs, 0)} ms | — |\n| ${name}: equipment page: table and map filled | ${f(pl.tableAndMapFilledMs, 0)} ms | — |\n| ${name}: equipment page: interactive (${pl.longTasks} long tasks) | ${pl.interactiveMs === null ? 'not within 60 s of being filled' : `${f(pl.interactiveMs, 0)} ms`} | — |\n`;
process.stdout.write(
  `\n| round | console | ingest msg/s | CPU µs/msg | p50 ms | p99 ms | console CPU % | console µs/msg | simulator behind the clock | load |\n|---|---|---|---|---|---|---|---|---|---|\n${rounds
    .map(
      (r, i) =>
        `| ${i + 1} | ${label(r.label)} | ${r.notAMeasure ? `not a measure (${r.notAMeasure}): ` : ''}${f(r.ratePerS, 0)} | ${f(r.cpuUsPerMsg)} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.consoleCpuPct, 0)} | ${f(r.consoleCpuUsPerMsg)} | ${r.simLagS == null ? '—' : `${f(r.simLagS / 3600)} h`} | ${f(r.load)} |`,
    )
    .join(
      '\n',
    )}\n\n| figure (median of the pairs that are measures) | value | target |\n|---|---|---|\n${figureRows('this console', main)}${baseline ? figureRows('baseline', baseline) : ''}${pageRows('this console', pageLoads.with)}${pageRows('baseline', pageLoads.baseline)}${notMeasures ? `\n${notMeasures} round(s) not a measure, left out of the pairs (see the table).\n` : ''}${failure ? `\nNOT COMPLETE: ${failure}\n` : ''}`,
);
mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-console.json'), JSON.stringify(report, null, 2));
// Logs are kept when the bench stopped (they say why).
if (failure === null) rmSync(dir, { recursive: true, force: true });
process.exit(failure === null ? 0 : 1);
