// What the console's benches share: the simulator's environment, signing the supervisor in, destroying a
// run's MQTT queues.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mqttEnv, type PipelinePlan } from '@ondijon/devstack';
import { artemisManagement, resolveConfig } from '@ondijon/stack';

/**
 * A process's or thread's name and CPU so far (user + system, seconds) from its /proc `stat` file
 * (`/proc/<pid>/stat`, `/proc/<pid>/task/<tid>/stat`; utime and stime are in clock ticks of 100 Hz).
 */
export function procStat(file: string): { name: string; cpuS: number } {
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    cpuS: (Number(fields[11]) + Number(fields[12])) / 100,
  };
}

/** Signs the supervisor in; returns the session cookie header. `usersFile`: the console's CONSOLE_USERS_FILE. */
export async function signIn(base: string, usersFile: string): Promise<string> {
  const form = await fetch(`${base}/login`);
  const csrfCookie = form.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const password = readFileSync(
    path.join(path.dirname(usersFile), 'console-superviseur.password'),
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

/**
 * Destroys the MQTT broker's queues of a round (its shared subscription holds what ingest had not taken:
 * at full speed the simulator sends faster than ingest reads, and queues left behind filled the broker's
 * journal, 858 MiB after three rounds, each round slower than the one before: 955, 208, 25 msg/s).
 * Returns the number destroyed.
 */
export async function deleteRoundQueues(runId: string): Promise<number> {
  const config = resolveConfig();
  const filter = JSON.stringify({ field: 'name', operation: 'CONTAINS', value: runId });
  const listed = await artemisManagement(config, [`listQueues|${filter}|1|1000`]);
  const names = (
    JSON.parse(listed.results.listQueues ?? '{"data":[]}') as { data: { name: string }[] }
  ).data.map((q) => q.name);
  // A queue holding what ingest had not taken (hundreds of thousands of messages at full speed) takes the
  // broker about a minute per 150 000 to destroy: up to 10 min, or the queue stayed, filled the journal and
  // slowed every later round and run.
  if (names.length > 0)
    await artemisManagement(
      config,
      names.map((n) => `destroyQueue|${n}`),
      600_000,
    );
  return names.length;
}

/** The simulator's environment for a run's plan: the admin principal, the run's MQTT prefix and registry. */
export function simulatorEnv(
  plan: PipelinePlan,
  sim: { preset: string; start: string; speed: string; faults: 'default' | 'none' },
): Record<string, string> {
  return {
    MQTT_URL: plan.endpoints.mqttUrl,
    ...mqttEnv(plan, 'admin'),
    SIM_TOPIC_PREFIX: plan.mqttPrefix,
    SIM_REGISTRY_FILE: plan.registryFile,
    SIM_PRESET: sim.preset,
    SIM_START: sim.start,
    SIM_SPEED: sim.speed,
    SIM_FAULTS: sim.faults,
    SIM_CLIENT_ID_PREFIX: `ondijon-sim-${plan.runId}`,
  };
}
