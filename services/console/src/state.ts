import type { KeyObject } from 'node:crypto';
// The console's picture of the fleet, built from the registry, the S1 telemetry and the dead letters:
// last seen and state per equipment, the alerts, message rates and dead letters per minute. Pure apart
// from the clock it is given; fed by feed.ts, read by app.ts.
import {
  communeName,
  type DeadLetter,
  type Equipment,
  type Family,
  parseTelemetryTopic,
  MQTT_TOPIC_ROOT,
} from '@ondijon/contracts';
import { openDeadLetter, type Policy } from '@ondijon/governance';
import { envelopeOfStreamLetter } from './kafka-records';
import { asFamily, maskPayload, type ShownPayload } from './mask';

/** Reporting interval assumed before an equipment's first report (the simulator's defaults), s. */
export const DEFAULT_INTERVAL_S: Record<Family, number> = {
  streetlight: 900,
  'lighting-cabinet': 900,
  'signal-controller': 300,
  'traffic-detector': 300,
  'winter-vehicle': 300,
  'weather-station': 600,
};

/** Families whose telemetry is S2 (vehicle positions): the console does not read it, so it never alerts on them. */
export const UNFOLLOWED_FAMILIES: readonly Family[] = ['winter-vehicle'];

/** Kinds of alert (issue 15, item 2). */
export type AlertKind = 'silent' | 'fault' | 'signal-mode' | 'door-open';

/** One active alert. */
export interface Alert {
  id: string;
  kind: AlertKind;
  equipmentId: string;
  family: Family;
  operator: string;
  commune: string;
  /** What is wrong (fault names, the signal mode, seconds of silence). */
  detail: string;
  /** When the console first saw it (ISO). */
  since: string;
}

/** An equipment as the console shows it. */
export interface EquipmentRow {
  id: string;
  family: Family;
  operator: string;
  commune: string;
  communeName: string;
  lat: number;
  lon: number;
  /** Observation time of the last report (ISO), null when none seen. */
  lastSeen: string | null;
  intervalS: number;
  /** Current state, a few fields by family (lamp state, faults, signal mode, door, ice warning…). */
  state: Record<string, string | number | boolean | string[]>;
  /** `ok`, `alert`, `waiting` (no report yet), `unfollowed` (S2 family, not read by the console). */
  status: 'ok' | 'alert' | 'waiting' | 'unfollowed';
  alerts: AlertKind[];
  /** Bumped on every change (live updates send rows newer than the client's version). */
  version: number;
}

/**
 * Rows that only reported again, as a live update sends them: equipment `ids[i]` was last seen at
 * `t0 + dt[i]` (epoch ms).
 */
export interface Seen {
  t0: number;
  ids: string[];
  dt: number[];
}

/** A dead letter as the console shows it. */
export interface RejectionRow {
  id: string;
  source: 'ingest' | 'stream';
  code: string;
  reason: string;
  /** Fields named by the validation issues. */
  fields: string[];
  operator: string | null;
  family: string | null;
  equipmentId: string | null;
  receivedAt: string;
  rejectedBy: string;
  /** The topic a stream letter's record was read from (logical name); its replay writes it back there. */
  kafkaTopic: string | null;
  /** The class of the letter's payload as far as known. */
  sensitivity: DeadLetter['sensitivity'];
  payload: ShownPayload;
  /** Base64 of the raw payload, kept for an audited reveal by the governance officer; never sent otherwise. */
  raw: string | null;
}

interface Tracked {
  row: EquipmentRow;
  /**
   * The version at which what a page shows of the row other than its last-seen time (state, status,
   * alerts) last changed: live updates send such rows whole, the others as a last-seen time only.
   */
  shownVersion: number;
  observedMs: number | null;
  faults: string[];
  /** `family|operator`, the key of its message rate (built once: every message counts). */
  rateKey: string;
}

const SECOND = 1000;
const RATE_SECONDS = 15 * 60;
const DLQ_MINUTES = 60;

/** Options of the state. */
export interface ConsoleStateOptions {
  policy: Policy;
  /** Wall clock, ms. */
  now?: () => number;
  silentIntervals?: number;
  deadLettersKept?: number;
  /**
   * The replay tool's private key, when the console replays: ingest seals each dead letter's payload to
   * it, and the console opens a letter before masking it by class like any other.
   */
  deadLetterKey?: KeyObject;
}

