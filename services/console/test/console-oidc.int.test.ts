// Single sign-on (docs/console.md, "Single sign-on"): the console against an independent OpenID Connect
// provider, `oidc-provider` (panva's certified implementation) run here as the city's IdP on `localhost`
// (another site than the console on 127.0.0.1, so the SameSite rules are those of production). The whole
// flow runs in Debian's chromium: the console's sign-in page → the provider's login and consent → the
// callback (authorization code + PKCE, state and nonce) → the console. Checked: the group → role mapping
// (an operator, a supervisor, someone without a console group refused), an operator from the provider
// sees only its own equipment and gets 403 for another's, logout ends the session at the console and at
// the provider, a callback without the pending login is refused, and local logins still work.
import { existsSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import Provider from 'oidc-provider';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@ondijon/devstack';
import { type ConsoleApp, buildApp } from '../src/app';
import { loadConsoleConfig } from '../src/config';
import { equipment, testSetup } from './fixture';

const CHROMIUM = '/usr/bin/chromium';
const CLIENT_ID = 'ondijon-console';
const CLIENT_SECRET = 'client-secret-of-the-test-provider-0123456789';
/** The provider's accounts: login → groups. */
const GROUPS: Record<string, string[]> = {
  anne: ['staff', 'citelum-exploitation'],
  paul: ['dm-supervision'],
  zoe: ['staff'],
};

let idp: Server;
let app: ConsoleApp;
let browser: Browser;
let consoleUrl = '';
let idpUrl = '';
let dir = '';

/**
 * Signs in through the provider from the console's sign-in page; resolves once back on a console page
 * (after the callback's same-site continuation, or on the callback itself when `stayOnCallback`).
 */
async function ssoSignIn(page: Page, login: string, stayOnCallback = false): Promise<void> {
  await page.goto(`${consoleUrl}/login`);
  await page.click('#sso');
  await page.waitForURL((u) => u.origin === idpUrl);
  // The provider may remember the user (its own session) and skip its login form.
  if (await page.locator('input[name=login]').count()) {
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
  }
  if (await page.locator('input[name=prompt][value=consent]').count())
    await page.click('button[type=submit]');
  await page.waitForURL(
    (u) => u.origin === consoleUrl && (u.pathname === '/auth/oidc/callback') === stayOnCallback,
  );
}

async function getJson(page: Page, url: string): Promise<{ status: number; body: unknown }> {
  const res = await page.request.get(`${consoleUrl}${url}`);
  return { status: res.status(), body: await res.json().catch(() => null) };
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
  const idpPort = await freePort();
  const consolePort = await freePort();
  idpUrl = `http://localhost:${idpPort}`;
  consoleUrl = `http://127.0.0.1:${consolePort}`;
  const provider = new Provider(idpUrl, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${consoleUrl}/auth/oidc/callback`],
        post_logout_redirect_uris: [`${consoleUrl}/login`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: `sub-${id}`, preferred_username: id, groups: GROUPS[id] ?? [] }),
    }),
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ['cookie-key-of-the-test-provider-0123456789'] },
  });
  idp = provider.listen(idpPort);

  const setup = testSetup([
    equipment('LC-1', 'lighting-cabinet', 'citelum'),
    equipment('LC-2', 'lighting-cabinet', 'citelum'),
    equipment('SC-1', 'signal-controller', 'bouygues-es'),
  ]);
  dir = setup.dir;
  const config = loadConsoleConfig({
    CONSOLE_USERS_FILE: setup.config.CONSOLE_USERS_FILE,
    REGISTRY_FILE: setup.config.REGISTRY_FILE,
    CONSOLE_SESSION_SECRET: 'x'.repeat(40),
    PORT: String(consolePort),
    LOG_LEVEL: 'silent',
    CONSOLE_OIDC_ISSUER: idpUrl,
    CONSOLE_OIDC_CLIENT_ID: CLIENT_ID,
    CONSOLE_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    CONSOLE_OIDC_REDIRECT_URI: `${consoleUrl}/auth/oidc/callback`,
    CONSOLE_OIDC_POST_LOGOUT_REDIRECT_URI: `${consoleUrl}/login`,
    CONSOLE_OIDC_ROLE_MAP: 'dm-supervision=supervisor, citelum-exploitation=operator:citelum',
  });
  app = await buildApp(config, { kafka: null });
  await app.start();
  browser = await chromium.launch({
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
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await new Promise<void>((r) => (idp ? idp.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('single sign-on (OIDC against oidc-provider, in chromium)', () => {
  it('refuses an incomplete configuration, naming every missing variable', () => {
    expect(() =>
      loadConsoleConfig({
        CONSOLE_USERS_FILE: 'u.json',
        CONSOLE_SESSION_SECRET: 'x'.repeat(40),
        CONSOLE_OIDC_ISSUER: idpUrl,
      }),
    ).toThrow(/CONSOLE_OIDC_CLIENT_ID[\s\S]*CONSOLE_OIDC_REDIRECT_URI[\s\S]*CONSOLE_OIDC_ROLE_MAP/);
    expect(() =>
      loadConsoleConfig({
        CONSOLE_USERS_FILE: 'u.json',
        CONSOLE_SESSION_SECRET: 'x'.repeat(40),
        CONSOLE_OIDC_ROLE_MAP: 'a=operator,b=admin',
      }),
    ).toThrow(/"a=operator": an operator[\s\S]*"b=admin": expected/);
  });

  it('signs an operator in through the provider; it sees only its own equipment; logout ends both sessions', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await ssoSignIn(page, 'anne');
      expect(new URL(page.url()).pathname).toBe('/');
      expect(await page.locator('.user').textContent()).toContain('anne');
      const own = await getJson(page, '/api/equipment');
      expect(own.status).toBe(200);
      const ids = (own.body as { equipment: { id: string }[] }).equipment.map((e) => e.id).sort();
      expect(ids).toEqual(['LC-1', 'LC-2']);
      expect((await getJson(page, '/api/equipment?operator=bouygues-es')).status).toBe(403);
      expect((await getJson(page, '/api/pipeline')).status).toBe(403);

      // Logout: the console's session ends, then the provider asks to confirm its own logout and sends
      // the browser back to the console's sign-in page.
      await page.click('.user form button[type=submit]');
      await page.waitForURL((u) => u.origin === idpUrl);
      await page.click('button[name=logout]');
      await page.waitForURL(`${consoleUrl}/login`);
      expect((await getJson(page, '/api/equipment')).status).toBe(401);
      // The provider forgot the user too: signing in again asks for a login.
      await page.click('#sso');
      await page.waitForURL((u) => u.origin === idpUrl);
      expect(await page.locator('input[name=login]').count()).toBe(1);
    } finally {
      await context.close();
    }
  }, 180_000);

  it('maps the supervision group to the supervisor, and refuses a user without a console group', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await ssoSignIn(page, 'paul');
      expect((await getJson(page, '/api/equipment?operator=bouygues-es')).status).toBe(200);
      expect((await getJson(page, '/api/pipeline')).status).toBe(200);
    } finally {
      await context.close();
    }
    const other = await browser.newContext();
    try {
      const page = await other.newPage();
      // Refused at the callback: no session, the sign-in page says why.
      await ssoSignIn(page, 'zoe', true);
      await page.waitForLoadState();
      expect(await page.locator('[role=alert]').textContent()).toMatch(/no role|aucun rôle/);
      expect((await getJson(page, '/api/equipment')).status).toBe(401);
    } finally {
      await other.close();
    }
  }, 180_000);

  it('refuses a callback without its pending login, and keeps local logins', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const res = await page.goto(`${consoleUrl}/auth/oidc/callback?code=forged&state=forged`);
      expect(res?.status()).toBe(400);
      expect((await getJson(page, '/api/equipment')).status).toBe(401);
      await page.goto(`${consoleUrl}/login`);
      await page.fill('#login', 'bouygues-es');
      await page.fill('#password', 'bouygues-es-pw');
      await Promise.all([
        page.waitForURL((u) => !u.pathname.startsWith('/login')),
        page.click('main button[type=submit]'),
      ]);
      const own = await getJson(page, '/api/equipment');
      expect((own.body as { equipment: { id: string }[] }).equipment.map((e) => e.id)).toEqual(['SC-1']);
    } finally {
      await context.close();
    }
  }, 120_000);
});
