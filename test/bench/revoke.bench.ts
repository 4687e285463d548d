/**
 * How long `pnpm operators revoke <operator>` takes to close the operator's live connection, measured
 * from the moment the command is started (as an operator of the platform runs it) to the moment an
 * independent client (paho-mqtt, test/independent/mqtt_probe.py `hold`) sees the broker close its
 * connection; and until the command itself returns. Several runs; prints a table with the load average and
 * writes reports/revoke-latency-<cli|inprocess>.json.
 *
 *   pnpm exec tsx test/bench/revoke.bench.ts [runs] [cli|inprocess]        (the local stack must be up)
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { addOperator, readOperatorsState, repoRoot, resolveConfig, revokeOperator } from '@ondijon/stack';

const RUNS = Number(process.argv[2] ?? 5);
/**
 * `cli` (default): the command as an operator runs it (`pnpm operators revoke`, Node and tsx starting
 * included); `inprocess`: `revokeOperator()` called in this process, i.e. what the broker side and the
 * state files take once the command is running.
 */
const HOW = process.argv[3] === 'inprocess' ? 'inprocess' : 'cli';
const config = resolveConfig({ externalMqtt: undefined });
const PROBE = path.join(repoRoot, 'test', 'independent', 'mqtt_probe.py');

interface Run {
  run: number;
  closedMs: number;
  commandMs: number;
  load1: number;
}

async function once(run: number): Promise<Run> {
  const operator = `bench-revoke-${Date.now().toString(36)}`;
  const { password } = await addOperator(config, operator, { actor: 'bench:revoke' });
  const hold = spawn(
    'python3',
    [
      PROBE,
      'hold',
      '--port',
      String(config.mqttPort),
      '--hold-seconds',
      '60',
      `--username=${operator}`,
      `--password=${password!}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const connected = new Promise<void>((resolve, reject) => {
    createInterface({ input: hold.stdout }).on('line', (line) => {
      const l = JSON.parse(line) as Record<string, unknown>;
      if (l.connack === 'Success') resolve();
      else if ('connack' in l) reject(new Error(`connack ${String(l.connack)}`));
      if ('disconnected' in l || 'still_connected' in l) closed(l);
    });
  });
  let closed: (l: Record<string, unknown>) => void = () => undefined;
  const closedAt = new Promise<number>((resolve, reject) => {
    closed = (l) => ('disconnected' in l ? resolve(performance.now()) : reject(new Error('never closed')));
  });
  await connected;
  const load1 = loadavg()[0]!;
  const start = performance.now();
  const commandDone =
    HOW === 'inprocess'
      ? revokeOperator(config, operator, { actor: 'bench:revoke' }).then(() => performance.now())
      : new Promise<number>((resolve) =>
          spawn('pnpm', ['-s', 'operators', 'revoke', operator, '--actor', 'bench:revoke'], {
            cwd: repoRoot,
            env: { ...process.env, ONDIJON_OPERATORS_NO_TIMER: '1' },
            stdio: ['ignore', 'ignore', 'inherit'],
          }).once('exit', () => resolve(performance.now())),
        );
  const [closedTime, doneTime] = await Promise.all([closedAt, commandDone]);
  hold.kill();
  if (readOperatorsState(config).operators[operator]?.status !== 'revoked') throw new Error('not revoked');
  return {
    run,
    closedMs: Math.round(closedTime - start),
    commandMs: Math.round(doneTime - start),
    load1: Math.round(load1 * 100) / 100,
  };
}

const results: Run[] = [];
for (let i = 1; i <= RUNS; i += 1) results.push(await once(i));
const sorted = (k: 'closedMs' | 'commandMs') => results.map((r) => r[k]).sort((a, b) => a - b);
const median = (v: number[]) => v[Math.floor(v.length / 2)]!;
console.log(
  `revoke latency (${HOW === 'cli' ? 'pnpm operators revoke' : 'revokeOperator() in process'}): ${RUNS} runs, ${cpus().length} cores`,
);
console.log('run  closed after (ms)  command done (ms)  load average (1 min)');
for (const r of results)
  console.log(
    `${String(r.run).padEnd(4)} ${String(r.closedMs).padStart(17)}  ${String(r.commandMs).padStart(17)}  ${r.load1}`,
  );
console.log(
  `median closed ${median(sorted('closedMs'))} ms (max ${Math.max(...sorted('closedMs'))}); median command ${median(sorted('commandMs'))} ms`,
);
mkdirSync(path.join(repoRoot, 'reports'), { recursive: true });
writeFileSync(
  path.join(repoRoot, 'reports', `revoke-latency-${HOW}.json`),
  `${JSON.stringify({ at: new Date().toISOString(), how: HOW, cores: cpus().length, runs: results }, null, 2)}\n`,
);
process.exit(0);
