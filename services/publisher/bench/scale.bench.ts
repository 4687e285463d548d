// `pnpm bench:scale` (issue 17, Benchmark): publisher release throughput with 1 and then 2 instances
// (child processes, one consumer group each round, state in Redis, per-dataset release leases) on the
// same input, in the same run, on the local stack. Each round: fresh topics and group, the instances
// started and joined, then DAYS days of two datasets produced at once; the time from the first record
// produced to the last period in the catalogue is the round's release time. Prints a table and writes
// reports/bench-scale.json. Not a test: nothing is asserted; on 2 shared cores the second instance
// competes with Kafka, Redis and the first instance for CPU, which caps the ratio.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { useLocalStackEndpoints } from '@ondijon/acceptance';
import {
  createTestTopic,
  deleteGroups,
  deleteRedisKeys,
  deleteTopics,
  testKafka,
  uniqueName,
  waitFor,
} from '@ondijon/test-kit';
import { Redis } from 'ioredis';
import { REPO_ROOT } from '../src/config';
import { produce } from '../test/int-helpers';
import {
  LIGHTING,
  WINTER,
  groupMembers,
  lightingDayShifted,
  publisherEnv,
  releasedPeriods,
  winterDayShifted,
} from '../test/scale-helpers';

const DAYS = Number(process.env.BENCH_SCALE_DAYS ?? 12);
const PARTITIONS = 4;
const ROUNDS = (process.env.BENCH_SCALE_INSTANCES ?? '1,2').split(',').map(Number);
const say = (s: string) => process.stdout.write(`${s}\n`);

interface Round {
  instances: number;
  periods: number;
  records: number;
  releaseSeconds: number;
  periodsPerSecond: number;
  load1: number;
}

async function round(instances: number, ep: ReturnType<typeof useLocalStackEndpoints>): Promise<Round> {
  const kafka = testKafka();
  const redis = new Redis(ep.redisUrl);
  const lightingTopic = await createTestTopic('bench-scale-lighting', { partitions: PARTITIONS });
  const winterTopic = await createTestTopic('bench-scale-winter', { partitions: PARTITIONS });
  const groupId = uniqueName(`bench-scale-${instances}`);
  const store = await mkdtemp(path.join(tmpdir(), 'bench-scale-store-'));
  const children: ChildProcess[] = [];
  try {
    const env = publisherEnv({
      brokers: ep.kafkaBrokers,
      store,
      groupId,
      lightingTopic,
      winterTopic,
      extra: {
        PUBLISHER_STATE_STORE: 'redis',
        REDIS_URL: ep.redisUrl,
        PUBLISHER_SESSION_TIMEOUT_MS: '10000',
        PUBLISHER_LEASE_MS: '10000',
        ...(ep.kafkaSasl
          ? { KAFKA_SASL_USERNAME: ep.kafkaSasl.username, KAFKA_SASL_PASSWORD: ep.kafkaSasl.password }
          : {}),
      },
    });
    for (let i = 0; i < instances; i++)
      children.push(
        spawn(process.execPath, ['--import', 'tsx', 'services/publisher/src/main.ts'], {
          cwd: REPO_ROOT,
          env: { ...process.env, LOG_LEVEL: 'warn', ...env },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    await waitFor(async () => (await groupMembers(kafka, groupId)) === instances, {
      timeoutMs: 120_000,
      intervalMs: 500,
      message: `${instances} instance(s) joined`,
    });
    let records = 0;
    const t0 = performance.now();
    for (let d = 0; d < DAYS; d++) {
      const l = lightingDayShifted(d);
      const w = winterDayShifted(d);
      await produce(kafka, lightingTopic, l, LIGHTING);
      await produce(kafka, winterTopic, w, WINTER);
      records += l.length + w.length;
    }
    await waitFor(async () => (await releasedPeriods(store)).length === DAYS * 2, {
      timeoutMs: 900_000,
      intervalMs: 50,
      message: 'every period released',
    });
    const releaseSeconds = (performance.now() - t0) / 1000;
    return {
      instances,
      periods: DAYS * 2,
      records,
      releaseSeconds: Math.round(releaseSeconds * 100) / 100,
      periodsPerSecond: Math.round(((DAYS * 2) / releaseSeconds) * 1000) / 1000,
      load1: Math.round(loadavg()[0]! * 10) / 10,
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null)
        await new Promise((resolve) => c.once('exit', resolve));
    await deleteRedisKeys(redis, `publisher:{${groupId}}:`);
    await redis.quit();
    await deleteGroups([groupId]).catch(() => undefined);
    await deleteTopics([lightingTopic, winterTopic]).catch(() => undefined);
    await rm(store, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const ep = useLocalStackEndpoints();
  say(`bench:scale — ${DAYS} days × 2 datasets, ${PARTITIONS} partitions, ${cpus().length} cores`);
  const rounds: Round[] = [];
  for (const n of ROUNDS) {
    const r = await round(n, ep);
    rounds.push(r);
    say(
      `  ${n} instance(s): ${r.periods} periods in ${r.releaseSeconds} s = ${r.periodsPerSecond} periods/s (load ${r.load1})`,
    );
  }
  const base = rounds.find((r) => r.instances === 1);
  say('');
  say('| instances | periods | release time (s) | periods/s | vs 1 instance | load |');
  say('|---|---|---|---|---|---|');
  for (const r of rounds)
    say(
      `| ${r.instances} | ${r.periods} | ${r.releaseSeconds} | ${r.periodsPerSecond} | ${base ? `${(r.periodsPerSecond / base.periodsPerSecond).toFixed(2)}×` : '-'} | ${r.load1} |`,
    );
  const report = {
    when: new Date().toISOString(),
    command: 'pnpm bench:scale',
    days: DAYS,
    partitions: PARTITIONS,
    cores: cpus().length,
    rounds,
    ratio2to1:
      base && rounds.find((r) => r.instances === 2)
        ? rounds.find((r) => r.instances === 2)!.periodsPerSecond / base.periodsPerSecond
        : null,
    note: 'one machine: instances share its cores with Kafka, Redis and each other',
  };
  mkdirSync(path.join(REPO_ROOT, 'reports'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'reports', 'bench-scale.json'), `${JSON.stringify(report, null, 2)}\n`);
  say('');
  say('wrote reports/bench-scale.json');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
