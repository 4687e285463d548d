// Login rate limiting: per account (failed attempts) and per source address (every attempt), in bounded
// memory; through the sign-in form, a limited login answers 429 with Retry-After even with the right
// password, and other accounts still sign in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '@ondijon/governance';
import { type ConsoleApp, buildApp } from '../src/app';
import { LoginLimiter } from '../src/login-limit';
import { ConsoleState } from '../src/state';
import { equipment, testSetup } from './fixture';

describe('LoginLimiter', () => {
  const limits = { perAddress: 10, perAccount: 3, windowMs: 60_000, maxEntries: 100 };

  it('stops an account after its failed attempts, from any address, until the window ends', () => {
    let now = 0;
    const l = new LoginLimiter(limits, () => now);
    for (let i = 0; i < 3; i++) {
      expect(l.check(`10.0.0.${i}`, 'citelum')).toBeNull();
      l.failed('citelum');
    }
    expect(l.check('10.0.0.9', 'citelum')).toEqual({ retryAfterS: 60, limit: 'account' });
    expect(l.check('10.0.0.9', 'CITELUM')?.limit).toBe('account');
    expect(l.check('10.0.0.9', 'superviseur')).toBeNull();
    now = 30_000;
    expect(l.check('10.0.0.8', 'citelum')?.retryAfterS).toBe(30);
    now = 60_000;
    expect(l.check('10.0.0.8', 'citelum')).toBeNull();
  });

  it('stops an address after its attempts, whatever the accounts', () => {
    const l = new LoginLimiter(limits, () => 0);
    for (let i = 0; i < 10; i++) expect(l.check('10.0.0.1', `user${i}`)).toBeNull();
    expect(l.check('10.0.0.1', 'user-next')).toEqual({ retryAfterS: 60, limit: 'address' });
    expect(l.check('10.0.0.2', 'user-next')).toBeNull();
  });

  it('keeps at most maxEntries addresses and accounts', () => {
    const l = new LoginLimiter(limits, () => 0);
    for (let i = 0; i < 5000; i++) {
      l.check(`10.${i >> 8}.${i & 255}.1`, `guess-${i}`);
      l.failed(`guess-${i}`);
    }
    expect(l.size).toEqual({ addresses: 100, accounts: 100 });
  });
});

describe('the sign-in form', () => {
  let app: ConsoleApp;
  const registry = [equipment('LC-1', 'lighting-cabinet', 'citelum')];

  beforeAll(async () => {
    const { config } = testSetup(registry);
    app = await buildApp(
      { ...config, CONSOLE_LOGIN_MAX_FAILURES_PER_ACCOUNT: 3, CONSOLE_LOGIN_MAX_PER_ADDRESS: 8 },
      { state: new ConsoleState(registry, { policy: loadPolicy() }), kafka: null },
    );
  });
  afterAll(() => app?.close());

  async function attempt(login: string, password: string, ip = '127.0.0.1') {
    const form = await app.fastify.inject({ method: 'GET', url: '/login', remoteAddress: ip });
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
    return app.fastify.inject({
      method: 'POST',
      url: '/login',
      remoteAddress: ip,
      headers: {
        cookie: form.cookies.map((c) => `${c.name}=${c.value}`).join('; '),
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: new URLSearchParams({ login, password, _csrf: token }).toString(),
    });
  }

  it('answers 429 after the failures of an account, even to the right password, and not to another account', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt('citelum', 'wrong', '10.1.0.1')).statusCode).toBe(401);
    const limited = await attempt('citelum', 'citelum-pw', '10.1.0.2');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toContain('Trop de tentatives');
    expect((await attempt('superviseur', 'superviseur-pw', '10.1.0.2')).statusCode).toBe(303);
  });

  it('answers 429 to an address past its attempts, whatever the account', async () => {
    const ip = '10.2.0.1';
    for (let i = 0; i < 8; i++) expect((await attempt(`nobody${i}`, 'x', ip)).statusCode).toBe(401);
    expect((await attempt('gouvernance', 'gouvernance-pw', ip)).statusCode).toBe(429);
    expect((await attempt('gouvernance', 'gouvernance-pw', '10.2.0.2')).statusCode).toBe(303);
  });
});
