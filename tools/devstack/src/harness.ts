/**
 * Starts the pipeline's services as child processes (the way they run in production: `src/main.ts`
 * under tsx, configured by environment), with prefixed or captured output, peak memory, readiness
 * polling and a clean stop with a deadline. Shared by `./ondijon run` (src/run-pipeline.ts), the
 * end-to-end test (test/e2e/pipeline.int.test.ts) and the end-to-end benchmark (test/bench/e2e.bench.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Root of the repository. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The services of the pipeline, in start order. */
export const SERVICES = ['ingest', 'processors', 'publisher', 'opendata-api', 'simulator'] as const;
/** A service name. */
export type ServiceName = (typeof SERVICES)[number];

/** Entry point of a service. */
export function serviceEntry(name: ServiceName): string {
  return path.join(REPO_ROOT, 'services', name, 'src', 'main.ts');
}

/**
 * The Node flags a service runs with in production: those of its package.json `start` script
 * (`node <flags> --import tsx src/main.ts`, e.g. ingest's `--max-semi-space-size=32`), so that
 * `./ondijon run`, the tests and the benches run it as `pnpm start` does. None when the script has none.
 */
export function serviceNodeFlags(serviceDir: string): string[] {
  let start = '';
  try {
    const pkg = JSON.parse(readFileSync(path.join(serviceDir, 'package.json'), 'utf8')) as {
      scripts?: { start?: string };
    };
    start = pkg.scripts?.start ?? '';
  } catch {
    return [];
  }
  const flags = /^node((?: --[a-z0-9-]+(?:=\S+)?)*) --import tsx /.exec(start)?.[1];
  return flags === undefined ? [] : flags.trim().split(' ').filter(Boolean);
}

/** Options of `startService`. */
export interface StartServiceOptions {
  /** Environment added to the parent's (values override). */
  env: Record<string, string>;
  /** Extra command-line arguments. */
  args?: string[];
  /** Write output lines to this file instead of the terminal. */
  logFile?: string;
  /** Print output lines with a `[name]` prefix (default when no logFile). */
  prefix?: boolean;
  /** Called for every output line (stdout and stderr). */
  onLine?: (line: string) => void;
  /**
   * Own process group: a terminal's Ctrl-C then reaches only the parent, which stops the services in
   * order (otherwise each gets SIGINT, then the parent's SIGTERM counts as a second signal).
   */
  detached?: boolean;
}

/** A running service. */
export interface ServiceHandle {
  name: string;
  child: ChildProcess;
  /** Settles with the exit code (or signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Peak resident set size so far, kB (Linux VmHWM; null once the process is gone or off Linux). */
  peakRssKb(): number | null;
  /** Last output lines (for failure messages). */
  tail(n?: number): string[];
  /** SIGTERM, then SIGKILL after `deadlineMs`; resolves when the process has exited. */
  stop(deadlineMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }>;
}

const COLORS = [36, 33, 35, 32, 34, 91];

/**
 * Starts `services/<name>/src/main.ts` with `node <its start script's flags> --import tsx` (one process,
 * so its pid is the service's and its memory is measurable), in the service's folder.
 */
export function startService(name: string, entry: string, options: StartServiceOptions): ServiceHandle {
  const serviceDir = path.dirname(path.dirname(entry));
  const child = spawn(
    process.execPath,
    [...serviceNodeFlags(serviceDir), '--import', 'tsx', entry, ...(options.args ?? [])],
    {
      cwd: serviceDir,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    },
  );
  const lines: string[] = [];
  let log: WriteStream | undefined;
  if (options.logFile) log = createWriteStream(options.logFile, { flags: 'a' });
  const color = COLORS[[...name].reduce((s, c) => s + c.charCodeAt(0), 0) % COLORS.length];
  const prefix = process.stdout.isTTY ? `\x1b[${color}m[${name}]\x1b[0m ` : `[${name}] `;
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 200) lines.shift();
    options.onLine?.(line);
    if (log) log.write(`${line}\n`);
    else if (options.prefix !== false) process.stdout.write(`${prefix}${line}\n`);
  };
  for (const stream of [child.stdout, child.stderr])
    if (stream) createInterface({ input: stream }).on('line', onLine);
  let peak: number | null = null;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak ?? 0, Number(m[1]));
    } catch {
      /* gone, or not Linux */
    }
    return peak;
  };
  const sampler = setInterval(sample, 1000);
  sampler.unref();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      clearInterval(sampler);
      log?.end();
      resolve({ code, signal });
    });
  });
  return {
    name,
    child,
    exited,
    peakRssKb: sample,
    tail: (n = 30) => lines.slice(-n),
    async stop(deadlineMs = 15_000) {
      sample();
      if (child.exitCode !== null || child.signalCode !== null) return { ...(await exited), killed: false };
      child.kill('SIGTERM');
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, deadlineMs);
      const result = await exited;
      clearTimeout(timer);
      return { ...result, killed };
    },
  };
}

/** Polls `url` until it answers 2xx or the deadline passes (then throws, naming the service's last lines). */
export async function waitHttpOk(url: string, timeoutMs: number, service?: ServiceHandle): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (service && service.child.exitCode !== null)
      throw new Error(`${service.name} exited with ${service.child.exitCode}:\n${service.tail().join('\n')}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${url} not ready within ${timeoutMs} ms (last: ${last})${service ? `\n${service.tail().join('\n')}` : ''}`,
  );
}

/** Stops services in reverse start order, each with the deadline; returns how each ended. */
export async function stopAll(
  services: ServiceHandle[],
  deadlineMs = 15_000,
): Promise<Record<string, { code: number | null; signal: NodeJS.Signals | null; killed: boolean }>> {
  const out: Record<string, { code: number | null; signal: NodeJS.Signals | null; killed: boolean }> = {};
  for (const s of [...services].reverse()) out[s.name] = await s.stop(deadlineMs);
  return out;
}