/** The console's state (see the module comment). */
export class ConsoleState {
  private readonly byId = new Map<string, Tracked>();
  private readonly policy: Policy;
  private readonly now: () => number;
  private readonly silentIntervals: number;
  private readonly deadLettersKept: number;
  private readonly deadLetterKey: KeyObject | undefined;
  private version = 0;
  /** Event clock: the latest observation time seen and the wall time it was seen. */
  private clockObserved: number | null = null;
  private clockWall = 0;
  /** Event time at which the console started following (a never-seen equipment is silent from there). */
  private followedSince: number | null = null;
  private activeAlerts = new Map<string, Alert>();
  private readonly rates = new Map<number, Map<string, number>>();
  /** The second being counted and its bucket (most messages land in the same one). */
  private rateSecond = NaN;
  private rateBucket = new Map<string, number>();
  /** Bumped when the active alerts change (live updates send them only then). */
  private alertsVersionNumber = 0;
  private readonly dlqPerMinute = new Map<number, Map<string, number>>();
  private readonly rejections: RejectionRow[] = [];
  /** Counters since start (metrics). */
  readonly counts = { telemetry: 0, deadLetters: 0, unknownEquipment: 0 };
  /** Kafka timestamp of the newest telemetry record read (when ingest accepted it), ms; 0 before the first. */
  newestRecordMs = 0;
  /** Alerts raised since start, by `kind|operator` (metrics: a Prometheus rule sees new faults). */
  readonly raised = new Map<string, number>();

  constructor(registry: readonly Equipment[], options: ConsoleStateOptions) {
    this.deadLetterKey = options.deadLetterKey;
    this.policy = options.policy;
    this.now = options.now ?? Date.now;
    this.silentIntervals = options.silentIntervals ?? 3;
    this.deadLettersKept = options.deadLettersKept ?? 5000;
    for (const eq of registry) {
      if (eq.decommissionedOn !== undefined) continue;
      const unfollowed = UNFOLLOWED_FAMILIES.includes(eq.family);
      this.byId.set(eq.equipmentId, {
        shownVersion: 0,
        observedMs: null,
        faults: [],
        rateKey: `${eq.family}|${eq.operator}`,
        row: {
          id: eq.equipmentId,
          family: eq.family,
          operator: eq.operator,
          commune: eq.commune,
          communeName: communeName(eq.commune) ?? eq.commune,
          lat: eq.location.lat,
          lon: eq.location.lon,
          lastSeen: null,
          intervalS: DEFAULT_INTERVAL_S[eq.family],
          state: {},
          status: unfollowed ? 'unfollowed' : 'waiting',
          alerts: [],
          version: 0,
        },
      });
    }
  }

  /** Number of registered (not decommissioned) equipment. */
  get size(): number {
    return this.byId.size;
  }

  /** The current version (live clients ask for rows newer than theirs). */
  get currentVersion(): number {
    return this.version;
  }

  /** The event clock, ms: the latest observation seen, moved on by the wall time since (null before any). */
  clock(): number | null {
    if (this.clockObserved === null) return null;
    return this.clockObserved + Math.max(0, this.now() - this.clockWall);
  }

