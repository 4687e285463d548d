import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { FAMILIES, type Family } from '@ondijon/contracts';
import { commonEnv, loadConfig } from '@ondijon/service-kit';
import { type FaultConfig, parseFaultSpec } from './faults';
import { DEFAULT_INTERVALS, type ReportIntervals } from './fleet';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The committed default equipment registry (the one ingest loads by default). */
export const DEFAULT_REGISTRY_FILE = path.join(repoRoot, 'infra', 'registry', 'equipment.json');

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `90m`, `26h`, `2d`, `1500ms` (a bare number is seconds). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration (e.g. 90m, 26h, 2d)`);
  return Number(m[1]) * UNITS[m[2] ?? 's']!;
}

/** Parses a start time: ISO 8601, or `now-<duration>` floored to the hour, against `now`. */
export function parseStart(text: string, now: number): number {
  const rel = /^now(?:-(.+))?$/.exec(text.trim());
  if (rel) {
    const back = rel[1] ? parseDuration(rel[1]) : 0;
    return Math.floor((now - back) / 3_600_000) * 3_600_000;
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`"${text}" is neither ISO 8601 nor now-<duration>`);
  return t;
}

/** Parses `streetlight=600,traffic-detector=60` into report intervals (seconds). */
export function parseIntervals(spec: string): Partial<ReportIntervals> {
  const out: Partial<ReportIntervals> = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [family, seconds] = part.split('=');
    if (!FAMILIES.includes(family as Family)) throw new Error(`unknown family "${family}"`);
    const s = Number(seconds);
    if (!Number.isInteger(s) || s < 10 || s > 3600)
      throw new Error(`interval of ${family} must be an integer 10–3600 s`);
    out[family as Family] = s;
  }
  return out;
}

const refine = <T>(parse: (s: string) => T, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s, ctx) => {
      try {
        return parse(s);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    });

/** Environment of the simulator (CONTRIBUTING.md rule 7); see `.env.example`. CLI flags map onto these names. */
export const SimulatorEnv = z.object({
  ...commonEnv,
  /** Fleet preset: `small` (laptop) or `city` (the whole Métropole, for benchmarks). */
  SIM_PRESET: z.enum(['small', 'city']).default('small'),
  /** Seed of everything random: the same seed gives the same stream. */
  SIM_SEED: z.coerce.number().int().min(0).default(1),
  /**
   * Registry file (JSON), which must be the one ingest loads. Empty: the committed registry for the
   * `small` preset, a registry generated at city scale (SIM_REGISTRY_SEED) for `city`.
   */
  SIM_REGISTRY_FILE: z.string().default(''),
  /** Seed of a generated registry (when no file). */
  SIM_REGISTRY_SEED: z.coerce.number().int().min(0).default(1),
  /** Share of the registry simulated, 0–1 (whole cabinets and intersections kept together). */
  SIM_FLEET_FRACTION: z.coerce.number().gt(0).max(1).default(1),
  /** Report intervals per family, e.g. `streetlight=600,traffic-detector=60` (seconds, 10–3600). */
  SIM_INTERVALS: refine(parseIntervals, ''),
  /** Simulated start: ISO 8601 or `now-<duration>` (floored to the hour). */
  SIM_START: z.string().default('now-1d'),
  /** Simulated duration (`26h`, `2d`); empty = endless. */
  SIM_DURATION: z.string().default(''),
  /** Stop after this many messages (0 = no bound). */
  SIM_COUNT: z.coerce.number().int().min(0).default(0),
  /** Time compression: simulated seconds per wall second (720 = a day in two minutes), or `max` (no pacing). */
  SIM_SPEED: z
    .string()
    .default('720')
    .transform((s, ctx) => {
      if (s === 'max') return Infinity;
      const n = Number(s);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: 'expected a positive number or "max"' });
        return z.NEVER;
      }
      return n;
    }),
  /** Never publish an observation ahead of the wall clock (the stream catches up, then runs live). */
  SIM_CLAMP_TO_NOW: z.stringbool().default(true),
  /** Faults: `none`, `default`, or rates such as `late=0.01,duplicate=0.02` (see faults.ts). */
  SIM_FAULTS: refine(parseFaultSpec, 'none'),
  /** Replay this NDJSON file of {topic, payload, at} instead of generating. */
  SIM_REPLAY_FILE: z.string().default(''),
  /** Write every published message with its ground truth (and PUBACK reason code) to this NDJSON file. */
  SIM_RECORD_FILE: z.string().default(''),
  /** Write the manifest (counts by outcome, fault, expected code) to this JSON file at the end. */
  SIM_MANIFEST_FILE: z.string().default(''),
  /** Generate and record only; publish nothing. */
  SIM_DRY_RUN: z.stringbool().default(false),
  /** Prefix of every MQTT topic (tests: `t/<unique>/`). */
  SIM_TOPIC_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9_.-]+\/)*$/, 'expected segments each ending with /')
    .default(''),
  /**
   * Folder of `<operator>.password` files (the local stack's `.stack/secrets/mqtt`): each operator then
   * publishes over a connection of its own, logged in as itself, as real gateways do; a message whose
   * topic names an operator without a file fails (reason code -1). Empty: one principal for every
   * message (`MQTT_USERNAME`/`MQTT_PASSWORD`).
   */
  SIM_MQTT_PASSWORDS_DIR: z.string().default(''),
  /** MQTT connections of the single principal (an equipment always uses the same one, so its messages stay in order). */
  SIM_CONNECTIONS: z.coerce.number().int().min(1).max(64).default(2),
  /** QoS 1 publishes awaiting PUBACK per connection. */
  SIM_MAX_INFLIGHT: z.coerce.number().int().min(1).max(65_535).default(100),
  /** Client id prefix; connection i is `<prefix>-<i>`. */
  SIM_CLIENT_ID_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default(`ondijon-sim-${process.pid}`),
  /** Progress every this many ms (log line, or live line on a terminal). */
  SIM_PROGRESS_MS: z.coerce.number().int().min(100).default(5000),
});

/** Validated simulator configuration. */
export type SimulatorConfig = Readonly<z.infer<typeof SimulatorEnv>>;

/** Loads the simulator configuration from `env`, naming every invalid variable at once. */
export function loadSimulatorConfig(env: NodeJS.ProcessEnv = process.env): SimulatorConfig {
  return loadConfig(SimulatorEnv, env);
}

/** The registry file to read ('' = generate at the preset's scale). */
export function registryFileFor(config: Pick<SimulatorConfig, 'SIM_REGISTRY_FILE' | 'SIM_PRESET'>): string {
  if (config.SIM_REGISTRY_FILE !== '') return config.SIM_REGISTRY_FILE;
  return config.SIM_PRESET === 'small' ? DEFAULT_REGISTRY_FILE : '';
}

/** Report intervals of a preset, with overrides. */
export function intervalsFor(config: Pick<SimulatorConfig, 'SIM_INTERVALS'>): ReportIntervals {
  return { ...DEFAULT_INTERVALS, ...config.SIM_INTERVALS };
}

/** CLI flags (`--count 1000`, `--faults default`, `--dry-run`) as environment overrides. */
export function flagsToEnv(argv: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = (eq > 0 ? arg.slice(2, eq) : arg.slice(2)).toUpperCase().replace(/-/g, '_');
    let value = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (eq < 0 && (value === undefined || value.startsWith('--'))) value = 'true';
    else if (eq < 0) i++;
    env[name === 'MQTT_URL' || name === 'LOG_LEVEL' ? name : `SIM_${name}`] = value!;
  }
  return env;
}

/** Faults of a config (re-exported type for callers). */
export type { FaultConfig };
