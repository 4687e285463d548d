import type { ErrorCode } from '@ondijon/contracts';

/** Faults the simulator can inject (rates are per generated report unless said otherwise). */
export interface FaultConfig {
  /** Payload that is not JSON (truncated text). */
  malformedJson: number;
  /** JSON with wrong field types (seq as a string, a number as text). */
  wrongTypes: number;
  /** The same report (same seq) sent twice. */
  duplicate: number;
  /** A report held back and sent after the next report of its equipment (same window, not late). */
  outOfOrder: number;
  /** An extra report whose observedAt is `lateByMs` in the past: older than any window + grace. */
  late: number;
  /** A report whose device clock is `clockSkewMs` ahead (far future). */
  clockSkew: number;
  /** A report published under another operator's topic prefix. */
  spoofedOperator: number;
  /** An extra message on an S4 source topic (`anpr-camera`, `cctv-camera`, `police-radio`). */
  excludedSource: number;
  /** Probability per simulated hour that a burst starts: messages are held for `burstMs` and released at once. */
  burstPerHour: number;
  lateByMs: number;
  clockSkewMs: number;
  burstMs: number;
}

/** No fault at all: a clean stream. */
export const NO_FAULTS: FaultConfig = {
  malformedJson: 0,
  wrongTypes: 0,
  duplicate: 0,
  outOfOrder: 0,
  late: 0,
  clockSkew: 0,
  spoofedOperator: 0,
  excludedSource: 0,
  burstPerHour: 0,
  // Beyond any window + grace + the stream runtime's revise horizon (6 days): routed as late, never revised.
  lateByMs: 8 * 86_400_000,
  clockSkewMs: 10 * 365 * 86_400_000,
  burstMs: 10 * 60_000,
};

/** Every fault at a low rate: what `--faults` turns on. */
export const DEFAULT_FAULTS: FaultConfig = {
  ...NO_FAULTS,
  malformedJson: 0.002,
  wrongTypes: 0.002,
  duplicate: 0.005,
  outOfOrder: 0.005,
  late: 0.002,
  clockSkew: 0.002,
  spoofedOperator: 0.002,
  excludedSource: 0.002,
  burstPerHour: 0.05,
};

/** Kinds of injected faults. */
export type FaultKind =
  | 'malformed-json'
  | 'wrong-types'
  | 'duplicate'
  | 'out-of-order'
  | 'late'
  | 'clock-skew'
  | 'spoofed-operator'
  | 'excluded-source';

/**
 * What should become of a message:
 * - `accepted`: ingested and counted in its window;
 * - `duplicate`: ingested again with the same event id, absorbed by idempotent downstream hops;
 * - `rejected`: dead-lettered by ingest with `expectedCode`;
 * - `late`: ingested, then counted late by the processors (its window closed long ago).
 */
export type Outcome = 'accepted' | 'duplicate' | 'rejected' | 'late';

/** The expected dead-letter code of each rejected fault kind. */
export const EXPECTED_CODE: Partial<Record<FaultKind, ErrorCode>> = {
  'malformed-json': 'ONDIJON_PAYLOAD_NOT_JSON',
  'wrong-types': 'ONDIJON_SCHEMA_INVALID',
  'clock-skew': 'ONDIJON_TIME_IN_FUTURE',
  'spoofed-operator': 'ONDIJON_OPERATOR_MISMATCH',
  'excluded-source': 'ONDIJON_SOURCE_EXCLUDED',
};

/** Parses `malformedJson=0.01,late=0.002` (or `default` / `none`) over a base config. */
export function parseFaultSpec(spec: string): FaultConfig {
  const trimmed = spec.trim();
  if (trimmed === '' || trimmed === 'none' || trimmed === 'false') return { ...NO_FAULTS };
  if (trimmed === 'default' || trimmed === 'true') return { ...DEFAULT_FAULTS };
  const out: FaultConfig = { ...NO_FAULTS };
  for (const part of trimmed.split(',')) {
    const [rawKey, rawValue] = part.split('=').map((s) => s.trim());
    if (rawKey === 'default') {
      Object.assign(out, DEFAULT_FAULTS);
      continue;
    }
    if (!rawKey || rawValue === undefined || !(rawKey in NO_FAULTS))
      throw new Error(`unknown fault "${part}" (known: ${Object.keys(NO_FAULTS).join(', ')})`);
    const value = Number(rawValue);
    if (!Number.isFinite(value) || value < 0) throw new Error(`fault ${rawKey} needs a non-negative number`);
    out[rawKey as keyof FaultConfig] = value;
  }
  return out;
}
