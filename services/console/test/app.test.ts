import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '@ondijon/governance';
import { type ConsoleApp, buildApp } from '../src/app';
import { parseReplayOutput } from '../src/replay';
import { ConsoleState } from '../src/state';
import { deadLetter, equipment, testSetup } from './fixture';

const registry = [
  equipment('LC-1', 'lighting-cabinet', 'citelum'),
  equipment('SC-1', 'signal-controller', 'bouygues-es'),
];
let app: ConsoleApp;

/** Signs in through the form (GET for the CSRF token and cookie, then POST); returns the cookie header. */
async function signIn(login: string, password = `${login}-pw`): Promise<{ status: number; cookie: string }> {
  const form = await app.fastify.inject({ method: 'GET', url: '/login' });
  const token = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
  const csrfCookie = form.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const res = await app.fastify.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ login, password, _csrf: token }).toString(),
  });
  const session = res.cookies.find((c) => c.name === 'ondijon_session');
  return {
    status: res.statusCode,
    cookie: [csrfCookie, session ? `${session.name}=${session.value}` : ''].join('; '),
  };
}

beforeAll(async () => {
  const { config } = testSetup(registry);
  const state = new ConsoleState(registry, { policy: loadPolicy() });
  state.onDeadLetter(deadLetter({ id: 'a' }), 'ingest');
  state.onDeadLetter(
    deadLetter({ id: 'b', mqttTopic: 'ondijon/v1/signal-controller/bouygues-es/SC-1' }),
    'ingest',
  );
  app = await buildApp(config, { state, kafka: null });
});
afterAll(() => app.close());

