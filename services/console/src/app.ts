import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Kafka } from 'kafkajs';
import { COMMUNES, ERROR_CODES, EquipmentRegistryFile, FAMILIES } from '@ondijon/contracts';
import { deadLetterPrivateKey, loadPolicy } from '@ondijon/governance';
import { createKafka } from '@ondijon/kafka';
import {
  Counter,
  Gauge,
  Histogram,
  type Logger,
  type Registry,
  createMetricsRegistry,
  kafkaSecurityOf,
  metricName,
  silentLogger,
} from '@ondijon/service-kit';
import { type Config, secureCookies } from './config';
import { type Feed, startFeed } from './feed';
import type { Lang } from './i18n';
import {
  type PageContext,
  continuePage,
  equipmentPage,
  forbiddenPage,
  loginPage,
  overviewPage,
  pipelinePage,
  rejectionsPage,
} from './pages';
import { PipelineHealth } from './pipeline';
import { governancePage, governanceView, storeReader } from './governance';
import { LoginLimiter } from './login-limit';
import { OidcLogin, type PendingLogin } from './oidc';
import { type ReplayOutcome, replayLetters, replayStreamLetters } from './replay';
import { ConsoleState, type EquipmentRow, type Seen } from './state';
import { type SessionUser, Users, operatorScope } from './users';

const SERVICE = 'console';
const SESSION_COOKIE = 'ondijon_session';
const LANG_COOKIE = 'ondijon_lang';
const OIDC_COOKIE = 'ondijon_oidc';
const OIDC_PATH = '/auth/oidc';
const require = createRequire(import.meta.url);

/** Dependencies of the app (tests pass their own state and no Kafka). */
export interface AppDeps {
  logger?: Logger;
  /** The state to show; default: from the registry file and the policy file, fed from Kafka. */
  state?: ConsoleState;
  /** Kafka client; `null` = no feed (tests). */
  kafka?: Kafka | null;
}

/** The console: pages, JSON, SSE, probes. */
export interface ConsoleApp {
  fastify: FastifyInstance;
  state: ConsoleState;
  /** Listens; resolves to the base URL. */
  start(): Promise<string>;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    user?: SessionUser;
    lang: Lang;
  }
}

