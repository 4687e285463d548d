import { Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A Prometheus registry with the process's default metrics, prefixed `ondijon_<service>_`. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `ondijon_${service.replace(/-/g, '_')}_` });
  return registry;
}

/** Metric name for a service: `ondijon_<service>_<what>_<unit>` (CONTRIBUTING.md rule 9). */
export function metricName(service: string, what: string): string {
  return `ondijon_${service.replace(/-/g, '_')}_${what}`;
}