  /** A telemetry envelope read from an S1 topic. */
  onTelemetry(envelope: {
    subject?: string;
    time?: string;
    operator?: string;
    type?: string;
    data?: unknown;
  }): void {
    this.counts.telemetry++;
    const id = envelope.subject ?? '';
    const tracked = this.byId.get(id);
    const wall = this.now();
    if (tracked === undefined) {
      const family = asFamily(/telemetry\.([a-z-]+)\.v\d+$/.exec(envelope.type ?? '')?.[1]);
      this.countRate(`${family ?? 'unknown'}|${envelope.operator ?? 'unknown'}`, wall);
      this.counts.unknownEquipment++;
      return;
    }
    const op = envelope.operator;
    this.countRate(
      op === undefined || op === tracked.row.operator ? tracked.rateKey : `${tracked.row.family}|${op}`,
      wall,
    );
    const time = envelope.time ?? '';
    const observed = Date.parse(time);
    if (!Number.isFinite(observed)) return;
    if (this.clockObserved === null || observed >= this.clockObserved + Math.max(0, wall - this.clockWall)) {
      this.clockObserved = observed;
      this.clockWall = wall;
    }
    this.followedSince ??= observed;
    if (tracked.observedMs !== null && observed < tracked.observedMs) return; // an older report: state is newer
    tracked.observedMs = observed;
    const data = (envelope.data ?? {}) as Record<string, unknown>;
    const row = tracked.row;
    // Ingest writes `time` as toISOString does: kept as it is, not formatted again per message.
    row.lastSeen = isCanonicalIso(time) ? time : new Date(observed).toISOString();
    if (typeof data.intervalS === 'number' && data.intervalS > 0) row.intervalS = data.intervalS;
    row.version = ++this.version;
    // Compared before anything is built: most reports repeat the state, and every object made per record
    // is garbage the collector must clear at ingest's full rate (bench:console's profile, docs/console.md).
    if (!stateIs(row.family, data, row.state)) {
      row.state = stateOf(row.family, data);
      tracked.shownVersion = row.version;
    }
    if (!sameTexts(data.faults, tracked.faults))
      tracked.faults = Array.isArray(data.faults) ? data.faults.map(String) : [];
  }

  /** A dead letter read from `dlq.s3.ingest.v1` or `dlq.s3.stream.v1`. */
  onDeadLetter(sealed: DeadLetter, source: 'ingest' | 'stream'): void {
    let letter = sealed;
    if (sealed.sealed !== undefined && this.deadLetterKey !== undefined) {
      try {
        letter = openDeadLetter(sealed, this.deadLetterKey);
      } catch {
        /* sealed to another key: shown as masked */
      }
    }
    this.counts.deadLetters++;
    const received = Date.parse(letter.receivedAt);
    const minute = Math.floor(received / 60_000);
    const perCode = this.dlqPerMinute.get(minute) ?? new Map<string, number>();
    perCode.set(letter.code, (perCode.get(letter.code) ?? 0) + 1);
    this.dlqPerMinute.set(minute, perCode);
    for (const m of this.dlqPerMinute.keys())
      if (m < Math.floor(this.now() / 60_000) - DLQ_MINUTES) this.dlqPerMinute.delete(m);

    let operator: string | null = null;
    let family: string | null = null;
    let equipmentId: string | null = null;
    if (letter.mqttTopic !== undefined) {
      const at = letter.mqttTopic.indexOf(`${MQTT_TOPIC_ROOT}/`);
      const parsed = at < 0 ? undefined : parseTelemetryTopic(letter.mqttTopic.slice(at));
      if (parsed?.kind === 'telemetry') ({ operator, family, equipmentId } = parsed);
      else if (parsed?.kind === 'excluded') {
        operator = parsed.operator;
        equipmentId = parsed.equipmentId;
        family = parsed.source;
      }
    } else if (letter.payloadBase64 !== null) {
      // A stream dead letter holds the envelope it could not use: its operator and subject.
      // Not an envelope: no operator known, only supervisors see it.
      const env = envelopeOfStreamLetter(Buffer.from(letter.payloadBase64, 'base64'));
      if (typeof env?.operator === 'string') operator = env.operator;
      if (typeof env?.subject === 'string') equipmentId = env.subject;
      family = equipmentId === null ? null : (this.byId.get(equipmentId)?.row.family ?? null);
    }
    const fam = asFamily(family ?? letter.expectedSchema);
    const row: RejectionRow = {
      id: letter.id,
      source,
      code: letter.code,
      reason: letter.reason,
      fields: [...new Set((letter.issues ?? []).map((i) => i.path).filter((p) => p !== ''))],
      operator,
      family: family ?? fam ?? null,
      equipmentId,
      receivedAt: letter.receivedAt,
      rejectedBy: letter.rejectedBy,
      kafkaTopic: letter.kafkaTopic ?? null,
      sensitivity: letter.sensitivity,
      // A stream letter's payload is a whole envelope: it is shown only when its record class is S0/S1.
      payload:
        source === 'stream'
          ? letter.sensitivity === 'S0' || letter.sensitivity === 'S1'
            ? maskPayload(this.policy, undefined, letter.payloadBase64, 'S1')
            : { status: letter.payloadBase64 === null ? 'absent' : 'masked', text: null, maskedFields: [] }
          : maskPayload(this.policy, fam, letter.payloadBase64, letter.sensitivity),
      raw: letter.payloadBase64,
    };
    // A letter replayed and rejected again supersedes the earlier one with the same id.
    const existing = this.rejections.findIndex((r) => r.id === row.id);
    if (existing >= 0) this.rejections.splice(existing, 1);
    this.rejections.push(row);
    if (this.rejections.length > this.deadLettersKept) this.rejections.shift();
  }