describe('console login and roles', () => {
  it('sets a signed HttpOnly SameSite cookie on a good password and refuses a bad one', async () => {
    const form = await app.fastify.inject({ method: 'GET', url: '/login' });
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const cookie = form.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const good = await app.fastify.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `login=citelum&password=citelum-pw&_csrf=${encodeURIComponent(token)}`,
    });
    expect(good.statusCode).toBe(303);
    const session = good.cookies.find((c) => c.name === 'ondijon_session')!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Strict');
    expect(session.value).toMatch(/\.[A-Za-z0-9+/_-]+/); // value.signature
    expect((await signIn('citelum', 'wrong')).status).toBe(401);
    expect((await signIn('nobody', 'x')).status).toBe(401);
  });

  it('refuses a login post without the CSRF token', async () => {
    const res = await app.fastify.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'login=citelum&password=citelum-pw',
    });
    expect(res.statusCode).toBe(403);
  });

  it('refuses a tampered session cookie', async () => {
    const { cookie } = await signIn('citelum');
    const forged = cookie.replace(/ondijon_session=([^.;]+)/, (_m, v: string) => {
      const s = JSON.parse(Buffer.from(v, 'base64url').toString()) as Record<string, unknown>;
      return `ondijon_session=${Buffer.from(JSON.stringify({ ...s, role: 'supervisor' })).toString('base64url')}`;
    });
    expect((await app.fastify.inject({ url: '/api/me', headers: { cookie: forged } })).statusCode).toBe(401);
    expect((await app.fastify.inject({ url: '/api/me', headers: { cookie } })).json()).toMatchObject({
      login: 'citelum',
    });
  });

  it("gives an operator its own equipment and rejections, and 403 on another operator's pages and API", async () => {
    const { cookie } = await signIn('citelum');
    const own = await app.fastify.inject({ url: '/api/equipment', headers: { cookie } });
    expect(own.json().equipment.map((r: { id: string }) => r.id)).toEqual(['LC-1']);
    const rej = await app.fastify.inject({ url: '/api/rejections', headers: { cookie } });
    expect(rej.json().rejections.map((r: { id: string }) => r.id)).toEqual(['a']);
    expect(rej.json().rejections[0]).not.toHaveProperty('raw');
    for (const url of [
      '/api/equipment?operator=bouygues-es',
      '/api/rejections?operator=bouygues-es',
      '/api/overview?operator=bouygues-es',
      '/api/events?operator=bouygues-es',
      '/api/equipment/SC-1',
      '/equipment?operator=bouygues-es',
      '/rejections?operator=bouygues-es',
      '/?operator=bouygues-es',
    ])
      expect((await app.fastify.inject({ url, headers: { cookie } })).statusCode, url).toBe(403);
    expect((await app.fastify.inject({ url: '/equipment', headers: { cookie } })).statusCode).toBe(200);
  });

  it('gives the supervisor everything, and sends anonymous visitors to the sign-in page', async () => {
    const { cookie } = await signIn('superviseur');
    const all = await app.fastify.inject({ url: '/api/equipment', headers: { cookie } });
    expect(all.json().equipment).toHaveLength(2);
    const one = await app.fastify.inject({ url: '/api/equipment?operator=bouygues-es', headers: { cookie } });
    expect(one.json().equipment.map((r: { id: string }) => r.id)).toEqual(['SC-1']);
    expect((await app.fastify.inject({ url: '/equipment' })).statusCode).toBe(303);
    expect((await app.fastify.inject({ url: '/api/equipment' })).statusCode).toBe(401);
  });

  it('lets only the governance officer reveal a payload, with the CSRF token', async () => {
    for (const login of ['superviseur', 'gouvernance']) {
      const { cookie } = await signIn(login);
      const page = await app.fastify.inject({ url: '/rejections', headers: { cookie } });
      const token = /name="csrf-token" content="([^"]+)"/.exec(page.body)![1]!;
      const csrfCookie = page.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      const headers = { cookie: `${cookie}; ${csrfCookie}`, 'x-csrf-token': token };
      const res = await app.fastify.inject({ method: 'POST', url: '/api/rejections/a/reveal', headers });
      expect(res.statusCode, login).toBe(login === 'gouvernance' ? 200 : 403);
      const noToken = await app.fastify.inject({
        method: 'POST',
        url: '/api/rejections/a/reveal',
        headers: { cookie: headers.cookie },
      });
      expect(noToken.statusCode).toBe(403);
    }
  });

  it('serves French by default and English on request', async () => {
    const { cookie } = await signIn('superviseur');
    expect((await app.fastify.inject({ url: '/equipment', headers: { cookie } })).body).toContain(
      '<html lang="fr">',
    );
    const en = await app.fastify.inject({ url: '/equipment?lang=en', headers: { cookie } });
    expect(en.body).toContain('<html lang="en">');
    expect(en.body).toContain('Equipment');
  });
});

describe('console replay endpoint', () => {
  async function post(login: string, body: unknown) {
    const { cookie } = await signIn(login);
    const page = await app.fastify.inject({ url: '/rejections', headers: { cookie } });
    const token = /name="csrf-token" content="([^"]+)"/.exec(page.body)![1]!;
    const csrfCookie = page.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    return app.fastify.inject({
      method: 'POST',
      url: '/api/rejections/replay',
      headers: {
        cookie: `${cookie}; ${csrfCookie}`,
        'x-csrf-token': token,
        'content-type': 'application/json',
      },
      payload: JSON.stringify(body),
    });
  }

  it('answers 404 while replay is not enabled (CONSOLE_REPLAY)', async () => {
    expect((await post('superviseur', { ids: ['a'] })).statusCode).toBe(404);
  });
});

describe('replay tool output', () => {
  it('is parsed into outcomes', () => {
    expect(
      parseReplayOutput(
        'id-1  accepted  → tel.s1.lighting.v1\nid-2  rejected-again  ONDIJON_SCHEMA_INVALID\nnoise\nid-3  not-replayable\n',
      ),
    ).toEqual([
      { id: 'id-1', outcome: 'accepted', topic: 'tel.s1.lighting.v1' },
      { id: 'id-2', outcome: 'rejected-again', code: 'ONDIJON_SCHEMA_INVALID' },
      { id: 'id-3', outcome: 'not-replayable' },
    ]);
  });
});

