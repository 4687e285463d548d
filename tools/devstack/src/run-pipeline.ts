/**
 * The one-command pipeline behind `./ondijon run` (src/main.ts is its entry point): starts the local stack
 * (idempotent), provisions the topics, starts ingest, processors, publisher, the open-data API and the
 * simulator (time-compressed, faults on) as child processes with prefixed output, prints where to look,
 * announces the first open-data release, and stops everything cleanly on Ctrl-C.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateRegistry } from '@ondijon/contracts';
import {
  CONSOLE_DEMO_USERS,
  endpoints,
  securityOf,
  serviceSecretEnvs,
  stackDown,
  stackMqttCredentials,
  stackMqttPasswordsDir,
  stackProvision,
  stackUp,
} from '@ondijon/stack';
import { REPO_ROOT, serviceEntry, type ServiceHandle, startService, stopAll, waitHttpOk } from './harness';
import { consoleEnv, type PipelinePlan, serviceEnvs } from './pipeline';
import { pruneRuns } from './prune-runs';
import {
  metricByLabel,
  notableLine,
  parseMetrics,
  renderStatus,
  StatusBoard,
  type StatusSnapshot,
} from './status';

/** Port of the console in `./ondijon run`. */
const CONSOLE_PORT = 18_090;

/** Options of `runPipeline` (CLI flags of `./ondijon run`). */
export interface RunPipelineOptions {
  /** Stop the stack too on exit (default: leave it running). */
  stackDown: boolean;
  /**
   * Run in a fresh namespace (own topics, groups, state and store under .stack/runs/<id>); default.
   * Event time never goes back: a second run on the same topics would replay the last day as
   * duplicates and show no new release until the next midnight. `--reuse` runs on the default names.
   */
  fresh: boolean;
  /** Simulated seconds per wall second (default 720: a day in two minutes). */
  speed: number;
  /** Simulator fault spec (default `default`). */
  faults: string;
  /** Simulator fleet preset. */
  preset: 'small' | 'city';
  /** Seconds to run before stopping by itself (0 = until Ctrl-C). */
  durationS: number;
  /** Earlier fresh runs whose namespace (topics, groups, Redis state, folder) is kept; older ones are removed (default 3). */
  keepRuns: number;
}

/** Parses the flags of `./ondijon run`. */
export function parseRunFlags(argv: string[]): RunPipelineOptions {
  const o: RunPipelineOptions = {
    stackDown: false,
    fresh: true,
    speed: 720,
    faults: 'default',
    preset: 'small',
    durationS: 0,
    keepRuns: 3,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--stack-down') o.stackDown = true;
    else if (a === '--reuse') o.fresh = false;
    else if (a === '--speed') o.speed = Number(next());
    else if (a === '--faults') o.faults = next();
    else if (a === '--preset') o.preset = next() === 'city' ? 'city' : 'small';
    else if (a === '--duration') o.durationS = Number(next());
    else if (a === '--keep-runs') o.keepRuns = Number(next());
    else if (a === '--help' || a === '-h') throw new Error('usage');
    else throw new Error(`unknown flag ${a}`);
  }
  if (!(o.speed > 0)) throw new Error('--speed must be a positive number');
  if (!Number.isInteger(o.keepRuns) || o.keepRuns < 0)
    throw new Error('--keep-runs must be a whole number ≥ 0');
  return o;
}

/** Usage of `./ondijon run`. */
export const USAGE = `usage: ./ondijon run [--speed 720] [--faults default|none|late=0.01,…] [--preset small|city] [--duration <s>] [--reuse] [--keep-runs 3] [--stack-down]`;

const say = (line = '') => process.stdout.write(`${line}\n`);

