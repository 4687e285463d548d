// The console in a real browser against the real stack (issue 15): ingest and the console run as child
// processes on a namespace of their own; two operators' equipment report over MQTT; Debian's chromium,
// driven by playwright-core (which never downloads a browser), signs in as each role.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axe from 'axe-core';
import mqtt from 'mqtt';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  mqttAuth,
  testEndpoints,
  testKafka,
  testPipeline,
  uniqueName,
  waitFor,
} from '@ondijon/acceptance';
import { telemetryTopic } from '@ondijon/contracts';
import { readAll } from '@ondijon/kafka';
import { hashPassword } from '@ondijon/service-kit';
import { type PipelinePlan, REPO_ROOT } from '@ondijon/devstack';

const CHROMIUM = '/usr/bin/chromium';
const REPORTS = path.join(REPO_ROOT, 'reports', 'console');
// Two cabinets of citelum (A1 reports all along, A2 goes silent) and a signal controller of bouygues-es.
const A1 = 'LC-21003-001';
const A2 = 'LC-21105-001';
const B1 = 'SC-21166-001';
// A cabinet of citelum that ingest's registry does not list (until the fix).
const UNKNOWN = 'LC-21003-999';

const cleanup = new Cleanup();
let plan: PipelinePlan;
let consoleUrl: string;
let context: BrowserContext;
let passwords: Record<string, string> = {};
const silenced = new Set<string>();
let reporter: NodeJS.Timeout | undefined;
let publishUnknown: () => Promise<unknown>;

async function signIn(page: Page, login: string): Promise<void> {
  await page.goto(`${consoleUrl}/login`);
  await page.fill('#login', login);
  await page.fill('#password', passwords[login]!);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'),
    page.click('main button[type=submit]'),
  ]);
  expect(
    response.status(),
    `sign-in of ${login}: ${(await response.text().catch(() => '')).slice(0, 200)}`,
  ).toBe(303);
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
}

