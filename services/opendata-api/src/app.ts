import compress from '@fastify/compress';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { openStoreReader, s3OptionsOf, storeBackendOf, type StoreReader } from '@ondijon/opendata';
import { createMetricsRegistry, silentLogger, type Logger, type Registry } from '@ondijon/service-kit';
import { storeRevalidateMs, type Config } from './config';
import type { ApiContext } from './context';
import { BODY_LIMIT, registerErrorHandling } from './errors';
import { ckanPlugin } from './plugins/ckan';
import { dcatPlugin } from './plugins/dcat';
import { explorePlugin } from './plugins/explore';
import { filesPlugin } from './plugins/files';
import { registerHttpCache } from './plugins/http-cache';
import { openapiPlugin, registerContract } from './plugins/openapi';
import { registerProbes } from './plugins/probes';
import { registersPlugin } from './registers';
import { ScanPool } from './scan-pool';

/** What the app needs besides its config. */
export interface AppDeps {
  logger?: Logger;
  /** Store reader (default: a reader over OPENDATA_DIR). */
  reader?: StoreReader;
  /** Prometheus registry (default: a fresh one). */
  registry?: Registry;
}

/** The built app: the Fastify instance (for inject()) and its lifecycle. */
export interface OpendataApiApp {
  readonly server: FastifyInstance;
  /** The scan worker (SCAN_WORKER), for tests and probes. */
  readonly scans: ScanPool | undefined;
  /** Listens on HOST:PORT; resolves with the URL. */
  start(): Promise<string>;
  close(): Promise<void>;
}

/** Builds the read-only open-data API over the store; only `start()` listens. */
export async function buildApp(config: Readonly<Config>, deps: AppDeps = {}): Promise<OpendataApiApp> {
  const logger = deps.logger ?? silentLogger();
  // pino's Logger and Fastify's base logger type differ only in generics; the instance is the same.
  const fastifyLogger: FastifyBaseLogger = logger;
  const server: FastifyInstance = Fastify({
    loggerInstance: fastifyLogger,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    bodyLimit: BODY_LIMIT,
  });
  const reader =
    deps.reader ?? openStoreReader(storeBackendOf(config), { revalidateMs: storeRevalidateMs(config) });
  const scans = config.SCAN_WORKER
    ? new ScanPool(reader, {
        rootDir: reader.rootDir,
        s3: s3OptionsOf(config),
        revalidateMs: storeRevalidateMs(config),
        nice: config.SCAN_WORKER_NICE,
        logger,
      })
    : undefined;
  const ctx: ApiContext = { reader, config, scans };
  const registry = deps.registry ?? createMetricsRegistry('opendata-api');

  await registerContract(server);
  registerErrorHandling(server, ctx);
  // Order matters: the ETag hook hashes the uncompressed body, so it runs before @fastify/compress.
  registerHttpCache(server);
  if (!config.PUBLIC_BASE_URL) {
    // Links are then built from each request's Host: a shared cache must key on it.
    server.addHook('onSend', async (_req, reply, payload) => {
      const vary = reply.getHeader('vary');
      const list = typeof vary === 'string' ? vary : Array.isArray(vary) ? vary.join(', ') : '';
      if (!/(^|,)\s*host\s*(,|$)/i.test(list)) reply.header('vary', list ? `${list}, Host` : 'Host');
      return payload;
    });
  }
  await server.register(cors, {
    origin: '*',
    methods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
    exposedHeaders: ['ETag', 'Content-Disposition', 'X-RateLimit-Limit', 'X-RateLimit-Remaining'],
  });
  await server.register(compress, { global: true, threshold: 1024, encodings: ['gzip', 'deflate'] });
  if (config.RATE_LIMIT_ENABLED) {
    await server.register(rateLimit, {
      global: true,
      max: config.RATE_LIMIT_MAX,
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
    });
  }
  registerProbes(server, ctx, registry);
  await server.register(openapiPlugin);
  await server.register(dcatPlugin, { ctx });
  await server.register(filesPlugin, { ctx });
  await server.register(registersPlugin, { ctx });
  await server.register(ckanPlugin, { ctx, prefix: '/api/3/action' });
  await server.register(ckanPlugin, { ctx, prefix: '/api/action', alias: true });
  await server.register(explorePlugin, { ctx, prefix: '/api/explore/v2.1' });
  await server.ready();

  return {
    server,
    scans,
    async start() {
      const url = await server.listen({ host: config.HOST, port: config.PORT });
      logger.info({ url, store: reader.rootDir }, 'opendata api listening');
      return url;
    },
    async close() {
      await server.close();
      await scans?.close();
    },
  };
}
