// The supervisor's overview shows the rates the simulator sends (issue 15: "rates that match the
// simulator's own counters within 5 %"). Real stack: ingest and the console on a namespace of their own,
// the simulator at a fixed rate (small fleet, every family every 10 s, live clock: about 42 msg/s). The
// console's per-family counts over whole 10 s steps (GET /api/overview as the supervisor) are compared with
// the simulator's own per-family `sent` counters (its progress lines, one per second) over the same wall
// interval (the latest 60 to 90 s). Polls until they agree or a deadline passes; no timed assertion.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, testEndpoints, testPipeline, usesStackSecrets, waitFor } from '@ondijon/acceptance';
import { hashPassword } from '@ondijon/service-kit';
import { stackMqttPasswordsDir } from '@ondijon/stack';
import { mqttEnv } from '@ondijon/devstack';

const STEP_S = 10;
const MIN_STEPS = 6;
const WINDOW_STEPS = 9;
const TOLERANCE = 0.05;
const FAMILIES = [
  'lighting-cabinet',
  'signal-controller',
  'streetlight',
  'traffic-detector',
  'weather-station',
];

const cleanup = new Cleanup();
let consoleUrl = '';
let cookie = '';
let simLog = '';
let simStartedMs = 0;

/** The simulator's cumulative sent count per family at wall time `ms`, interpolated between progress lines. */
function simCountsAt(lines: { time: number; byFamily: Record<string, number> }[], ms: number) {
  const after = lines.findIndex((l) => l.time >= ms);
  if (after <= 0) return undefined;
  const a = lines[after - 1]!;
  const b = lines[after]!;
  const f = (ms - a.time) / Math.max(1, b.time - a.time);
  return Object.fromEntries(
    FAMILIES.map((fam) => {
      const x = a.byFamily[fam] ?? 0;
      return [fam, x + ((b.byFamily[fam] ?? 0) - x) * f];
    }),
  );
}