/** Builds the console; only `start()` listens and starts the Kafka feed. */
export async function buildApp(config: Readonly<Config>, deps: AppDeps = {}): Promise<ConsoleApp> {
  const log = deps.logger ?? silentLogger();
  const users = Users.load(config.CONSOLE_USERS_FILE);
  const registryFile = EquipmentRegistryFile.parse(JSON.parse(readFileSync(config.REGISTRY_FILE, 'utf8')));
  const policy = loadPolicy(config.POLICY_FILE);
  const state =
    deps.state ??
    new ConsoleState(registryFile.equipment, {
      policy,
      silentIntervals: config.CONSOLE_SILENT_INTERVALS,
      deadLettersKept: config.CONSOLE_DEAD_LETTERS_KEPT,
      ...(config.CONSOLE_REPLAY && config.REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY
        ? { deadLetterKey: deadLetterPrivateKey(config.REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY) }
        : {}),
    });
  const operators = [...new Set(registryFile.equipment.map((e) => e.operator))].sort();
  const communes: [string, string][] = COMMUNES.map((c) => [c.insee, c.name]);
  const secure = secureCookies(config);
  const registry = createMetricsRegistry(SERVICE);
  const sseClients = new Set<() => void>();
  registerMetrics(registry, state, sseClients);

  const app = Fastify({ logger: false, trustProxy: false });
  await app.register(fastifyCookie, { secret: config.CONSOLE_SESSION_SECRET });
  await app.register(fastifyFormbody);
  await app.register(fastifyCsrf, {
    cookieKey: 'ondijon_csrf',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/', secure },
  });
  await app.register(fastifyStatic, { root: path.join(import.meta.dirname, 'public'), prefix: '/static/' });
  await app.register(fastifyStatic, {
    root: path.dirname(require.resolve('leaflet/dist/leaflet.js')),
    prefix: '/vendor/leaflet/',
    decorateReply: false,
  });
  await app.register(fastifyStatic, {
    root: path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js')),
    prefix: '/vendor/uplot/',
    decorateReply: false,
  });

  const csrf = app.csrfProtection.bind(app);
  const loginLimiter = new LoginLimiter({
    perAddress: config.CONSOLE_LOGIN_MAX_PER_ADDRESS,
    perAccount: config.CONSOLE_LOGIN_MAX_FAILURES_PER_ACCOUNT,
    windowMs: config.CONSOLE_LOGIN_WINDOW_S * 1000,
    maxEntries: config.CONSOLE_LOGIN_LIMIT_ENTRIES,
  });
  const duration = new Histogram({
    name: metricName(SERVICE, 'http_request_duration_seconds'),
    help: 'HTTP request duration by route, method and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const tileOrigin = config.CONSOLE_TILE_URL ? safeOrigin(config.CONSOLE_TILE_URL) : '';
  const sso = oidcLogin(config);
  // The logout form is redirected to the provider's logout: CSP form-action covers that redirect.
  const ssoOrigin = config.CONSOLE_OIDC_ISSUER ? safeOrigin(config.CONSOLE_OIDC_ISSUER) : '';
  app.addHook('onRequest', async (req) => {
    const q = (req.query ?? {}) as Record<string, string | undefined>;
    const cookieLang = req.cookies[LANG_COOKIE];
    req.lang = q.lang === 'en' || q.lang === 'fr' ? q.lang : cookieLang === 'en' ? 'en' : 'fr';
    req.user = readSession(req);
  });
  app.addHook('onSend', async (req, reply) => {
    if (req.query && typeof (req.query as Record<string, unknown>).lang === 'string')
      reply.setCookie(LANG_COOKIE, req.lang, { path: '/', sameSite: 'strict', httpOnly: true, secure });
    reply.header(
      'content-security-policy',
      `default-src 'self'; img-src 'self' data: ${tileOrigin}; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'${ssoOrigin ? ` ${ssoOrigin}` : ''}; base-uri 'none'`,
    );
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
  });
  app.addHook('onResponse', async (req, reply) => {
    duration.observe(
      { route: req.routeOptions.url ?? 'unmatched', method: req.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  function readSession(req: FastifyRequest): SessionUser | undefined {
    const raw = req.cookies[SESSION_COOKIE];
    if (!raw) return undefined;
    const unsigned = req.unsignCookie(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    try {
      const s = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')) as SessionUser & {
        exp: number;
      };
      if (typeof s.exp !== 'number' || s.exp < Date.now()) return undefined;
      const user: SessionUser = {
        login: s.login,
        role: s.role,
        ...(s.operator ? { operator: s.operator } : {}),
        ...(s.via === 'oidc' ? { via: 'oidc' as const } : {}),
      };
      return users.stillValid(user) ? user : undefined;
    } catch {
      return undefined;
    }
  }

  const ctxOf = (req: FastifyRequest, reply: FastifyReply): PageContext => ({
    lang: req.lang,
    ...(req.user ? { user: req.user } : {}),
    csrf: reply.generateCsrf(),
    path: req.url,
  });
  const html = (reply: FastifyReply, body: string, code = 200) =>
    reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

  /** Pages: a signed-in user or a redirect to the sign-in page. */
  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.user) return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
  };
  /** API: a signed-in user or 401. */
  const api = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.user)
      return reply.code(401).send({ code: 'ONDIJON_UNAUTHORIZED', message: 'sign in first (POST /login)' });
  };
  /** The operator scope of a request, or a 403 answer (page or JSON). */
  const scope = (req: FastifyRequest, reply: FastifyReply, asPage: boolean) => {
    const requested = (req.query as { operator?: string }).operator;
    const s = operatorScope(req.user!, requested);
    if (s.ok) return s;
    log.warn({ login: req.user!.login, requested, url: req.routeOptions.url }, 'console access refused');
    if (asPage) void html(reply, forbiddenPage(ctxOf(req, reply)), 403);
    else
      void reply.code(403).send({
        code: 'ONDIJON_FORBIDDEN',
        message: `login ${req.user!.login} may not see operator ${requested}`,
      });
    return undefined;
  };

  const loginOptions = (req: FastifyRequest) => ({
    sso: sso !== undefined,
    next: safeNext((req.query as { next?: string }).next, ''),
  });
  /** Opens the session (signed cookie) of a user, local or from the single sign-on. */
  const openSession = (reply: FastifyReply, user: SessionUser) => {
    const exp = Date.now() + config.CONSOLE_SESSION_MINUTES * 60_000;
    reply.setCookie(SESSION_COOKIE, Buffer.from(JSON.stringify({ ...user, exp })).toString('base64url'), {
      signed: true,
      httpOnly: true,
      sameSite: 'strict',
      secure,
      path: '/',
      maxAge: config.CONSOLE_SESSION_MINUTES * 60,
    });
  };

  app.get('/login', async (req, reply) =>
    html(reply, loginPage(ctxOf(req, reply), false, loginOptions(req))),
  );
  app.post('/login', { preValidation: csrf }, async (req, reply) => {
    const body = (req.body ?? {}) as { login?: string; password?: string };
    const login = typeof body.login === 'string' ? body.login.slice(0, 64) : '';
    const limited = loginLimiter.check(req.ip, login);
    if (limited) {
      log.warn({ login, address: req.ip, limit: limited.limit }, 'console login rate-limited');
      return html(
        reply.header('retry-after', String(limited.retryAfterS)),
        loginPage(ctxOf(req, reply), 'limited', loginOptions(req)),
        429,
      );
    }
    const user =
      typeof body.login === 'string' && typeof body.password === 'string'
        ? await users.authenticate(body.login, body.password)
        : undefined;
    if (!user) {
      loginLimiter.failed(login);
      log.info(
        { login: typeof body.login === 'string' ? body.login.slice(0, 48) : null },
        'console login failed',
      );
      return html(reply, loginPage(ctxOf(req, reply), true, loginOptions(req)), 401);
    }
    openSession(reply, user);
    log.info({ login: user.login, role: user.role }, 'console login');
    return reply.redirect(safeNext((req.query as { next?: string }).next), 303);
  });
  app.post('/logout', { preValidation: csrf }, async (req, reply) => {
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    // A single sign-on session also ends at the provider (RP-initiated logout), when it offers it.
    if (req.user?.via === 'oidc' && sso) {
      const url = await sso.logoutUrl().catch((err: unknown) => {
        log.warn({ err }, 'console single sign-on logout URL unavailable');
        return undefined;
      });
      log.info({ login: req.user.login, via: 'oidc' }, 'console logout');
      if (url) return reply.redirect(url, 303);
    }
    return reply.redirect('/login', 303);
  });

  // Single sign-on (services/console/src/oidc.ts): a link to /auth/oidc/login, the provider, its callback.
  if (sso) {
    app.get(`${OIDC_PATH}/login`, async (req, reply) => {
      const next = safeNext((req.query as { next?: string }).next);
      let started: { url: string; pending: PendingLogin };
      try {
        started = await sso.start(next);
      } catch (err) {
        log.error({ err }, 'console single sign-on provider unreachable');
        return html(reply, loginPage(ctxOf(req, reply), 'sso-unavailable', loginOptions(req)), 503);
      }
      // Lax, not Strict: the provider sends the browser back with a cross-site navigation.
      reply.setCookie(OIDC_COOKIE, Buffer.from(JSON.stringify(started.pending)).toString('base64url'), {
        signed: true,
        httpOnly: true,
        sameSite: 'lax',
        secure,
        path: OIDC_PATH,
        maxAge: 600,
      });
      return reply.redirect(started.url, 303);
    });
    app.get(`${OIDC_PATH}/callback`, async (req, reply) => {
      const raw = req.cookies[OIDC_COOKIE];
      const unsigned = raw ? req.unsignCookie(raw) : undefined;
      reply.clearCookie(OIDC_COOKIE, { path: OIDC_PATH });
      let pending: PendingLogin | undefined;
      try {
        if (unsigned?.valid && unsigned.value !== null)
          pending = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')) as PendingLogin;
      } catch {
        pending = undefined;
      }
      if (!pending) {
        log.info({ address: req.ip }, 'console single sign-on callback without a pending login');
        return html(reply, loginPage(ctxOf(req, reply), 'sso-failed', loginOptions(req)), 400);
      }
      const q = req.url.indexOf('?');
      const outcome = await sso.callback(q < 0 ? '' : req.url.slice(q + 1), pending);
      if (!outcome.ok) {
        if (outcome.reason === 'no-role')
          log.warn({ login: outcome.login.slice(0, 64) }, 'console single sign-on refused: no role');
        else log.warn({ error: outcome.error }, 'console single sign-on failed');
        return html(
          reply,
          loginPage(
            ctxOf(req, reply),
            outcome.reason === 'no-role' ? 'sso-no-role' : 'sso-failed',
            loginOptions(req),
          ),
          outcome.reason === 'no-role' ? 403 : 401,
        );
      }
      openSession(reply, outcome.user);
      log.info({ login: outcome.user.login, role: outcome.user.role, via: 'oidc' }, 'console login');
      return html(reply, continuePage(ctxOf(req, reply), safeNext(pending.next)));
    });
  }

  app.get('/', { preHandler: page }, async (req, reply) => {
    const s = scope(req, reply, true);
    if (s)
      return html(
        reply,
        overviewPage(ctxOf(req, reply), {
          operator: s.operator,
          pipeline: req.user!.role !== 'operator',
        }),
      );
  });
  app.get('/equipment', { preHandler: page }, async (req, reply) => {
    const s = scope(req, reply, true);
    if (s)
      return html(
        reply,
        equipmentPage(ctxOf(req, reply), {
          operator: s.operator,
          operators,
          communes,
          families: [...FAMILIES],
          tileUrl: config.CONSOLE_TILE_URL,
          tileAttribution: config.CONSOLE_TILE_ATTRIBUTION,
        }),
      );
  });
  app.get('/rejections', { preHandler: page }, async (req, reply) => {
    const s = scope(req, reply, true);
    if (s)
      return html(
        reply,
        rejectionsPage(ctxOf(req, reply), {
          operator: s.operator,
          codes: Object.keys(ERROR_CODES),
          canReplay: config.CONSOLE_REPLAY && req.user!.role !== 'governance',
        }),
      );
  });

  const reader = storeReader(config.OPENDATA_DIR);
  const pipeline = new PipelineHealth({
    ingestMetrics: config.CONSOLE_INGEST_METRICS_URLS,
    processorsMetrics: config.CONSOLE_PROCESSORS_METRICS_URLS,
    store: reader,
    refreshMs: config.CONSOLE_PIPELINE_REFRESH_MS,
  });
  // The pipeline's health (latency, lag, releases) is for the supervisor and the governance officer.
  app.get('/api/pipeline', { preHandler: api }, async (req, reply) => {
    if (req.user!.role === 'operator')
      return reply.code(403).send({
        code: 'ONDIJON_FORBIDDEN',
        message: 'the pipeline view is for the supervisor and the governance officer',
      });
    return pipeline.get();
  });
  app.get('/pipeline', { preHandler: page }, async (req, reply) => {
    if (req.user!.role === 'operator') return html(reply, forbiddenPage(ctxOf(req, reply)), 403);
    return html(reply, pipelinePage(ctxOf(req, reply), await pipeline.get()));
  });
  const view = async () => {
    try {
      return await governanceView(reader, policy.revision);
    } catch (err) {
      log.warn({ err }, 'open-data store not readable');
      return { error: 'store' };
    }
  };
  app.get('/governance', { preHandler: page }, async (req, reply) => {
    if (req.user!.role === 'operator') return html(reply, forbiddenPage(ctxOf(req, reply)), 403);
    return html(reply, governancePage(ctxOf(req, reply), await view()));
  });
  app.get('/api/governance', { preHandler: api }, async (req, reply) => {
    if (req.user!.role === 'operator')
      return reply.code(403).send({
        code: 'ONDIJON_FORBIDDEN',
        message: 'governance is for the supervisor and the governance officer',
      });
    return view();
  });

  app.get('/api/me', { preHandler: api }, async (req) => req.user);
  app.get('/api/equipment', { preHandler: api }, async (req, reply) => {
    const s = scope(req, reply, false);
    if (s)
      return {
        version: state.currentVersion,
        equipment: state.equipment(s.operator),
        alerts: state.alerts(s.operator),
      };
  });
  app.get('/api/equipment/:id', { preHandler: api }, async (req, reply) => {
    const row = state.get((req.params as { id: string }).id);
    if (!row) return reply.code(404).send({ code: 'ONDIJON_NOT_FOUND', message: 'no such equipment' });
    if (!operatorScope(req.user!, row.operator).ok)
      return reply.code(403).send({ code: 'ONDIJON_FORBIDDEN', message: 'equipment of another operator' });
    return row;
  });
  app.get('/api/rejections', { preHandler: api }, async (req, reply) => {
    const s = scope(req, reply, false);
    if (!s) return;
    const code = (req.query as { code?: string }).code;
    const rows = state
      .rejectionsOf(s.operator, 5000)
      .filter((r) => !code || r.code === code)
      .slice(0, 500)
      .map(({ raw: _raw, ...r }) => r);
    return { rejections: rows, counts: state.rejectionCounts(s.operator) };
  });
  app.post('/api/rejections/:id/reveal', { preHandler: [api, csrf] }, async (req, reply) => {
    const user = req.user!;
    const row = state.rejection((req.params as { id: string }).id);
    if (user.role !== 'governance')
      return reply
        .code(403)
        .send({ code: 'ONDIJON_FORBIDDEN', message: 'only the governance officer may reveal' });
    if (!row) return reply.code(404).send({ code: 'ONDIJON_NOT_FOUND', message: 'no such dead letter' });
    // The audit line: who revealed which letter (never the payload itself).
    log.warn(
      { audit: 'payload-reveal', login: user.login, deadLetter: row.id, code: row.code },
      'masked payload revealed',
    );
    return { id: row.id, payload: row.raw === null ? null : Buffer.from(row.raw, 'base64').toString('utf8') };
  });
  // Replay (issue 15, item 3): an operator its own letters, the supervisor any; by id or by code, after a
  // confirmation in the page; one audit line per replay with what it accepted.
  app.post('/api/rejections/replay', { preHandler: [api, csrf] }, async (req, reply) => {
    const user = req.user!;
    if (!config.CONSOLE_REPLAY)
      return reply
        .code(404)
        .send({ code: 'ONDIJON_NOT_FOUND', message: 'replay is not enabled (CONSOLE_REPLAY)' });
    if (user.role === 'governance')
      return reply
        .code(403)
        .send({ code: 'ONDIJON_FORBIDDEN', message: 'replay is for operators and the supervisor' });
    const body = (req.body ?? {}) as { ids?: unknown; code?: unknown };
    const scopeOperator = user.role === 'operator' ? user.operator : undefined;
    const candidates = state.rejectionsOf(scopeOperator, Number.MAX_SAFE_INTEGER);
    let selected = candidates;
    if (Array.isArray(body.ids)) {
      const wanted = new Set(body.ids.map(String));
      selected = candidates.filter((r) => wanted.has(r.id));
      if (selected.length < wanted.size)
        return reply.code(user.role === 'operator' ? 403 : 404).send({
          code: user.role === 'operator' ? 'ONDIJON_FORBIDDEN' : 'ONDIJON_NOT_FOUND',
          message: 'unknown dead letter, or another operator’s',
        });
    } else if (typeof body.code === 'string') selected = candidates.filter((r) => r.code === body.code);
    else return reply.code(400).send({ code: 'ONDIJON_CONFIG_INVALID', message: 'give ids or code' });
    if (selected.length === 0) return { results: [], accepted: 0 };
    // Ingest's letters go through ingest's replay tool; the stream's go back to the topic they were read
    // from (the processors read them again).
    const ingestIds = selected.filter((r) => r.source === 'ingest').map((r) => r.id);
    const streamLetters = selected
      .filter((r) => r.source === 'stream')
      .map((r) => ({ id: r.id, kafkaTopic: r.kafkaTopic, payloadBase64: r.raw, sensitivity: r.sensitivity }));
    let results: ReplayOutcome[];
    try {
      const [a, b] = await Promise.all([
        ingestIds.length > 0 ? replayLetters(config, ingestIds) : [],
        streamLetters.length > 0 ? replayStreamLetters(config, streamLetters) : [],
      ]);
      results = [...a, ...b];
    } catch (err) {
      log.error({ err, login: user.login, letters: selected.length }, 'dead-letter replay failed');
      return reply.code(502).send({ code: 'ONDIJON_KAFKA_UNAVAILABLE', message: (err as Error).message });
    }
    const accepted = results.filter((r) => r.outcome === 'accepted' || r.outcome === 'republished').length;
    log.warn(
      {
        audit: 'replay',
        login: user.login,
        letters: selected.length,
        ingest: ingestIds.length,
        stream: streamLetters.length,
        accepted,
        ids: selected.slice(0, 50).map((r) => r.id),
      },
      'dead letters replayed',
    );
    return { results, accepted };
  });
  app.get('/api/overview', { preHandler: api }, async (req, reply) => {
    const s = scope(req, reply, false);
    if (s) return state.overview(s.operator);
  });
  // Live pages (SSE): one tick for all of them every CONSOLE_PUSH_INTERVAL_MS, and one update built and
  // serialised per (operator scope, version, alerts seen) at each tick, shared by every page at that point:
  // 20 pages of the supervisor cost one JSON.stringify of the changed rows, not 20. What a page already has
  // is not sent again (at full rate the bytes written to every page were most of the console's cost,
  // bench:console, docs/console.md): a page that has the rows (since ≥ 0, from /api/equipment) gets only
  // what changes in a row (liveFields), and of a row that only reported again its last-seen time alone
  // (`seen`, state.ts changesSince); the alerts come only when they changed; a page that shows no rows
  // (overview, rejections: `rows=0`) gets none. The shared update is encoded to bytes once and the same
  // Buffer written to each of its pages: a string is encoded again by every write (its byteLength, then
  // its bytes: 10 % of the console's busy time with 20 pages, bench:console's profile, docs/console.md).
  interface LiveClient {
    operator: string | undefined;
    since: number;
    rows: boolean;
    /** The alerts version last sent (-1: none yet). */
    alertsSeen: number;
    write(message: Buffer): void;
  }
  const live = new Set<LiveClient>();
  const liveUpdate = (c: LiveClient, alertsVersion: number): Buffer => {
    let rows: unknown[] = [];
    let seen: Seen | undefined;
    if (c.rows && c.since < 0) rows = state.equipment(c.operator, c.since);
    else if (c.rows) {
      const changes = state.changesSince(c.operator, c.since);
      rows = changes.rows.map(liveFields);
      if (changes.seen.ids.length > 0) seen = changes.seen;
    }
    return Buffer.from(
      `event: update\ndata: ${JSON.stringify({
        version: state.currentVersion,
        equipment: rows,
        ...(seen ? { seen } : {}),
        ...(c.alertsSeen === alertsVersion ? {} : { alerts: state.alerts(c.operator) }),
        rejections: state.rejectionsOf(c.operator, 5000).length,
      })}\n\n`,
    );
  };
  const liveTimer = setInterval(() => {
    if (live.size === 0) return;
    const built = new Map<string, Buffer>();
    const version = state.currentVersion;
    const alertsVersion = state.alertsVersion;
    for (const c of live) {
      const key = `${c.operator ?? '*'}|${c.rows ? c.since : 'none'}|${c.alertsSeen === alertsVersion}`;
      let message = built.get(key);
      if (message === undefined) {
        message = liveUpdate(c, alertsVersion);
        built.set(key, message);
      }
      c.since = version;
      c.alertsSeen = alertsVersion;
      c.write(message);
    }
  }, config.CONSOLE_PUSH_INTERVAL_MS);
  liveTimer.unref();

  app.get('/api/events', { preHandler: api }, async (req, reply) => {
    const s = scope(req, reply, false);
    if (!s) return;
    const query = req.query as { since?: string; rows?: string };
    let since = Number(query.since ?? -1);
    if (!Number.isFinite(since)) since = -1;
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client: LiveClient = {
      operator: s.operator,
      since,
      rows: query.rows !== '0',
      alertsSeen: -1,
      write: (m) => reply.raw.write(m),
    };
    // The first update now (from the version the page asked for), then with every other page.
    const alertsVersion = state.alertsVersion;
    client.write(liveUpdate(client, alertsVersion));
    client.since = state.currentVersion;
    client.alertsSeen = alertsVersion;
    live.add(client);
    const stop = () => {
      live.delete(client);
      sseClients.delete(stop);
      reply.raw.end();
    };
    sseClients.add(stop);
    req.raw.on('close', stop);
  });

  let feed: Feed | undefined;
  let feedStarting: Promise<void> | undefined;
  let feedError: string | undefined;
  let closing = false;
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const reason =
      deps.kafka === null
        ? null
        : feed === undefined
          ? `feed not started${feedError ? ` (${feedError})` : ''}`
          : feed.notReady();
    return reason === null
      ? { status: 'ready' }
      : reply.code(503).send({ status: 'not-ready', failing: { kafka: reason } });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });

  const alertTimer = setInterval(() => state.refreshAlerts(), 1000);
  alertTimer.unref();

  return {
    fastify: app,
    state,
    async start() {
      const url = await app.listen({ host: config.HOST, port: config.PORT });
      log.info({ url, equipment: state.size }, 'console listening');
      const kafka =
        deps.kafka === undefined
          ? createKafka({
              brokers: config.KAFKA_BROKERS,
              clientId: 'ondijon-console',
              logger: log,
              security: kafkaSecurityOf(config) ?? {},
            })
          : deps.kafka;
      if (kafka !== null) {
        // The pages answer at once; /readyz says 503 until the consumers have joined their groups.
        feedStarting = (async () => {
          for (let attempt = 1; !closing; attempt++) {
            try {
              feed = await startFeed({
                kafka,
                state,
                log,
                topicPrefix: config.KAFKA_TOPIC_PREFIX,
                groupIdPrefix: config.CONSOLE_GROUP_ID,
                deadLettersFromBeginning: config.CONSOLE_DEAD_LETTERS_FROM_BEGINNING,
                telemetryFromBeginning: config.CONSOLE_TELEMETRY_FROM_BEGINNING,
              });
              return;
            } catch (err) {
              feedError = err instanceof Error ? err.message : String(err);
              log.error({ err, attempt }, 'console feed failed to start, retrying');
              await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * attempt)));
            }
          }
        })();
      }
      return url;
    },
    async close() {
      closing = true;
      clearInterval(alertTimer);
      clearInterval(liveTimer);
      for (const stop of [...sseClients]) stop();
      await app.close();
      await feedStarting;
      await feed?.stop();
    },
  };
}

