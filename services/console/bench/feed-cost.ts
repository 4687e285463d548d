// `pnpm bench:console-feed`: what the console's reading of telemetry costs, per record, on a quiet and
// repeatable input (bench:console's ingest-rate ratio moves with the machine's load by more than the
// console's whole cost). Once, it fills a namespace of its own (BENCH_FEED_NAMESPACE, default
// `feedcost.`, kept between runs) with real records: ingest and the simulator (the city preset at full
// speed) for BENCH_FEED_FILL_S seconds (default 120). Then it starts the console on it, reading the S1
// topics from their start (CONSOLE_TELEMETRY_FROM_BEGINNING), and times the console's process CPU from
// when it has read a third of them (a fresh process first compiles its hot paths) to its last record; the
// main thread's share is read from /proc. The fetches have the size of live ones (256 KiB: about half a
// second of ingest's records at full rate; feed.ts). What the console spends per second rather than per
// record (live pushes to the pages, the alerts' refresh) is bench:console's, not this bench's.
// With BENCH_BASELINE_CONSOLE (another console's entry, e.g. an earlier commit's main.ts, which must know
// CONSOLE_TELEMETRY_FROM_BEGINNING), both run in turn, BENCH_FEED_RUNS times each (default 3), and the
// median ratio is printed. Prints a table and writes reports/bench-console-feed.json.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { metricValue } from '@ondijon/acceptance';
import { generateRegistry } from '@ondijon/contracts';
import { createKafka } from '@ondijon/kafka';
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
  consoleEnv,
  freePort,
  type PipelinePlan,
  serviceEntry,
  serviceEnvs,
  startService,
  stopAll,
  waitHttpOk,
} from '@ondijon/devstack';
import { TELEMETRY_TOPICS } from '../src/feed';
import { deleteRoundQueues, procStat, simulatorEnv } from './kit';

const NAMESPACE = process.env.BENCH_FEED_NAMESPACE ?? 'feedcost.';
const FILL_S = Number(process.env.BENCH_FEED_FILL_S ?? 120);
const RUNS = Number(process.env.BENCH_FEED_RUNS ?? 3);
const BASELINE = process.env.BENCH_BASELINE_CONSOLE;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

await stackUp({ log: () => undefined });
const ep = {
  ...endpoints(),
  mqttUsers: { ingest: stackMqttCredentials('ingest'), admin: stackMqttCredentials('admin') },
};
const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-console-feed-'));
const secrets = serviceSecretEnvs();
const runId = NAMESPACE.replace(/\.$/, '');
const plan: PipelinePlan = {
  topicPrefix: NAMESPACE,
  mqttPrefix: `${runId}/`,
  runId,
  registryFile: path.join(dir, 'registry.json'),
  opendataDir: path.join(dir, 'opendata'),
  publisherStateDir: path.join(dir, 'publisher'),
  ports: { ingest: await freePort(), processors: 0, publisher: 0, api: 0 },
  endpoints: ep,
  secrets,
  ingestConnections: 2,
};
writeFileSync(plan.registryFile, JSON.stringify(generateRegistry({ seed: 1, scale: 'city' })));
const admin = createKafka({
  brokers: ep.kafkaBrokers,
  clientId: 'bench-console-feed',
  security: securityOf(ep),
}).admin();
await admin.connect();

/** The S1 telemetry records in the namespace (the sum of the topics' end offsets; nothing is compacted). */
async function telemetryRecords(): Promise<number> {
  const existing = new Set(await admin.listTopics());
  let total = 0;
  for (const t of TELEMETRY_TOPICS) {
    if (!existing.has(`${NAMESPACE}${t}`)) return 0;
    for (const p of await admin.fetchTopicOffsets(`${NAMESPACE}${t}`))
      total += Number(p.high) - Number(p.low);
  }
  return total;
}

let records = await telemetryRecords();
if (records === 0) {
  process.stdout.write(`filling ${NAMESPACE} with ${FILL_S} s of the simulator at full speed…\n`);
  await stackProvision({ namespace: NAMESPACE });
  const fill = [
    startService('ingest', serviceEntry('ingest'), {
      env: { ...serviceEnvs(plan).ingest, LOG_LEVEL: 'warn' },
      logFile: path.join(dir, 'ingest.log'),
    }),
  ];
  try {
    await waitHttpOk(`http://127.0.0.1:${plan.ports.ingest}/readyz`, 300_000, fill[0]);
    fill.push(
      startService('simulator', serviceEntry('simulator'), {
        logFile: path.join(dir, 'simulator.log'),
        env: simulatorEnv(plan, { preset: 'city', start: 'now-30d', speed: 'max', faults: 'default' }),
      }),
    );
    await sleep(FILL_S * 1000);
  } finally {
    await stopAll(fill, 15_000);
    await deleteRoundQueues(runId).catch(() => undefined);
  }
  records = await telemetryRecords();
}
process.stdout.write(`${records} S1 telemetry records in ${NAMESPACE}\n`);