/** Runs the whole pipeline until Ctrl-C (or `durationS`); resolves with the exit code. */
export async function runPipeline(o: RunPipelineOptions): Promise<number> {
  say('▸ starting the local stack (Kafka, the MQTT broker, Redis) — idempotent');
  await stackUp({ log: (l) => say(`  ${l}`) });
  const ep = {
    ...endpoints(),
    mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
  };
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '');
  const runId = o.fresh ? `run${stamp}` : '';
  const runDir = o.fresh ? path.join(REPO_ROOT, '.stack', 'runs', runId) : path.join(REPO_ROOT, '.stack');
  if (o.fresh) {
    const pruned = await pruneRuns({
      brokers: ep.kafkaBrokers,
      redisUrl: ep.redisUrl,
      runsDir: path.join(REPO_ROOT, '.stack', 'runs'),
      keep: o.keepRuns,
      except: runId,
      security: securityOf(ep),
    });
    if (pruned.runs.length > 0)
      say(
        `▸ removed ${pruned.runs.length} older run(s) (keeping ${o.keepRuns}): ${pruned.topics} topics, ${pruned.groups} groups, ${pruned.redisKeys} Redis keys`,
      );
  }
  mkdirSync(runDir, { recursive: true });
  const plan: PipelinePlan = {
    topicPrefix: o.fresh ? `${runId}.` : '',
    mqttPrefix: o.fresh ? `${runId}/` : '',
    runId,
    registryFile:
      o.preset === 'city'
        ? path.join(runDir, 'registry-city.json')
        : path.join(REPO_ROOT, 'infra', 'registry', 'equipment.json'),
    opendataDir: path.join(runDir, 'opendata'),
    publisherStateDir: path.join(runDir, 'publisher'),
    // The README's ports.
    ports: { ingest: 19_401, processors: 19_402, publisher: 19_403, api: 18_080 },
    endpoints: ep,
    // Secure by default: every service runs as its own Kafka principal and Redis user (.stack/secrets).
    secrets: serviceSecretEnvs(),
    // Demo only: the simulated day is published as soon as it closes, instead of after the policy's delay
    // (24 h for person-derived data). Recorded in every release's notes as `publishDelayOverridden`.
    publishDelayHours: 0,
    idleFlushMs: 10_000,
    ingestConnections: 4,
  };
  // The city fleet is generated; ingest and the simulator must read the same registry.
  if (o.preset === 'city')
    writeFileSync(plan.registryFile, JSON.stringify(generateRegistry({ seed: 1, scale: 'city' })));
  say(`▸ provisioning topics${o.fresh ? ` (namespace ${runId})` : ''}`);
  const provisioned = await stackProvision({ namespace: plan.topicPrefix });
  say(
    `  ${provisioned.created.length} created, ${provisioned.existing.length} existing; ACLs ${provisioned.acls?.created.length ?? 0} created, ${provisioned.acls?.existing ?? 0} existing`,
  );
  for (const d of provisioned.acls?.drift ?? []) say(`  ACL drift: ${d.acl} (${d.reason})`);

  const envs = serviceEnvs(plan);
  // Every service's whole output goes to its log file; the terminal shows only what matters.
  const logsDir = path.join(runDir, 'logs');
  mkdirSync(logsDir, { recursive: true });
  const board = new StatusBoard();
  // The runner reports these itself (in the status block).
  const quiet = new Set(['publication delay overridden: tests and demos only']);
  const simulatorProgress: { sent: number; simTime: string | null; ratePerS?: number } = {
    sent: 0,
    simTime: null,
  };
  const onServiceLine = (name: string) => (line: string) => {
    if (name === 'simulator' && line.includes('"msg":"progress"')) {
      try {
        const p = JSON.parse(line) as { sent: number; simTime: string | null; ratePerS: number };
        Object.assign(simulatorProgress, { sent: p.sent, simTime: p.simTime, ratePerS: p.ratePerS });
      } catch {
        /* not the progress line after all */
      }
      return;
    }
    const shown = notableLine(line, quiet);
    if (shown !== undefined) board.event(`[${name}] ${shown}`);
  };
  const services: ServiceHandle[] = [];
  let requestStop!: (code: number) => void;
  const stopRequested = new Promise<number>((resolve) => (requestStop = resolve));
  process.on('SIGINT', () => requestStop(0));
  process.on('SIGTERM', () => requestStop(0));
  const shutdown = async (code: number): Promise<number> => {
    say('\n▸ stopping (deadline 15 s per service)…');
    const ended = await stopAll(services, 15_000);
    for (const [name, e] of Object.entries(ended))
      say(`  ${name}: ${e.killed ? 'killed after the deadline' : `exited ${e.code ?? e.signal}`}`);
    if (o.stackDown) {
      say('▸ stopping the stack');
      await stackDown({ log: (l) => say(`  ${l}`) });
    } else say('  the stack stays up: `pnpm stack status`, `pnpm stack down`');
    return code;
  };

  const probes: Record<string, number> = {
    ingest: plan.ports.ingest,
    processors: plan.ports.processors,
    publisher: plan.ports.publisher,
    'opendata-api': plan.ports.api,
  };
  try {
    for (const name of ['ingest', 'processors', 'publisher', 'opendata-api'] as const) {
      say(`▸ starting ${name}`);
      const s = startService(name, serviceEntry(name), {
        env: envs[name],
        logFile: path.join(logsDir, `${name}.log`),
        detached: true,
        onLine: onServiceLine(name),
      });
      services.push(s);
      await waitHttpOk(`http://127.0.0.1:${probes[name]}/readyz`, 90_000, s);
    }
    // The control-centre console (issue 15): the run's topics, as the console principal.
    say('▸ starting console');
    const consoleService = startService(
      'console',
      path.join(REPO_ROOT, 'services', 'console', 'src', 'main.ts'),
      {
        env: { ...consoleEnv(plan, CONSOLE_PORT), LOG_LEVEL: 'warn' },
        logFile: path.join(logsDir, 'console.log'),
        detached: true,
        onLine: onServiceLine('console'),
      },
    );
    services.push(consoleService);
    await waitHttpOk(`http://127.0.0.1:${CONSOLE_PORT}/readyz`, 90_000, consoleService);
    const sim = startService('simulator', serviceEntry('simulator'), {
      logFile: path.join(logsDir, 'simulator.log'),
      detached: true,
      onLine: onServiceLine('simulator'),
      env: {
        MQTT_URL: ep.mqttUrl,
        // Each operator logs in as itself (its password file under .stack/secrets/mqtt), as gateways do.
        SIM_MQTT_PASSWORDS_DIR: stackMqttPasswordsDir(),
        SIM_TOPIC_PREFIX: plan.mqttPrefix,
        SIM_REGISTRY_FILE: plan.registryFile,
        SIM_PRESET: o.preset,
        // A day behind the wall clock, compressed: it crosses a Paris midnight within minutes, then runs live.
        SIM_START: 'now-1d',
        SIM_SPEED: String(o.speed),
        SIM_FAULTS: o.faults,
        SIM_PROGRESS_MS: '2000',
        SIM_CLIENT_ID_PREFIX: `ondijon-sim-${runId || 'default'}`,
      },
    });
    services.push(sim);
  } catch (err) {
    say(`✗ ${err instanceof Error ? err.message : String(err)}`);
    return shutdown(1);
  }

  const api = `http://127.0.0.1:${plan.ports.api}`;
  say('');
  const startedAt = Date.now();
  const status = watchStatus({
    probes,
    readyOf: (name) => services.find((s) => s.name === name)?.child.exitCode === null,
    simulator: simulatorProgress,
    opendataDir: plan.opendataDir,
    event: (line) => board.event(line),
    base: {
      runId,
      speed: o.speed,
      apiBase: api,
      console: {
        url: `http://127.0.0.1:${CONSOLE_PORT}/`,
        logins: CONSOLE_DEMO_USERS.map((u) => u.login),
      },
      metricsPorts: probes,
      logsDir: path.relative(process.cwd(), logsDir) || logsDir,
      publishDelayOverridden: plan.publishDelayHours !== undefined,
    },
    startedAt,
    render: (snapshot) => board.update(renderStatus(snapshot)),
  });

  if (o.durationS > 0) setTimeout(() => requestStop(0), o.durationS * 1000).unref();
  // Any service ending on its own ends the run.
  const died = Promise.race(services.map((s) => s.exited.then((e) => ({ name: s.name, e }))));
  const outcome = await Promise.race([
    stopRequested.then((code) => ({ code, died: undefined })),
    died.then((d) => ({ code: 1, died: d })),
  ]);
  status.stop();
  board.release();
  if (outcome.died) say(`✗ ${outcome.died.name} exited (${outcome.died.e.code ?? outcome.died.e.signal})`);
  return shutdown(outcome.code);
}