  /** Recomputes the alerts (call about once a second): silent, faults, signal mode, door open. */
  refreshAlerts(): void {
    const clock = this.clock();
    const next = new Map<string, Alert>();
    const nowIso = new Date(this.now()).toISOString();
    let changed = false;
    for (const t of this.byId.values()) {
      const row = t.row;
      if (row.status === 'unfollowed') continue;
      // Most equipment has no alert: nothing allocated for it.
      const since = t.observedMs ?? this.followedSince;
      const silent =
        clock !== null && since !== null && (clock - since) / SECOND > this.silentIntervals * row.intervalS;
      const mode = row.state.mode;
      if (
        !silent &&
        t.faults.length === 0 &&
        mode !== 'flashing' &&
        mode !== 'degraded' &&
        mode !== 'off' &&
        row.state.doorOpen !== true
      ) {
        const status = t.observedMs === null ? 'waiting' : 'ok';
        if (status !== row.status || row.alerts.length > 0) {
          row.status = status;
          row.alerts = [];
          row.version = ++this.version;
          t.shownVersion = row.version;
        }
        continue;
      }
      const kinds: [AlertKind, string][] = [];
      if (silent) kinds.push(['silent', `${Math.round((clock - since) / SECOND)} s`]);
      if (t.faults.length > 0) kinds.push(['fault', t.faults.join(', ')]);
      if (mode === 'flashing' || mode === 'degraded' || mode === 'off')
        kinds.push(['signal-mode', String(mode)]);
      if (row.state.doorOpen === true) kinds.push(['door-open', '']);
      for (const [kind, detail] of kinds) {
        const id = `${row.id}:${kind}`;
        const before = this.activeAlerts.get(id);
        if (before === undefined) {
          const key = `${kind}|${row.operator}`;
          this.raised.set(key, (this.raised.get(key) ?? 0) + 1);
          changed = true;
        } else if (before.detail !== detail) changed = true;
        next.set(id, {
          id,
          kind,
          equipmentId: row.id,
          family: row.family,
          operator: row.operator,
          commune: row.commune,
          detail,
          since: before?.since ?? nowIso,
        });
      }
      const alertKinds = kinds.map(([k]) => k);
      const status: EquipmentRow['status'] =
        alertKinds.length > 0 ? 'alert' : t.observedMs === null ? 'waiting' : 'ok';
      if (status !== row.status || alertKinds.join() !== row.alerts.join()) {
        row.status = status;
        row.alerts = alertKinds;
        row.version = ++this.version;
        t.shownVersion = row.version;
      }
    }
    if (changed || next.size !== this.activeAlerts.size) this.alertsVersionNumber++;
    this.activeAlerts = next;
  }

  /** Bumped whenever the active alerts (or one's detail) change. */
  get alertsVersion(): number {
    return this.alertsVersionNumber;
  }

  /** Active alerts, of one operator or all. */
  alerts(operator?: string): Alert[] {
    const all = [...this.activeAlerts.values()];
    return operator === undefined ? all : all.filter((a) => a.operator === operator);
  }

  /** Equipment rows, of one operator or all; only those changed after `sinceVersion` when given. */
  equipment(operator?: string, sinceVersion = -1): EquipmentRow[] {
    const out: EquipmentRow[] = [];
    for (const { row } of this.byId.values())
      if ((operator === undefined || row.operator === operator) && row.version > sinceVersion) out.push(row);
    return out;
  }

