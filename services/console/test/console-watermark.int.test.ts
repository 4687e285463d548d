// The watermark per processor on the overview and /pipeline (docs/console.md, "Pipeline figures"). Real
// stack: the processors service (lighting-commune-hour only) and the console run on a namespace of their
// own; streetlight records of a known event time are written to the run's tel.s1.lighting.v1. The
// processors' /metrics must show `ondijon_processors_watermark_seconds` at that time, then at a later time
// after a second batch (the gauge advances); the supervisor's /api/pipeline, /pipeline and the overview
// (Debian chromium) show the same watermark, linked to its detail. Polls with deadlines; no timed assertion.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, metricValue, testKafka, testPipeline, waitFor } from '@ondijon/acceptance';
import { hashPassword } from '@ondijon/service-kit';
import { telemetryEnvelope } from '@ondijon/stream';
import type { PipelinePlan } from '@ondijon/devstack';

const CHROMIUM = '/usr/bin/chromium';
const PROCESSOR = 'lighting-commune-hour';
const LAMPS = 8;

const cleanup = new Cleanup();
let plan: PipelinePlan;
let consoleUrl = '';
let metricsUrl = '';
let cookie = '';
let password = '';

/** `LAMPS` streetlight records observed at `ms`, keyed by equipment (so spread over the partitions). */
async function produceAt(ms: number, seq: number): Promise<void> {
  const producer = testKafka().producer();
  await producer.connect();
  try {
    await producer.send({
      topic: `${plan.topicPrefix}tel.s1.lighting.v1`,
      messages: Array.from({ length: LAMPS }, (_, l) => {
        const equipmentId = `SL-21231-001-${String(l).padStart(3, '0')}`;
        const value = telemetryEnvelope(
          'streetlight',
          {
            seq,
            observedAt: new Date(ms).toISOString(),
            state: 'on',
            dimLevelPct: 50,
            powerW: 40,
            energyWh: 10,
            intervalS: 120,
            burningHours: 100,
            faults: [],
          },
          { equipmentId, commune: '21231', operator: 'citelum' },
        );
        return { key: equipmentId, value: JSON.stringify(value) };
      }),
    });
  } finally {
    await producer.disconnect();
  }
}

/** The processors' own gauge, Unix seconds (undefined before the first sweep that saw a record). */
async function gauge(): Promise<number | undefined> {
  return metricValue(await (await fetch(metricsUrl)).text(), 'ondijon_processors_watermark_seconds', {
    processor: PROCESSOR,
  });
}

/** The console's view of the processor (GET /api/pipeline as the supervisor). */
async function consoleView(): Promise<
  { watermark: string | null; watermarkBehindS: number | null } | undefined
> {
  const res = await fetch(`${consoleUrl}/api/pipeline`, { headers: { cookie } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    lag: { processor: string; watermark: string | null; watermarkBehindS: number | null }[] | null;
  };
  return body.lag?.find((l) => l.processor === PROCESSOR);
}

describe('the watermark per processor (real stack: processors and console)', () => {
  beforeAll(async () => {
    const pipeline = await testPipeline({
      name: 'cwm',
      cleanup,
      processors: [PROCESSOR],
      // Long enough that a partition never counts as idle during the test: the watermark is then the
      // minimum stream time over the partitions that received records, i.e. the batch's time.
      plan: { idleFlushMs: 600_000 },
    });
    ({ plan } = pipeline);

    let consoleSecrets: Record<string, string> = {};
    if (plan.secrets) {
      const secretsDir = path.dirname(plan.secrets.console.CONSOLE_USERS_FILE!);
      password = readFileSync(path.join(secretsDir, 'console-superviseur.password'), 'utf8').trim();
    } else {
      password = `superviseur-${plan.runId}`;
      writeFileSync(
        path.join(pipeline.dir, 'users.json'),
        JSON.stringify({
          users: [{ login: 'superviseur', role: 'supervisor', passwordHash: hashPassword(password) }],
        }),
      );
      consoleSecrets = {
        CONSOLE_USERS_FILE: path.join(pipeline.dir, 'users.json'),
        CONSOLE_SESSION_SECRET: 's'.repeat(40),
      };
    }

    const [processors, consoleService] = await pipeline.startAll(['processors', 'console'], {
      processors: { PROCESSORS_ENABLED: PROCESSOR, STREAM_EMIT_INTERVAL_MS: '200', LOG_LEVEL: 'warn' },
      console: { ...consoleSecrets, CONSOLE_PIPELINE_REFRESH_MS: '500', LOG_LEVEL: 'warn' },
    });
    metricsUrl = `${processors!.url!}/metrics`;
    consoleUrl = consoleService!.url!;

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
  }, 600_000);
  afterAll(() => cleanup.run());

  it('is exported by the processors, advances, and is shown by the console', async () => {
    const hour = 3_600_000;
    const t1 = Math.floor(Date.now() / hour) * hour - 3 * hour;
    const t2 = t1 + hour + 60_000;
    // Before any record: no watermark (the processor is listed by its lag, or not at all).
    expect(await gauge()).toBeUndefined();

    await produceAt(t1, 1);
    await waitFor(async () => (await gauge()) === t1 / 1000, {
      timeoutMs: 120_000,
      intervalMs: 250,
      message: 'the processors export the first batch’s time as the watermark',
    });
    await waitFor(async () => (await consoleView())?.watermark === new Date(t1).toISOString(), {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: 'the console shows the first watermark',
    });

    await produceAt(t2, 2);
    await waitFor(async () => (await gauge()) === t2 / 1000, {
      timeoutMs: 120_000,
      intervalMs: 250,
      message: 'the watermark advances to the second batch’s time',
    });
    const view = await waitFor(
      async () => {
        const v = await consoleView();
        return v?.watermark === new Date(t2).toISOString() ? v : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'the console shows the advanced watermark' },
    );
    // About 2 h behind the wall clock (t2 is 2 h less a minute before the hour that began before now).
    expect(view.watermarkBehindS).toBeGreaterThan(hour / 1000);
    expect(view.watermarkBehindS).toBeLessThan((3 * hour) / 1000);

    // /pipeline: the processor's row with its watermark, linked to its per-partition lag.
    const detail = await (await fetch(`${consoleUrl}/pipeline?lang=en`, { headers: { cookie } })).text();
    const row = new RegExp(`<tr id="wm-${PROCESSOR}">.*?</tr>`).exec(detail)?.[0] ?? '';
    expect(row).toContain(`href="#lag-${PROCESSOR}"`);
    expect(row).toContain(`datetime="${new Date(t2).toISOString()}"`);

    // The overview (in a browser: filled by overview.js) links the watermark to that row.
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
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
      const page = await browser.newPage();
      await page.goto(`${consoleUrl}/login`);
      await page.fill('#login', 'superviseur');
      await page.fill('#password', password);
      await Promise.all([
        page.waitForURL((u) => !u.pathname.startsWith('/login')),
        page.click('main button[type=submit]'),
      ]);
      await page.goto(`${consoleUrl}/?lang=en`);
      const link = page.locator(`#lag tr[data-processor="${PROCESSOR}"] a[href="/pipeline#wm-${PROCESSOR}"]`);
      await link.waitFor({ timeout: 60_000 });
      expect(await link.count()).toBe(1);
    } finally {
      await browser.close();
    }
  }, 600_000);
});
