/**
 * The one-command pipeline (scripts/run-pipeline.ts is its entry point): starts the local stack
 * (idempotent), provisions the topics, starts ingest, processors, publisher, the open-data API and the
 * simulator (time-compressed, faults on) as child processes with prefixed output, prints where to look,
 * announces the first open-data release, and stops everything cleanly on Ctrl-C.
 *
 * It lives in the acceptance package because that package depends on everything it starts; the
 * script at the root only calls `runPipeline`.
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
  stackProvision,
  stackUp,
} from '@ondijon/stack';
import { REPO_ROOT, serviceEntry, type ServiceHandle, startService, stopAll, waitHttpOk } from './harness';
import { consoleEnv, mqttEnv, type PipelinePlan, serviceEnvs } from './pipeline';
import { pruneRuns } from './prune-runs';

/** Port of the console in `./ondijon run`. */
const CONSOLE_PORT = 18_090;

/** Options of `runPipeline` (CLI flags of scripts/run-pipeline.ts). */
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

/** Parses the flags of scripts/run-pipeline.ts. */
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

/** Usage of scripts/run-pipeline.ts. */
export const USAGE = `usage: tsx scripts/run-pipeline.ts [--speed 720] [--faults default|none|late=0.01,…] [--preset small|city] [--duration <s>] [--reuse] [--keep-runs 3] [--stack-down]`;

const say = (line = '') => process.stdout.write(`${line}\n`);

/** Renders a pino JSON line compactly (`12:00:01 WARN message key=value …`); other lines as they are. */
export function compactLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { level, time, msg, service: _s, name: _n, pid: _p, hostname: _h, ...rest } = o;
    const lvl =
      typeof level === 'number' && level >= 50
        ? 'ERROR '
        : typeof level === 'number' && level >= 40
          ? 'WARN '
          : '';
    const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '';
    const extras = Object.entries(rest)
      .map(
        ([k, v]) =>
          `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | boolean)}`,
      )
      .join(' ');
    return `${t} ${lvl}${String(msg)} ${extras}`.slice(0, 400);
  } catch {
    return line;
  }
}

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
  envs.ingest.LOG_LEVEL = 'warn'; // one line per dead letter at info is too much for a terminal
  envs['opendata-api'].LOG_LEVEL = 'warn';
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
        prefix: false,
        detached: true,
        onLine: (l) => say(`[${name}] ${compactLogLine(l)}`),
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
        prefix: false,
        detached: true,
        onLine: (l) => say(`[console] ${compactLogLine(l)}`),
      },
    );
    services.push(consoleService);
    await waitHttpOk(`http://127.0.0.1:${CONSOLE_PORT}/readyz`, 90_000, consoleService);
    const sim = startService('simulator', serviceEntry('simulator'), {
      prefix: false,
      detached: true,
      onLine: (l) => say(`[simulator] ${compactLogLine(l)}`),
      env: {
        MQTT_URL: ep.mqttUrl,
        ...mqttEnv(plan, 'admin'),
        SIM_TOPIC_PREFIX: plan.mqttPrefix,
        SIM_REGISTRY_FILE: plan.registryFile,
        SIM_PRESET: o.preset,
        // A day behind the wall clock, compressed: it crosses a Paris midnight within minutes, then runs live.
        SIM_START: 'now-1d',
        SIM_SPEED: String(o.speed),
        SIM_FAULTS: o.faults,
        SIM_PROGRESS_MS: '10000',
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
  say('━━ OnDijon pipeline running ━━');
  say(`  open-data API   ${api}/api/3/action/package_list   (CKAN)`);
  say(`                  ${api}/api/explore/v2.1/catalog/datasets   (Explore v2.1)`);
  say(`                  ${api}/catalog.jsonld   (DCAT-AP)`);
  for (const [name, port] of Object.entries(probes))
    say(`  metrics         http://127.0.0.1:${port}/metrics   (${name})`);
  say(`  console         http://127.0.0.1:${CONSOLE_PORT}/   (control centre; French, ?lang=en)`);
  say(
    `                  logins: ${CONSOLE_DEMO_USERS.map((u) => u.login).join(', ')}; password of each: cat .stack/secrets/console-<login>.password`,
  );
  say(`  stack           pnpm stack status`);
  say(`  data            ${runDir}`);
  say(
    `  simulated time  from a day ago at ×${o.speed}: the first release comes when a simulated Paris day closes (a few minutes)`,
  );
  say('  Ctrl-C stops everything (the stack stays up unless --stack-down)');
  say('');

  // Announce each dataset's first release.
  const announced = new Set<string>();
  const watcher = setInterval(() => {
    const catalog = path.join(plan.opendataDir, 'catalog.json');
    if (!existsSync(catalog)) return;
    try {
      const c = JSON.parse(readFileSync(catalog, 'utf8')) as {
        datasets: Record<string, { releases: { releaseId: string; period: { start: string } }[] }>;
      };
      for (const [id, d] of Object.entries(c.datasets)) {
        const first = d.releases[0];
        if (!first || announced.has(id)) continue;
        announced.add(id);
        say(
          `★ first open-data release of ${id} (period from ${first.period.start}): ${api}/api/3/action/package_show?id=${id}`,
        );
      }
    } catch {
      /* the catalogue is being replaced: next tick */
    }
  }, 2000);
  watcher.unref();

  if (o.durationS > 0) setTimeout(() => requestStop(0), o.durationS * 1000).unref();
  // Any service ending on its own ends the run.
  const died = Promise.race(services.map((s) => s.exited.then((e) => ({ name: s.name, e }))));
  const outcome = await Promise.race([
    stopRequested.then((code) => ({ code, died: undefined })),
    died.then((d) => ({ code: 1, died: d })),
  ]);
  clearInterval(watcher);
  if (outcome.died) say(`✗ ${outcome.died.name} exited (${outcome.died.e.code ?? outcome.died.e.signal})`);
  return shutdown(outcome.code);
}