describe('console replay permissions (replay enabled)', () => {
  let replayApp: ConsoleApp;
  beforeAll(async () => {
    const { config } = testSetup(registry);
    const state = new ConsoleState(registry, { policy: loadPolicy() });
    state.onDeadLetter(
      deadLetter({ id: 'b', mqttTopic: 'ondijon/v1/signal-controller/bouygues-es/SC-1' }),
      'ingest',
    );
    replayApp = await buildApp({ ...config, CONSOLE_REPLAY: true }, { state, kafka: null });
  });
  afterAll(() => replayApp.close());

  it("refuses an operator replaying another operator's letter, and the governance officer", async () => {
    const previous = app;
    app = replayApp;
    try {
      for (const [login, status] of [
        ['citelum', 403],
        ['gouvernance', 403],
      ] as const) {
        const form = await app.fastify.inject({ method: 'GET', url: '/login' });
        expect(form.statusCode).toBe(200);
        const { cookie } = await signIn(login);
        const page = await app.fastify.inject({ url: '/rejections', headers: { cookie } });
        const token = /name="csrf-token" content="([^"]+)"/.exec(page.body)![1]!;
        const csrfCookie = page.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
        const res = await app.fastify.inject({
          method: 'POST',
          url: '/api/rejections/replay',
          headers: {
            cookie: `${cookie}; ${csrfCookie}`,
            'x-csrf-token': token,
            'content-type': 'application/json',
          },
          payload: JSON.stringify({ ids: ['b'] }),
        });
        expect(res.statusCode, login).toBe(status);
      }
    } finally {
      app = previous;
    }
  });
});

describe('console governance page', () => {
  it('shows the policy revision to the supervisor and answers 403 to an operator', async () => {
    const sup = await signIn('superviseur');
    const page = await app.fastify.inject({ url: '/governance', headers: { cookie: sup.cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(loadPolicy().revision);
    const op = await signIn('citelum');
    expect(
      (await app.fastify.inject({ url: '/governance', headers: { cookie: op.cookie } })).statusCode,
    ).toBe(403);
    expect(
      (await app.fastify.inject({ url: '/api/governance', headers: { cookie: op.cookie } })).statusCode,
    ).toBe(403);
  });
});

describe('console pipeline view', () => {
  it('is for the supervisor (overview section, /pipeline, /api/pipeline) and answers 403 to an operator', async () => {
    const sup = await signIn('superviseur');
    const overview = await app.fastify.inject({ url: '/', headers: { cookie: sup.cookie } });
    expect(overview.body).toContain('href="/pipeline#latency"');
    expect(overview.body).toContain('id="lag"');
    expect(overview.body).toContain('id="releases"');
    const api = await app.fastify.inject({ url: '/api/pipeline', headers: { cookie: sup.cookie } });
    expect(api.statusCode).toBe(200);
    // Whatever answers on the metrics ports (a source that does not is named, not an error).
    expect(Object.keys(api.json<Record<string, unknown>>()).sort()).toEqual([
      'at',
      'lag',
      'latency',
      'releases',
      'unavailable',
    ]);
    const detail = await app.fastify.inject({ url: '/pipeline?lang=en', headers: { cookie: sup.cookie } });
    expect(detail.statusCode).toBe(200);
    expect(detail.body).toContain('Ingest → Kafka latency');
    const op = await signIn('citelum');
    expect((await app.fastify.inject({ url: '/', headers: { cookie: op.cookie } })).body).not.toContain(
      'id="pipeline"',
    );
    expect((await app.fastify.inject({ url: '/pipeline', headers: { cookie: op.cookie } })).statusCode).toBe(
      403,
    );
    expect(
      (await app.fastify.inject({ url: '/api/pipeline', headers: { cookie: op.cookie } })).statusCode,
    ).toBe(403);
  });
});