async function axeScan(
  page: Page,
): Promise<{ id: string; impact: string | null | undefined; nodes: number }[]> {
  await page.addScriptTag({ content: axe.source });
  const result = await page.evaluate(async () => {
    const g = globalThis as unknown as { axe: typeof axe; document: Parameters<typeof axe.run>[0] };
    const r = await g.axe.run(g.document);
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

describe('console in a browser (real stack, ingest, Debian chromium)', () => {
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
    const endpoints = testEndpoints();
    const pipeline = await testPipeline({ name: 'console', cleanup, groups: ['ondijon-ingest-<run>'] });
    plan = pipeline.plan;
    const { dir, runId } = { dir: pipeline.dir, runId: plan.runId };

    // The stack's demo users when the tests run on the local stack, else a users file of the test's own.
    const logins = ['citelum', 'bouygues-es', 'superviseur'];
    let consoleSecrets: Record<string, string> = {};
    if (plan.secrets) {
      // The password files beside the users file the stack wrote (never printed).
      const secretsDir = path.dirname(plan.secrets.console.CONSOLE_USERS_FILE!);
      passwords = Object.fromEntries(
        logins.map((l) => [l, readFileSync(path.join(secretsDir, `console-${l}.password`), 'utf8').trim()]),
      );
    } else {
      passwords = Object.fromEntries(logins.map((l) => [l, `${l}-${runId}`]));
      const users = logins.map((login) => ({
        login,
        role: login === 'superviseur' ? 'supervisor' : 'operator',
        ...(login === 'superviseur' ? {} : { operator: login }),
        passwordHash: hashPassword(passwords[login]!),
      }));
      writeFileSync(path.join(dir, 'users.json'), JSON.stringify({ users }));
      consoleSecrets = {
        CONSOLE_USERS_FILE: path.join(dir, 'users.json'),
        CONSOLE_SESSION_SECRET: 's'.repeat(40),
      };
    }

    mkdirSync(REPORTS, { recursive: true });
    const ingest = await pipeline.start('ingest', {
      env: { LOG_LEVEL: 'warn' },
      logFile: path.join(REPORTS, 'ingest.log'),
    });
    // The registry a replay checks against: ingest's, plus the equipment it did not know (the fix).
    const fixed = JSON.parse(readFileSync(plan.registryFile, 'utf8')) as {
      equipment: Record<string, unknown>[];
    };
    const template = fixed.equipment.find((e) => e.equipmentId === A1)!;
    fixed.equipment.push({ ...template, equipmentId: UNKNOWN });
    writeFileSync(path.join(dir, 'registry-fixed.json'), JSON.stringify(fixed));
    const consoleService = await pipeline.start('console', {
      env: {
        REPLAY_REGISTRY_FILE: path.join(dir, 'registry-fixed.json'),
        ...consoleSecrets,
        CONSOLE_PUSH_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
      },
      logFile: path.join(REPORTS, 'console.log'),
    });
    await ingest.ready(90_000);
    consoleUrl = consoleService.url!;
    await consoleService.ready(90_000);

    // The equipment report every second (intervalS 1: silent after 3 s without a report).
    const clients = {
      citelum: await mqtt.connectAsync(endpoints.mqttUrl, {
        ...mqttAuth('citelum'),
        protocolVersion: 5,
        clientId: uniqueName('console-a'),
      }),
      'bouygues-es': await mqtt.connectAsync(endpoints.mqttUrl, {
        ...mqttAuth('bouygues-es'),
        protocolVersion: 5,
        clientId: uniqueName('console-b'),
      }),
    };
    cleanup.add(() => Promise.all(Object.values(clients).map((c) => c.endAsync())));
    let seq = 0;
    const publishAll = async () => {
      seq++;
      const observedAt = new Date().toISOString();
      const cabinet = {
        seq,
        observedAt,
        circuitsOn: 2,
        powerW: 800,
        energyWh: 0.2,
        intervalS: 1,
        doorOpen: false,
        faults: [],
      };
      const signal = {
        seq,
        observedAt,
        mode: 'normal',
        plan: 1,
        lampFailures: 0,
        doorOpen: false,
        commsOk: true,
        intervalS: 1,
        faults: [],
      };
      const sends: Promise<unknown>[] = [];
      for (const id of [A1, A2])
        if (!silenced.has(id))
          sends.push(
            clients.citelum.publishAsync(
              `${plan.mqttPrefix}${telemetryTopic('lighting-cabinet', 'citelum', id)}`,
              JSON.stringify(cabinet),
              { qos: 1 },
            ),
          );
      sends.push(
        clients['bouygues-es'].publishAsync(
          `${plan.mqttPrefix}${telemetryTopic('signal-controller', 'bouygues-es', B1)}`,
          JSON.stringify(signal),
          { qos: 1 },
        ),
      );
      await Promise.allSettled(sends);
    };
    reporter = setInterval(() => void publishAll(), 1000);
    cleanup.add(() => clearInterval(reporter));
    // A malformed message of bouygues-es: citelum must never see it.
    await clients['bouygues-es'].publishAsync(
      `${plan.mqttPrefix}${telemetryTopic('signal-controller', 'bouygues-es', B1)}`,
      '{"seq": 1, "mode": fla',
      { qos: 1 },
    );
    publishUnknown = () =>
      clients.citelum.publishAsync(
        `${plan.mqttPrefix}${telemetryTopic('lighting-cabinet', 'citelum', UNKNOWN)}`,
        JSON.stringify({
          seq: 1,
          observedAt: new Date().toISOString(),
          circuitsOn: 1,
          powerW: 100,
          energyWh: 1,
          intervalS: 60,
          doorOpen: false,
          faults: [],
        }),
        { qos: 1 },
      );
    (globalThis as { publishMalformedA?: () => Promise<unknown> }).publishMalformedA = () =>
      clients.citelum.publishAsync(
        `${plan.mqttPrefix}${telemetryTopic('lighting-cabinet', 'citelum', A1)}`,
        '{"seq": 7, "observedAt": "2026-',
        { qos: 1 },
      );

    const userDataDir = mkdtempSync(path.join(tmpdir(), 'ondijon-chromium-'));
    cleanup.add(() => rmSync(userDataDir, { recursive: true, force: true }));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      bypassCSP: true, // only so axe-core can be injected; the pages themselves run under the CSP
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    cleanup.add(() => context.close());
    mkdirSync(REPORTS, { recursive: true });
    // Every equipment has reported once before the tests look.
    await waitFor(
      async () =>
        (await fetch(`${consoleUrl}/metrics`).then((r) => r.text())).match(
          /records_read\{what="telemetry"\} ([1-9]\d*)/,
        ),
      { timeoutMs: 30_000, message: 'console reads telemetry' },
    );
  });

  it('says how far behind ingest its live view is', async () => {
    const metrics = await fetch(`${consoleUrl}/metrics`).then((r) => r.text());
    const age = Number(/^ondijon_console_telemetry_age_seconds (\S+)$/m.exec(metrics)?.[1]);
    // The equipment report every second: the newest record read is seconds old, not minutes.
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
  });

  afterAll(() => cleanup.run());

  it("operator A sees only A's equipment and rejections; B's pages and API answer 403", async () => {
    const page = await context.newPage();
    await signIn(page, 'citelum');
    await page.goto(`${consoleUrl}/equipment`);
    const operators = await waitFor(
      async () => {
        const cells = await page.locator('#equipment tbody tr td:nth-child(3)').allTextContents();
        return cells.length > 0 ? cells : undefined;
      },
      { timeoutMs: 20_000, message: 'equipment table filled' },
    );
    expect(new Set(operators)).toEqual(new Set(['citelum']));
    expect(await page.locator(`#equipment tbody tr[data-id="${B1}"]`).count()).toBe(0);
    expect((await page.goto(`${consoleUrl}/equipment?operator=bouygues-es`))!.status()).toBe(403);
    expect((await page.goto(`${consoleUrl}/rejections?operator=bouygues-es`))!.status()).toBe(403);
    for (const api of [
      '/api/equipment?operator=bouygues-es',
      '/api/rejections?operator=bouygues-es',
      `/api/equipment/${B1}`,
    ])
      expect((await page.request.get(`${consoleUrl}${api}`)).status(), api).toBe(403);
    const own = (await (await page.request.get(`${consoleUrl}/api/equipment`)).json()) as {
      equipment: { operator: string }[];
    };
    expect(own.equipment.length).toBeGreaterThan(0);
    expect(own.equipment.every((e) => e.operator === 'citelum')).toBe(true);
    // B's malformed message is a rejection of B's only.
    const rejections = (await (await page.request.get(`${consoleUrl}/api/rejections`)).json()) as {
      rejections: { operator: string }[];
    };
    expect(rejections.rejections.every((r) => r.operator === 'citelum')).toBe(true);
    await page.close();
  });

  it('shows a malformed message and a silent equipment within 10 s, and clears the silent alert by itself', async () => {
    const page = await context.newPage();
    await signIn(page, 'citelum');
    await page.goto(`${consoleUrl}/equipment`);
    await waitFor(() => page.locator(`#equipment tbody tr[data-id="${A2}"]`).count(), { timeoutMs: 20_000 });
    silenced.add(A2);
    await waitFor(() => page.locator(`#alerts li[data-alert="${A2}:silent"]`).count(), {
      timeoutMs: 10_000,
      intervalMs: 200,
      message: `silent alert of ${A2} on the equipment page`,
    });
    await page.screenshot({ path: path.join(REPORTS, 'equipment-operator.png'), fullPage: true });
    silenced.delete(A2);
    await waitFor(async () => (await page.locator(`#alerts li[data-alert="${A2}:silent"]`).count()) === 0, {
      timeoutMs: 15_000,
      intervalMs: 200,
      message: `silent alert of ${A2} cleared`,
    });

    await page.goto(`${consoleUrl}/rejections`);
    await (globalThis as { publishMalformedA?: () => Promise<unknown> }).publishMalformedA!();
    const row = page.locator('#rejections tbody tr[data-code="ONDIJON_PAYLOAD_NOT_JSON"]');
    await waitFor(() => row.count(), {
      timeoutMs: 10_000,
      intervalMs: 200,
      message: 'malformed message on the rejections page',
    });
    const text = await row.first().textContent();
    expect(text).toContain(A1);
    // A cabinet is an S1 source: its payload is shown.
    expect(await row.first().locator('td[data-payload="shown"] pre').textContent()).toContain('"seq": 7');
    await page.screenshot({ path: path.join(REPORTS, 'rejections-operator.png'), fullPage: true });
    await page.close();
  });

  it('replays a rejection after the registry was fixed: confirmed, counted, and the record is in Kafka', async () => {
    const page = await context.newPage();
    await signIn(page, 'citelum');
    await page.goto(`${consoleUrl}/rejections`);
    await publishUnknown();
    const row = page.locator('#rejections tbody tr[data-code="ONDIJON_EQUIPMENT_UNKNOWN"]');
    await waitFor(() => row.count(), {
      timeoutMs: 10_000,
      intervalMs: 200,
      message: 'unknown equipment rejected',
    });
    let confirmed = '';
    page.once('dialog', (d) => {
      confirmed = d.message();
      void d.accept();
    });
    await row.first().locator('button[data-replay]').click();
    await waitFor(
      async () => /acceptés : 1/.test((await page.locator('#replay-result').textContent()) ?? ''),
      // The replay tool is a child process that reads the dead-letter topic: minutes on a loaded machine.
      { timeoutMs: 180_000, message: 'replay result shown' },
    );
    expect(confirmed).toContain('1');
    await page.screenshot({ path: path.join(REPORTS, 'rejections-replayed.png'), fullPage: true });
    const records = await readAll(
      testKafka(uniqueName('console-read')),
      `${plan.topicPrefix}tel.s1.lighting.v1`,
      {
        timeoutMs: 30_000,
      },
    );
    expect(
      records.some((r) => (JSON.parse(r.value ?? '{}') as { subject?: string }).subject === UNKNOWN),
    ).toBe(true);
    await page.close();
  }, 400_000);

  it('replays a stream dead letter: its record goes back to its topic, counted, with an audit line', async () => {
    // A processor's dead letter of one of citelum's records (written as the admin, as a processor would).
    const id = uniqueName('stream-letter');
    const envelope = {
      specversion: '1.0',
      id: uniqueName('evt'),
      type: 'fr.ondijon.telemetry.lighting-cabinet.v1',
      source: 'test',
      subject: A1,
      operator: 'citelum',
      time: new Date().toISOString(),
      data: { seq: 1 },
    };
    const payload = Buffer.from(JSON.stringify(envelope));
    const producer = testKafka(uniqueName('console-dlq')).producer();
    await producer.connect();
    await producer.send({
      topic: `${plan.topicPrefix}dlq.s3.stream.v1`,
      messages: [
        {
          key: 'tel.s1.lighting.v1',
          value: JSON.stringify({
            id,
            code: 'ONDIJON_SCHEMA_INVALID',
            reason: 'data.observedAt: required',
            issues: [{ path: 'data.observedAt', message: 'required', code: 'invalid_type' }],
            origin: 'kafka',
            kafkaTopic: 'tel.s1.lighting.v1',
            kafkaPartition: 0,
            kafkaOffset: '0',
            expectedSchema: 'tel.s1.lighting.v1',
            payloadBase64: payload.toString('base64'),
            payloadBytes: payload.length,
            payloadSha256: '0'.repeat(64),
            sensitivity: 'S1',
            receivedAt: new Date().toISOString(),
            rejectedBy: 'processors/lighting',
            replays: 0,
          }),
        },
      ],
    });
    await producer.disconnect();
    const page = await context.newPage();
    await signIn(page, 'citelum');
    await page.goto(`${consoleUrl}/rejections`);
    const row = page.locator(`#rejections tbody tr[data-id="${id}"][data-source="stream"]`);
    await waitFor(() => row.count(), { timeoutMs: 20_000, intervalMs: 200, message: 'stream letter shown' });
    let confirmed = '';
    page.once('dialog', (d) => {
      confirmed = d.message();
      void d.accept();
    });
    await row.locator('button[data-replay]').click();
    await waitFor(
      async () => /acceptés : 1/.test((await page.locator('#replay-result').textContent()) ?? ''),
      { timeoutMs: 180_000, message: 'stream replay result shown' },
    );
    expect(confirmed).toContain('1');
    await page.screenshot({ path: path.join(REPORTS, 'rejections-stream-replayed.png'), fullPage: true });
    const records = await readAll(
      testKafka(uniqueName('console-read')),
      `${plan.topicPrefix}tel.s1.lighting.v1`,
      {
        timeoutMs: 30_000,
      },
    );
    const replayed = records.find((r) => r.headers?.['ondijon-replay-of'] === id);
    expect(replayed, 'the replayed record on tel.s1.lighting.v1').toBeDefined();
    expect(JSON.parse(replayed!.value ?? '{}')).toEqual(envelope);
    expect(replayed!.key).toBe(A1);
    // The audit line of the replay, with what it accepted.
    await waitFor(
      () =>
        /"audit":"replay".*"stream":1.*"accepted":1/.test(
          readFileSync(path.join(REPORTS, 'console.log'), 'utf8'),
        ),
      { timeoutMs: 10_000, message: 'audit line of the stream replay' },
    );
    await page.close();
  }, 400_000);

  it('the supervisor sees every operator; axe-core finds no serious or critical violation on any page', async () => {
    const page = await context.newPage();
    await page.goto(`${consoleUrl}/login`);
    expect(await axeScan(page), 'login').toEqual([]);
    await page.screenshot({ path: path.join(REPORTS, 'login.png') });
    await signIn(page, 'superviseur');
    for (const [name, url] of [
      ['overview', '/'],
      ['equipment', '/equipment'],
      ['rejections', '/rejections'],
      ['overview-en', '/?lang=en'],
      ['governance', '/governance'],
      ['pipeline', '/pipeline'],
    ] as const) {
      await page.goto(`${consoleUrl}${url}`);
      if (name === 'equipment')
        await waitFor(async () => (await page.locator(`#equipment tbody tr[data-id="${B1}"]`).count()) > 0, {
          timeoutMs: 20_000,
        });
      if (name.startsWith('overview')) {
        await waitFor(() => page.locator('#chart-family canvas').count(), { timeoutMs: 20_000 });
        // Ingest's latency, read from its metrics, links to its detail.
        await waitFor(async () => /\d/.test((await page.locator('#lat-p50').textContent()) ?? ''), {
          timeoutMs: 20_000,
          message: 'ingest latency on the overview',
        });
        expect(await page.locator('#latency a[href="/pipeline#latency"]').count()).toBe(1);
      }
      if (name === 'rejections')
        await waitFor(async () => (await page.locator('#rejections tbody tr').count()) >= 2, {
          timeoutMs: 20_000,
        });
      expect(await axeScan(page), name).toEqual([]);
      await page.screenshot({ path: path.join(REPORTS, `${name}-supervisor.png`), fullPage: true });
    }
    const all = (await (await page.request.get(`${consoleUrl}/api/rejections`)).json()) as {
      rejections: { operator: string }[];
    };
    expect(new Set(all.rejections.map((r) => r.operator))).toEqual(new Set(['citelum', 'bouygues-es']));
    await page.close();
  }, 400_000);
});