/** What `watchStatus` needs. */
interface WatchStatusOptions {
  probes: Record<string, number>;
  readyOf: (name: string) => boolean;
  simulator: { sent: number; simTime: string | null; ratePerS?: number };
  opendataDir: string;
  event: (line: string) => void;
  base: Pick<
    StatusSnapshot,
    'runId' | 'speed' | 'apiBase' | 'console' | 'metricsPorts' | 'logsDir' | 'publishDelayOverridden'
  >;
  startedAt: number;
  render: (snapshot: StatusSnapshot) => void;
}

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_500) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

async function readyAt(port: number): Promise<boolean | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_500) });
    return res.ok;
  } catch {
    return undefined;
  }
}

/**
 * Every 2 s: readiness and metrics of the services, the simulator's progress and the catalogue; renders
 * the status block and announces each dataset's first release, each rejection code's first message, and
 * the first late and duplicate records.
 */
function watchStatus(o: WatchStatusOptions): { stop(): void } {
  let previous: { at: number; counters: Map<string, number>; sent: number } | undefined;
  const seenCodes = new Set<string>();
  const announced = new Set<string>();
  let lateAnnounced = false;
  let duplicatesAnnounced = false;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const now = Date.now();
      const [ingest, processors, publisher] = await Promise.all(
        (['ingest', 'processors', 'publisher'] as const).map((name) =>
          fetchText(`http://127.0.0.1:${o.probes[name]}/metrics`),
        ),
      );
      const counters = new Map<string, number>([
        ...parseMetrics(ingest ?? ''),
        ...parseMetrics(processors ?? ''),
        ...parseMetrics(publisher ?? ''),
      ]);
      const c = (name: string) => counters.get(name) ?? 0;
      const rate = (name: string) =>
        previous && counters.has(name)
          ? (Math.max(0, c(name) - (previous.counters.get(name) ?? 0)) * 1000) / (now - previous.at)
          : undefined;
      const rejectedByCode = metricByLabel(ingest ?? '', 'ondijon_ingest_messages_rejected_total', 'code');
      for (const [code, count] of rejectedByCode)
        if (count > 0 && !seenCodes.has(code)) {
          seenCodes.add(code);
          o.event(
            `✗ ingest rejects ${code} (dead letters: pnpm --filter @ondijon/ingest dead-letters list --code ${code})`,
          );
        }
      const late = c('ondijon_processors_records_late_total');
      if (late > 0 && !lateAnnounced) {
        lateAnnounced = true;
        o.event('◦ late records arrive (after their window closed): counted, then revised or routed');
      }
      const duplicates = c('ondijon_processors_records_duplicate_total');
      if (duplicates > 0 && !duplicatesAnnounced) {
        duplicatesAnnounced = true;
        o.event('◦ duplicate records arrive (redeliveries, repeated device sequences): counted once');
      }
      const releases = firstReleases(o.opendataDir);
      for (const [id, period] of releases.first)
        if (!announced.has(id)) {
          announced.add(id);
          o.event(
            `★ first open-data release of ${id} (period from ${period}): ${o.base.apiBase}/api/3/action/package_show?id=${id}`,
          );
        }
      const services: Record<string, boolean | undefined> = {};
      for (const [name, port] of Object.entries(o.probes)) services[name] = await readyAt(port);
      services.simulator = o.readyOf('simulator') ? true : undefined;
      o.render({
        ...o.base,
        upMs: now - o.startedAt,
        simTime: o.simulator.simTime,
        services,
        rates: {
          published: o.simulator.ratePerS,
          ingested: rate('ondijon_ingest_messages_received_total'),
          produced: rate('ondijon_ingest_records_produced_total'),
          processed: rate('ondijon_processors_records_processed_total'),
          aggregates: rate('ondijon_processors_results_emitted_total'),
        },
        totals: {
          sent: o.simulator.sent,
          rejected: [...rejectedByCode.values()].reduce((a, b) => a + b, 0),
          late,
          duplicates,
          lag: c('ondijon_processors_consumer_lag_records'),
          releases: releases.count,
          datasets: releases.first.size,
        },
      });
      previous = { at: now, counters, sent: o.simulator.sent };
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), 2_000);
  void tick();
  return { stop: () => clearInterval(timer) };
}

/** Each dataset's first release period and the number of releases, from the store's catalogue. */
function firstReleases(opendataDir: string): { first: Map<string, string>; count: number } {
  const first = new Map<string, string>();
  let count = 0;
  const catalog = path.join(opendataDir, 'catalog.json');
  if (!existsSync(catalog)) return { first, count };
  try {
    const c = JSON.parse(readFileSync(catalog, 'utf8')) as {
      datasets: Record<string, { releases: { releaseId: string; period: { start: string } }[] }>;
    };
    for (const [id, d] of Object.entries(c.datasets)) {
      count += d.releases.length;
      const r = d.releases[0];
      if (r) first.set(id, r.period.start);
    }
  } catch {
    /* the catalogue is being replaced: next tick */
  }
  return { first, count };
}
