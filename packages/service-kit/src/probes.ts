import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** A readiness check: resolves to a reason string when not ready, or null when ready. */
export type ReadinessCheck = () => Promise<string | null> | string | null;

/** Options of the probe server. */
export interface ProbeServerOptions {
  /** Prometheus registry exposed on /metrics. */
  registry: Registry;
  /** Named readiness checks; /readyz answers 503 with the failing ones. */
  readiness: Record<string, ReadinessCheck>;
}

/**
 * The operations endpoints every service exposes: `/healthz` (the process answers), `/readyz` (its
 * dependencies answer and it accepts work), `/metrics` (Prometheus text format).
 */
export function buildProbeServer(options: ProbeServerOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const failing: Record<string, string> = {};
    for (const [name, check] of Object.entries(options.readiness)) {
      try {
        const reason = await check();
        if (reason) failing[name] = reason;
      } catch (err) {
        failing[name] = err instanceof Error ? err.message : String(err);
      }
    }
    const ready = Object.keys(failing).length === 0;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', failing });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  return app;
}