  /**
   * What changed in the rows of one operator (or all) since a version, for a page that has them: the
   * rows whose state, status or alerts changed, and the others that only reported again, as the ids and
   * last-seen times of `seen` (at full rate nearly every row reports between two pushes, and its
   * last-seen time is all that changed; bench:console, docs/console.md).
   */
  changesSince(operator: string | undefined, sinceVersion: number): { rows: EquipmentRow[]; seen: Seen } {
    const rows: EquipmentRow[] = [];
    const ids: string[] = [];
    const observed: number[] = [];
    let t0 = Number.POSITIVE_INFINITY;
    for (const t of this.byId.values()) {
      const row = t.row;
      if (row.version <= sinceVersion || (operator !== undefined && row.operator !== operator)) continue;
      if (t.shownVersion > sinceVersion || t.observedMs === null) rows.push(row);
      else {
        ids.push(row.id);
        observed.push(t.observedMs);
        if (t.observedMs < t0) t0 = t.observedMs;
      }
    }
    return {
      rows,
      seen: { t0: ids.length > 0 ? t0 : 0, ids, dt: observed.map((o) => o - t0) },
    };
  }

  /** One equipment row. */
  get(id: string): EquipmentRow | undefined {
    return this.byId.get(id)?.row;
  }

  /** Dead letters, newest first, of one operator or all (supervisors also see those of no known operator). */
  rejectionsOf(operator?: string, limit = 500): RejectionRow[] {
    const out: RejectionRow[] = [];
    for (let i = this.rejections.length - 1; i >= 0 && out.length < limit; i--) {
      const r = this.rejections[i]!;
      if (operator === undefined || r.operator === operator) out.push(r);
    }
    return out;
  }

  /** One dead letter by id. */
  rejection(id: string): RejectionRow | undefined {
    return this.rejections.find((r) => r.id === id);
  }

  /** Dead letters per code of one operator or all, in the letters kept. */
  rejectionCounts(operator?: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.rejections)
      if (operator === undefined || r.operator === operator) counts[r.code] = (counts[r.code] ?? 0) + 1;
    return counts;
  }

  private countRate(key: string, wall: number): void {
    const second = Math.floor(wall / SECOND);
    let bucket = this.rateBucket;
    if (second !== this.rateSecond) {
      const known = this.rates.get(second);
      if (known === undefined) {
        bucket = new Map();
        this.rates.set(second, bucket);
        for (const s of this.rates.keys()) if (s <= second - RATE_SECONDS) this.rates.delete(s);
      } else bucket = known;
      this.rateSecond = second;
      this.rateBucket = bucket;
    }
    bucket.set(key, (bucket.get(key) ?? 0) + 1);
  }

  /**
   * The overview: messages per second by family and by operator over the last 15 minutes (one point per
   * `stepS` seconds, the mean rate of the step), and dead letters per minute by code over the last hour.
   */
  overview(operator?: string, stepS = 10) {
    // Whole steps only: the step in progress would show a rate too low.
    const nowS = Math.floor(this.now() / SECOND / stepS) * stepS;
    const steps = Math.floor(RATE_SECONDS / stepS);
    const times: number[] = [];
    const byFamily: Record<string, number[]> = {};
    const byOperator: Record<string, number[]> = {};
    for (let i = 0; i < steps; i++) times.push(nowS - (steps - i) * stepS);
    const add = (series: Record<string, number[]>, key: string, index: number, n: number) => {
      (series[key] ??= new Array<number>(steps).fill(0))[index]! += n / stepS;
    };
    for (const [second, bucket] of this.rates) {
      if (second >= nowS) continue;
      const index = steps - 1 - Math.floor((nowS - 1 - second) / stepS);
      if (index < 0 || index >= steps) continue;
      for (const [key, n] of bucket) {
        const [family, op] = key.split('|') as [string, string];
        if (operator !== undefined && op !== operator) continue;
        add(byFamily, family, index, n);
        add(byOperator, op, index, n);
      }
    }
    const nowMin = Math.floor(this.now() / 60_000);
    const minutes: number[] = [];
    const byCode: Record<string, number[]> = {};
    for (let i = DLQ_MINUTES - 1; i >= 0; i--) minutes.push((nowMin - i) * 60);
    // Per-minute counts are over all operators; an operator sees counts of its own letters instead.
    if (operator === undefined) {
      for (const [minute, perCode] of this.dlqPerMinute) {
        const index = DLQ_MINUTES - 1 - (nowMin - minute);
        if (index < 0 || index >= DLQ_MINUTES) continue;
        for (const [code, n] of perCode)
          (byCode[code] ??= new Array<number>(DLQ_MINUTES).fill(0))[index]! += n;
      }
    } else {
      for (const r of this.rejections) {
        if (r.operator !== operator) continue;
        const index = DLQ_MINUTES - 1 - (nowMin - Math.floor(Date.parse(r.receivedAt) / 60_000));
        if (index < 0 || index >= DLQ_MINUTES) continue;
        (byCode[r.code] ??= new Array<number>(DLQ_MINUTES).fill(0))[index]! += 1;
      }
    }
    return { rates: { times, byFamily, byOperator }, deadLetters: { minutes, byCode } };
  }
}