function safeOrigin(url: string): string {
  try {
    return new URL(url.replace(/\{[a-z]\}/g, 'a')).origin;
  } catch {
    return '';
  }
}

/** What a live update sends of a row the page already has: what telemetry and alerts change. */
function liveFields(r: EquipmentRow): Pick<EquipmentRow, 'id' | 'lastSeen' | 'state' | 'status' | 'alerts'> {
  // What the pages show of a row and telemetry or alerts change (public/equipment.js merges it): not the
  // reporting interval nor the row's version, which no page reads (a quarter of the bytes of an update,
  // written to every page every tick).
  return { id: r.id, lastSeen: r.lastSeen, state: r.state, status: r.status, alerts: r.alerts };
}

function registerMetrics(registry: Registry, state: ConsoleState, sse: Set<unknown>): void {
  new Gauge({
    name: metricName(SERVICE, 'sse_clients'),
    help: 'Open live (Server-Sent Events) connections.',
    registers: [registry],
    collect() {
      this.set(sse.size);
    },
  });
  new Gauge({
    name: metricName(SERVICE, 'alerts_active'),
    help: 'Active alerts by kind and operator (infra/prometheus/alerts.yml).',
    labelNames: ['kind', 'operator'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of state.alerts()) this.inc({ kind: a.kind, operator: a.operator });
    },
  });
  new Counter({
    name: metricName(SERVICE, 'alerts_raised_total'),
    help: 'Alerts raised since start by kind and operator (a new fault is an increase of kind="fault").',
    labelNames: ['kind', 'operator'],
    registers: [registry],
    collect() {
      // The state counts; the counter is set to its totals at each collection.
      this.reset();
      for (const [key, n] of state.raised) {
        const [kind, operator] = key.split('|') as [string, string];
        this.inc({ kind, operator }, n);
      }
    },
  });
  new Gauge({
    name: metricName(SERVICE, 'telemetry_age_seconds'),
    help: 'Age of the newest telemetry record read (now minus when ingest accepted it): how far the live view is behind; absent before the first record.',
    registers: [registry],
    collect() {
      this.reset();
      if (state.newestRecordMs > 0) this.set((Date.now() - state.newestRecordMs) / 1000);
    },
  });
  new Gauge({
    name: metricName(SERVICE, 'records_read'),
    help: 'Records read since start: S1 telemetry and dead letters.',
    labelNames: ['what'],
    registers: [registry],
    collect() {
      this.set({ what: 'telemetry' }, state.counts.telemetry);
      this.set({ what: 'dead-letters' }, state.counts.deadLetters);
    },
  });
}