/** CPU seconds per thread of a process (Linux /proc), by thread id: where a process's CPU goes. */
function threadCpu(pid: number): Map<string, { name: string; cpuS: number }> {
  const out = new Map<string, { name: string; cpuS: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) out.set(tid, procStat(`/proc/${pid}/task/${tid}/stat`));
  return out;
}

interface Run {
  console: 'this' | 'baseline';
  records: number;
  cpuS: number;
  usPerRecord: number;
  wallS: number;
  /** CPU seconds of the main thread (the event loop) in the window; the rest is V8's and libuv's threads. */
  mainThreadCpuS: number;
}

/** Starts a console reading from the start, with its live sessions; times it over what it reads once ready. */
async function run(kind: 'this' | 'baseline', index: number): Promise<Run> {
  const port = await freePort();
  const entry =
    kind === 'baseline' ? path.resolve(BASELINE!) : path.join(REPO_ROOT, 'services/console/src/main.ts');
  const handle = startService('console', entry, {
    env: {
      ...consoleEnv({ ...plan, runId: `${runId}-${kind}-${index}-${Date.now().toString(36)}` }, port),
      LOG_LEVEL: 'warn',
      CONSOLE_TELEMETRY_FROM_BEGINNING: 'true',
      CONSOLE_DEAD_LETTERS_FROM_BEGINNING: 'false',
    },
    logFile: path.join(dir, `console-${kind}-${index}.log`),
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    const read = async () => {
      const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      return {
        cpuS: metricValue(text, 'ondijon_console_process_cpu_seconds_total') ?? NaN,
        records: metricValue(text, 'ondijon_console_records_read', { what: 'telemetry' }) ?? 0,
      };
    };
    // The counters from before the feed reads its first record (the console serves /metrics before its
    // consumers join), so the window is the reading alone: the last reading with no record is the start.
    await waitHttpOk(`${base}/healthz`, 300_000, handle);
    // The window starts once the console has read a third of the records: a fresh process spends its first
    // seconds compiling its hot paths (on V8's background threads as much as on its main thread), which a
    // console that has been running for a while has done long ago.
    const warm = Math.floor(records / 3);
    let start = await read();
    const t0 = Date.now();
    while (start.records < warm) {
      if (Date.now() - t0 > 300_000)
        throw new Error(`the console read ${start.records} records within 300 s`);
      await sleep(50);
      start = await read();
    }
    const pid = handle.child.pid!;
    const threads0 = threadCpu(pid);
    let end = start;
    for (let last = Date.now(); end.records < records;) {
      await sleep(100);
      const now = await read();
      if (now.records > end.records) last = Date.now();
      else if (Date.now() - last > 60_000)
        throw new Error(`the console stopped reading at ${now.records}/${records}`);
      end = now;
    }
    const threads1 = threadCpu(pid);
    const mainThreadCpuS = threads1.get(String(pid))!.cpuS - (threads0.get(String(pid))?.cpuS ?? 0);
    const read1 = end.records - start.records;
    const cpuS = end.cpuS - start.cpuS;
    return {
      console: kind,
      records: read1,
      cpuS,
      usPerRecord: (cpuS * 1e6) / read1,
      wallS: (Date.now() - t0) / 1000,
      mainThreadCpuS,
    };
  } finally {
    await stopAll([handle], 15_000);
  }
}

const runs: Run[] = [];
for (let i = 0; i < RUNS; i++)
  for (const kind of BASELINE
    ? i % 2
      ? (['baseline', 'this'] as const)
      : (['this', 'baseline'] as const)
    : (['this'] as const)) {
    const r = await run(kind, i);
    runs.push(r);
    process.stdout.write(
      `  ${kind.padEnd(8)}: ${r.records} records in ${r.wallS.toFixed(1)} s, ${r.cpuS.toFixed(2)} CPU s (main thread ${r.mainThreadCpuS.toFixed(2)} s), ${r.usPerRecord.toFixed(2)} µs/record\n`,
    );
  }
await admin.disconnect();
const of = (k: Run['console']) => runs.filter((r) => r.console === k).map((r) => r.usPerRecord);
const report = {
  namespace: NAMESPACE,
  records,
  runs,
  medianUsPerRecord: median(of('this')),
  baseline: BASELINE
    ? { entry: path.relative(REPO_ROOT, path.resolve(BASELINE)), medianUsPerRecord: median(of('baseline')) }
    : null,
};
console.log('\n| console | CPU µs per record (median) | runs |\n|---|---|---|');
console.log(
  `| this | ${report.medianUsPerRecord.toFixed(2)} | ${of('this')
    .map((x) => x.toFixed(2))
    .join(', ')} |`,
);
if (report.baseline)
  console.log(
    `| baseline | ${report.baseline.medianUsPerRecord.toFixed(2)} | ${of('baseline')
      .map((x) => x.toFixed(2))
      .join(
        ', ',
      )} |\nthis / baseline: ${(report.medianUsPerRecord / report.baseline.medianUsPerRecord).toFixed(3)}`,
  );
mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-console-feed.json'), JSON.stringify(report, null, 2));
