// The Prometheus scrape configuration and the Grafana dashboard of infra/ (issue 17, item 5) stay in step
// with the services: every metric a panel queries is one that a service registers.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/config';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Metric names the services register: literal `ondijon_…` names and `metricName(service, what)`. */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  for (const svc of ['ingest', 'processors', 'publisher', 'opendata-api', 'console']) {
    for (const file of sources(path.join(repoRoot, 'services', svc, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/'(ondijon_[a-z_]+)'/g)) names.add(m[1]!);
      const service =
        /const SERVICE = '([a-z-]+)'/.exec(text)?.[1] ?? /metricName\('([a-z-]+)'/.exec(text)?.[1];
      if (!service) continue;
      for (const m of text.matchAll(/(?:metricName\(SERVICE, |metricName\('[a-z-]+', |name\()'([a-z_]+)'\)/g))
        names.add(`ondijon_${service.replace(/-/g, '_')}_${m[1]!}`);
    }
  }
  return names;
}

describe('observability artefacts', () => {
  it('the dashboard queries only metrics the services register, and covers every service', () => {
    const dashboard = JSON.parse(
      readFileSync(path.join(repoRoot, 'infra/grafana/ondijon-services.json'), 'utf8'),
    ) as { panels: { targets: { expr: string }[] }[] };
    const known = registeredMetrics();
    expect(known.size).toBeGreaterThan(20);
    const used = new Set<string>();
    for (const p of dashboard.panels)
      for (const t of p.targets)
        for (const m of t.expr.matchAll(/ondijon_[a-z_]+/g))
          used.add(m[0].replace(/_(bucket|count|sum)$/, ''));
    expect([...used].filter((m) => !known.has(m))).toEqual([]);
    for (const svc of ['ingest', 'processors', 'publisher', 'opendata_api', 'console'])
      expect(
        [...used].some((m) => m.startsWith(`ondijon_${svc}_`)),
        svc,
      ).toBe(true);
  });

  it('the scrape configuration has one job per service', () => {
    const text = readFileSync(path.join(repoRoot, 'infra/prometheus/prometheus.yml'), 'utf8');
    const jobs = [...text.matchAll(/^\s*- job_name: ([a-z-]+)$/gm)].map((m) => m[1]);
    expect(jobs.sort()).toEqual([
      'ondijon-console',
      'ondijon-ingest',
      'ondijon-opendata-api',
      'ondijon-processors',
      'ondijon-publisher',
    ]);
  });
});