/** True if `s` is an ISO 8601 time as `Date.prototype.toISOString` writes it (`2026-01-01T00:00:00.000Z`). */
function isCanonicalIso(s: string): boolean {
  return (
    s.length === 24 &&
    s.charCodeAt(4) === 45 &&
    s.charCodeAt(7) === 45 &&
    s.charCodeAt(10) === 84 &&
    s.charCodeAt(13) === 58 &&
    s.charCodeAt(16) === 58 &&
    s.charCodeAt(19) === 46 &&
    s.charCodeAt(23) === 90
  );
}

/** Whether `v` (a report's array, or not an array: none) holds the same texts as `texts`, without copying it. */
function sameTexts(v: unknown, texts: readonly string[]): boolean {
  if (!Array.isArray(v)) return texts.length === 0;
  if (v.length !== texts.length) return false;
  for (let i = 0; i < v.length; i++) if (String(v[i]) !== texts[i]) return false;
  return true;
}

/** Whether a report's data shows the state a row has (`stateOf(family, d)` equal to `state`), building nothing. */
function stateIs(family: Family, d: Record<string, unknown>, state: EquipmentRow['state']): boolean {
  if (family === 'traffic-detector') return state.vehicles === vehiclesOf(d);
  // `state` came from stateOf for the same family (or is the empty state before a report): its keys are
  // among the family's fields.
  for (const k of STATE_FIELDS[family]) {
    const v = d[k];
    const shown = state[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      if (v !== shown) return false;
    } else if (Array.isArray(v)) {
      if (!Array.isArray(shown) || !sameTexts(v, shown)) return false;
    } else if (k in state) return false; // shown, and no longer reported
  }
  return true;
}

/** The vehicles a traffic detector's report counts over its lanes. */
function vehiclesOf(d: Record<string, unknown>): number {
  const lanes = Array.isArray(d.lanes) ? (d.lanes as { vehicles?: unknown }[]) : [];
  return lanes.reduce((s, l) => s + (typeof l.vehicles === 'number' ? l.vehicles : 0), 0);
}

/** The state fields shown per family (issue 15: lamp on/off/dimmed and faults, signal mode, door, weather). */
const STATE_FIELDS: Record<Exclude<Family, 'traffic-detector'>, readonly string[]> = {
  streetlight: ['state', 'dimLevelPct', 'faults'],
  'lighting-cabinet': ['circuitsOn', 'doorOpen', 'faults'],
  'signal-controller': ['mode', 'plan', 'doorOpen', 'commsOk', 'faults'],
  'weather-station': ['surfaceTempC', 'airTempC', 'iceWarning'],
  'winter-vehicle': [],
};

/** The state fields shown for a family, read from a report's data (once per message: no closure, no rest array). */
function stateOf(family: Family, d: Record<string, unknown>): EquipmentRow['state'] {
  if (family === 'traffic-detector') return { vehicles: vehiclesOf(d) };
  const out: EquipmentRow['state'] = {};
  for (const k of STATE_FIELDS[family]) {
    const v = d[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.map(String);
  }
  return out;
}
