// The Prometheus alert rules of infra/prometheus/alerts.yml (issue 15, item 2): every metric a rule names
// is one a service registers (the console's names are read from its live /metrics, the other services'
// from their sources), prometheus.yml loads the file and scrapes the console, and, when Debian's
// `promtool` is installed (package `prometheus`), the rules pass `promtool check` and their unit tests
// (infra/prometheus/alerts.test.yml: each alert fires on its cause and clears without it).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadPolicy } from '@ondijon/governance';
import { buildApp } from '../src/app';
import { ConsoleState } from '../src/state';
import { equipment, testSetup } from './fixture';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PROM = path.join(ROOT, 'infra/prometheus');

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string; labels?: Record<string, string> }[] }[];
}

/** Metric names found in a service's sources: `'ondijon_…'` literals and `metricName(…, 'what')` calls. */
function sourceMetrics(service: string): Set<string> {
  const names = new Set<string>();
  const prefix = `ondijon_${service.replace(/-/g, '_')}_`;
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((e) => {
      const p = path.join(dir, e);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
    });
  for (const file of walk(path.join(ROOT, 'services', service, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/'(ondijon_[a-z_]+)'/g)) names.add(m[1]!);
    for (const m of text.matchAll(/(?:metricName\([^,]+, |\bname\()'([a-z_]+)'\)/g))
      names.add(prefix + m[1]!);
  }
  return names;
}

/** The metric names of the console's own registry, as its /metrics serves them. */
async function consoleMetrics(): Promise<Set<string>> {
  const registry = [equipment('SC-1', 'signal-controller', 'bouygues-es')];
  const { config } = testSetup(registry);
  const state = new ConsoleState(registry, { policy: loadPolicy() });
  const app = await buildApp(config, { state, kafka: null });
  try {
    const text = (await app.fastify.inject({ method: 'GET', url: '/metrics' })).body;
    return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  } finally {
    await app.close();
  }
}

const rules = parse(readFileSync(path.join(PROM, 'alerts.yml'), 'utf8')) as RuleFile;
const all = rules.groups.flatMap((g) => g.rules);
const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('Prometheus alert rules (infra/prometheus/alerts.yml)', () => {
  it('name only metrics the services register', async () => {
    const known = new Set([
      ...(await consoleMetrics()),
      ...['ingest', 'processors', 'publisher'].flatMap((s) => [...sourceMetrics(s)]),
    ]);
    expect(known).toContain('ondijon_console_alerts_active');
    expect(known).toContain('ondijon_console_alerts_raised_total');
    const unknown: string[] = [];
    for (const r of all)
      for (const m of r.expr.matchAll(/\bondijon_[a-z_]+/g)) {
        const name = m[0].replace(/_(bucket|count|sum)$/, '');
        if (!known.has(name) && !known.has(m[0])) unknown.push(`${r.alert}: ${m[0]}`);
      }
    expect(unknown).toEqual([]);
  });

  it('cover the alerts of issue 15 and the pipeline health, each with a severity', () => {
    const exprs = all.map((r) => r.expr).join('\n');
    for (const kind of ['silent', 'fault', 'signal-mode', 'door-open'])
      expect(exprs).toContain(`kind="${kind}"`);
    for (const metric of [
      'ondijon_ingest_mqtt_connections_subscribed',
      'ondijon_processors_consumer_lag_records',
      'ondijon_ingest_messages_rejected_total',
      'ondijon_processors_records_dead_lettered_total',
      'ondijon_processors_watermark_seconds',
    ])
      expect(exprs).toContain(metric);
    for (const r of all) expect(['warning', 'critical']).toContain(r.labels?.severity);
    expect(new Set(all.map((r) => r.alert)).size).toBe(all.length);
  });

  it('are loaded by prometheus.yml, which scrapes the console', () => {
    const config = parse(readFileSync(path.join(PROM, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string }[];
    };
    expect(config.rule_files).toContain('alerts.yml');
    expect(config.scrape_configs.map((j) => j.job_name)).toContain('ondijon-console');
  });

  it.skipIf(!promtool)('pass promtool check and the rules unit tests', () => {
    const run = (...args: string[]) => execFileSync('promtool', args, { cwd: PROM, encoding: 'utf8' });
    expect(run('check', 'rules', 'alerts.yml')).toContain(`SUCCESS: ${all.length} rules found`);
    expect(run('check', 'config', 'prometheus.yml')).toContain('SUCCESS');
    expect(run('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });
});