describe('the overview rates (real stack, paced simulator)', () => {
  beforeAll(async () => {
    const endpoints = testEndpoints();
    const { plan, dir, start } = await testPipeline({
      name: 'crates',
      cleanup,
      groups: ['ondijon-ingest-<run>'],
    });
    const runId = plan.runId;

    let password: string;
    let consoleSecrets: Record<string, string> = {};
    if (plan.secrets) {
      const secretsDir = path.dirname(plan.secrets.console.CONSOLE_USERS_FILE!);
      password = readFileSync(path.join(secretsDir, 'console-superviseur.password'), 'utf8').trim();
    } else {
      password = `superviseur-${runId}`;
      writeFileSync(
        path.join(dir, 'users.json'),
        JSON.stringify({
          users: [{ login: 'superviseur', role: 'supervisor', passwordHash: hashPassword(password) }],
        }),
      );
      consoleSecrets = {
        CONSOLE_USERS_FILE: path.join(dir, 'users.json'),
        CONSOLE_SESSION_SECRET: 's'.repeat(40),
      };
    }

    const ingest = await start('ingest', { env: { LOG_LEVEL: 'warn' } });
    const consoleService = await start('console', { env: { ...consoleSecrets, LOG_LEVEL: 'warn' } });
    await ingest.ready(240_000);
    await consoleService.ready(240_000);
    consoleUrl = consoleService.url!;

    const form = await fetch(`${consoleUrl}/login`);
    const csrfCookie = form.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const login = await fetch(`${consoleUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login: 'superviseur', password, _csrf: token }),
    });
    expect(login.status).toBe(303);
    cookie = [csrfCookie, ...login.headers.getSetCookie().map((c) => c.split(';')[0])].join('; ');

    // A fixed rate: every family every 10 s on the wall clock, from now (no backlog to catch up).
    simLog = path.join(dir, 'simulator.log');
    simStartedMs = Date.now();
    await start('simulator', {
      env: {
        MQTT_URL: endpoints.mqttUrl,
        ...(usesStackSecrets(endpoints)
          ? {
              SIM_MQTT_PASSWORDS_DIR: stackMqttPasswordsDir({
                config: { externalKafka: undefined, externalRedis: undefined },
              }),
            }
          : mqttEnv(plan, 'admin')),
        SIM_TOPIC_PREFIX: plan.mqttPrefix,
        SIM_REGISTRY_FILE: plan.registryFile,
        SIM_PRESET: 'small',
        SIM_START: new Date(simStartedMs).toISOString(),
        SIM_SPEED: '1',
        SIM_INTERVALS: [...FAMILIES, 'winter-vehicle'].map((f) => `${f}=10`).join(','),
        SIM_FAULTS: 'none',
        SIM_PROGRESS_MS: '1000',
        SIM_CLIENT_ID_PREFIX: `ondijon-sim-${runId}`,
        LOG_LEVEL: 'info',
      },
    });
    // Starting services on a loaded 2-core machine can take minutes: the hook waits up to 10.
  }, 600_000);
  afterAll(() => cleanup.run());

  it('match the simulator’s own counters within 5 % per family over at least a minute', async () => {
    let last: unknown;
    const agreed = await waitFor(
      async () => {
        const res = await fetch(`${consoleUrl}/api/overview`, { headers: { cookie } });
        if (!res.ok) {
          last = { overview: res.status };
          return undefined;
        }
        const overview = (await res.json()) as {
          rates: { times: number[]; byFamily: Record<string, number[]> };
        };
        // Complete lines only: the last one may be half written.
        const text = readFileSync(simLog, 'utf8');
        const lines = text
          .slice(0, text.lastIndexOf('\n') + 1)
          .split('\n')
          .filter((l) => l.includes('"msg":"progress"'))
          .map((l) => JSON.parse(l) as { time: number; byFamily: Record<string, number> });
        // Whole steps that start 20 s after the simulator's first progress line (its connections up, the
        // console reading; starting it can take a minute on a loaded machine).
        if (lines.length === 0) {
          last = { waiting: 'simulator started' };
          return undefined;
        }
        const { times, byFamily } = overview.rates;
        const settled = times.findIndex((t) => t * 1000 >= lines[0]!.time + 20_000);
        // The latest WINDOW_STEPS whole steps: a backlog that ingest drained earlier (a loaded machine) is
        // counted by the console when read, so it must have left the window.
        const first = settled < 0 ? -1 : Math.max(settled, times.length - WINDOW_STEPS);
        if (first < 0 || times.length - first < MIN_STEPS) {
          last = { waiting: 'steps', first, steps: times.length };
          return undefined;
        }
        const fromMs = times[first]! * 1000;
        const toMs = (times.at(-1)! + STEP_S) * 1000;
        const a = simCountsAt(lines, fromMs);
        const b = simCountsAt(lines, toMs);
        if (a === undefined || b === undefined) {
          last = { waiting: 'simulator progress', fromMs, toMs, lastLine: lines.at(-1)?.time };
          return undefined;
        }
        const rows = FAMILIES.map((fam) => {
          const sim = (b[fam]! - a[fam]!) / ((toMs - fromMs) / 1000);
          const series = byFamily[fam] ?? [];
          const shown = series.slice(first).reduce((s, x) => s + x, 0) / (times.length - first);
          return { family: fam, sim, shown, error: sim === 0 ? Infinity : Math.abs(shown - sim) / sim };
        });
        last = { windowS: (toMs - fromMs) / 1000, rows };
        return rows.every((r) => r.sim > 0 && r.error <= TOLERANCE) ? last : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 5_000, message: 'overview vs simulator' },
    ).catch(() => undefined);
    expect(agreed, `overview vs simulator: ${JSON.stringify(last)}`).toBeDefined();
    process.stdout.write(`overview vs simulator: ${JSON.stringify(agreed)}\n`);
  }, 360_000);
});
