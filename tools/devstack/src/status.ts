/**
 * The terminal of `./ondijon run`: one compact status block (services, URLs, rates) that refreshes, and
 * above it the events that matter (first releases, rejections, late and duplicate records, warnings and
 * errors of a service). Each service's full output goes to its log file. On a terminal the block stays at
 * the bottom and is redrawn in place; otherwise it is printed again, whole, every minute.
 */

/** Sums of the samples of each metric of a Prometheus text exposition, by metric name. */
export function parseMetrics(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) sums.set(m[1]!, (sums.get(m[1]!) ?? 0) + value);
  }
  return sums;
}

/** Samples of one metric by the value of one of its labels (`{code="…"}`), summed. */
export function metricByLabel(text: string, metric: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${metric}\\{([^}]*)\\}\\s+(\\S+)`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const value = new RegExp(`(?:^|,)${label}="([^"]*)"`).exec(m[1]!)?.[1];
    if (value !== undefined) out.set(value, (out.get(value) ?? 0) + Number(m[2]));
  }
  return out;
}

/** What the status block shows. */
export interface StatusSnapshot {
  runId: string;
  upMs: number;
  /** Simulated time of the last message sent (ISO), and the speed-up. */
  simTime: string | null;
  speed: number;
  /** Readiness of each service (`true` ready, `false` not ready, `undefined` not answering or no probe). */
  services: Record<string, boolean | undefined>;
  /** Per-second rates; `undefined` until two samples exist. */
  rates: {
    published?: number;
    ingested?: number;
    produced?: number;
    processed?: number;
    aggregates?: number;
  };
  totals: {
    sent: number;
    rejected: number;
    late: number;
    duplicates: number;
    releases: number;
    datasets: number;
    lag: number;
  };
  apiBase: string;
  /** The control-centre console and its demo logins (passwords in `.stack/secrets/console-<login>.password`). */
  console?: { url: string; logins: string[] };
  metricsPorts: Record<string, number>;
  logsDir: string;
  publishDelayOverridden: boolean;
}

const n = (v: number | undefined): string =>
  v === undefined ? '…' : Math.round(v).toLocaleString('en-GB').replace(/,/g, ' ');

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (x: number) => String(x).padStart(2, '0');
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** The status block's lines (pure). */
export function renderStatus(s: StatusSnapshot): string[] {
  const services = Object.entries(s.services)
    .map(([name, ok]) => `${name} ${ok === true ? '✓' : ok === false ? '…' : '✗'}`)
    .join(' · ');
  const sim = s.simTime
    ? `simulated ${s.simTime.slice(0, 16).replace('T', ' ')} UTC (×${s.speed})`
    : 'simulator starting';
  const ports = Object.entries(s.metricsPorts)
    .map(([name, port]) => `${port} ${name}`)
    .join(' · ');
  const lines = [
    `━━ OnDijon pipeline${s.runId ? ` · ${s.runId}` : ''} · up ${duration(s.upMs)} · ${sim} ━━`,
    `  services   ${services}`,
    `  flow/s     MQTT ${n(s.rates.published)} → ingest ${n(s.rates.ingested)} → Kafka ${n(s.rates.produced)} → processors ${n(s.rates.processed)} → aggregates ${n(s.rates.aggregates)}`,
    `  so far     sent ${n(s.totals.sent)} · rejected ${n(s.totals.rejected)} · late ${n(s.totals.late)} · duplicates ${n(s.totals.duplicates)} · lag ${n(s.totals.lag)} · releases ${n(s.totals.releases)} (${s.totals.datasets} datasets)`,
    `  open data  ${s.apiBase}/api/3/action/package_list · /api/explore/v2.1/catalog/datasets · /catalog.jsonld`,
    ...(s.console
      ? [
          `  console    ${s.console.url} (?lang=en) · logins ${s.console.logins.join(', ')}: password in .stack/secrets/console-<login>.password`,
        ]
      : []),
    `  metrics    http://127.0.0.1:<port>/metrics: ${ports} · stack: pnpm stack status`,
    `  logs       ${s.logsDir} · Ctrl-C stops the services (the stack stays up)`,
  ];
  if (s.publishDelayOverridden)
    lines.push('  demo       releases are not delayed (the policy says 1–24 h); each release notes it');
  return lines;
}

/** Fields of a pino JSON line that a terminal line leaves out. */
const QUIET_FIELDS = new Set(['level', 'time', 'msg', 'service', 'name', 'pid', 'hostname']);

/**
 * The terminal line for a service's output line, or `undefined` when it does not matter there: info and
 * debug lines go to the log file only; warnings, errors and anything that is not pino JSON (a crash) are
 * shown. `quiet` lists messages the runner reports itself.
 */
export function notableLine(line: string, quiet: ReadonlySet<string> = new Set()): string | undefined {
  if (!line.startsWith('{')) return line.trim() === '' ? undefined : line;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof o.level === 'number' ? o.level : 30;
  if (level < 40 || quiet.has(String(o.msg))) return undefined;
  const t = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 19) : '';
  const extras = Object.entries(o)
    .filter(([k]) => !QUIET_FIELDS.has(k))
    .map(
      ([k, v]) =>
        `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | boolean)}`,
    )
    .join(' ');
  return `${t} ${level >= 50 ? 'ERROR' : 'WARN'} ${String(o.msg)} ${extras}`.trimEnd().slice(0, 400);
}

/** Where the runner writes: events above, the status block below (redrawn in place on a terminal). */
export class StatusBoard {
  private drawn = 0;
  private last: string[] = [];
  private lastPrintedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    /** Without a terminal: how often the whole block is printed again. */
    private readonly plainEveryMs = 60_000,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  private clear(): void {
    if (this.tty && this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.tty) return;
    const width = Math.max(40, (this.out.columns ?? 120) - 1);
    for (const line of this.last) this.out.write(`${[...line].slice(0, width).join('')}\n`);
    this.drawn = this.last.length;
  }

  /** Prints an event line above the block. */
  event(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  /** Replaces the block (redrawn on a terminal; printed whole at most every `plainEveryMs` otherwise). */
  update(lines: string[], now = Date.now()): void {
    this.last = lines;
    if (this.tty) {
      this.clear();
      this.draw();
    } else if (now - this.lastPrintedAt >= this.plainEveryMs) {
      this.lastPrintedAt = now;
      this.out.write(`${lines.join('\n')}\n`);
    }
  }

  /** Leaves the block where it is and goes on below it. */
  release(): void {
    this.drawn = 0;
  }
}
