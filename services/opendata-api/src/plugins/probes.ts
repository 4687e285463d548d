import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry, metricName } from '@ondijon/service-kit';
import type { ApiContext } from '../context';
import { OTHER_ROUTES } from '../contract';

const SERVICE = 'opendata-api';

/**
 * `/healthz` (the process answers), `/readyz` (the store's catalogue is readable and valid),
 * `/metrics` (Prometheus: default process metrics and request durations per route).
 * Hooks go on the given (root) instance so every route is measured.
 */
export function registerProbes(app: FastifyInstance, ctx: ApiContext, registry: Registry): void {
  const duration = new Histogram({
    name: metricName(SERVICE, 'http_request_duration_seconds'),
    help: 'HTTP request duration by route, method and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    duration.observe(
      { route: req.routeOptions.url ?? 'unmatched', method: req.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/healthz', { config: { rateLimit: false }, schema: OTHER_ROUTES.healthz }, async () => ({
    status: 'ok',
  }));
  app.get('/readyz', { config: { rateLimit: false }, schema: OTHER_ROUTES.readyz }, async (_req, reply) => {
    try {
      const { catalog } = await ctx.reader.catalog();
      return { status: 'ready', datasets: Object.keys(catalog.datasets).length };
    } catch (err) {
      return reply
        .code(503)
        .send({ status: 'not-ready', failing: { store: err instanceof Error ? err.message : String(err) } });
    }
  });
  app.get('/metrics', { config: { rateLimit: false }, schema: OTHER_ROUTES.metrics }, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