/** A local path to go to after signing in (never another site), else `fallback`. */
function safeNext(next: string | undefined, fallback = '/'): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : fallback;
}

/** The single sign-on, when CONSOLE_OIDC_ISSUER is set (the config checked the rest). */
function oidcLogin(config: Readonly<Config>): OidcLogin | undefined {
  if (!config.CONSOLE_OIDC_ISSUER || !config.CONSOLE_OIDC_CLIENT_ID || !config.CONSOLE_OIDC_REDIRECT_URI)
    return undefined;
  return new OidcLogin({
    issuer: new URL(config.CONSOLE_OIDC_ISSUER),
    clientId: config.CONSOLE_OIDC_CLIENT_ID,
    ...(config.CONSOLE_OIDC_CLIENT_SECRET ? { clientSecret: config.CONSOLE_OIDC_CLIENT_SECRET } : {}),
    redirectUri: config.CONSOLE_OIDC_REDIRECT_URI,
    ...(config.CONSOLE_OIDC_POST_LOGOUT_REDIRECT_URI
      ? { postLogoutRedirectUri: config.CONSOLE_OIDC_POST_LOGOUT_REDIRECT_URI }
      : {}),
    scopes: config.CONSOLE_OIDC_SCOPES,
    loginClaim: config.CONSOLE_OIDC_LOGIN_CLAIM,
    rolesClaim: config.CONSOLE_OIDC_ROLES_CLAIM,
    roleMap: config.CONSOLE_OIDC_ROLE_MAP,
    allowHttp: config.ONDIJON_ENV !== 'production' && config.CONSOLE_OIDC_ISSUER.startsWith('http:'),
  });
}
