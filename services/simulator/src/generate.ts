import { EXCLUDED_SOURCE_FAMILIES, type ErrorCode, telemetryTopic } from '@ondijon/contracts';
import { EXPECTED_CODE, type FaultConfig, type FaultKind, NO_FAULTS, type Outcome } from './faults';
import {
  type CabinetDevice,
  type ControllerDevice,
  type DetectorDevice,
  type Device,
  type Fleet,
  type LuminaireDevice,
  round,
  type StationDevice,
  type VehicleDevice,
} from './fleet';
import {
  airTempC,
  communeOffsetC,
  humidityPct,
  lightLevel,
  lightLevelHours,
  snowing,
  surfaceTempC,
  trafficDemand,
} from './models';
import { noise01, type Rng, rngFor } from './prng';
import { localHour, localWeekday } from './sun';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Sequence numbers of injected late reports live above this, so they never collide with on-time reports. */
export const LATE_SEQ_BASE = 1_000_000_000_000;
/** Operators of the Métropole's contracts (the MQTT operator segments). */
export const OPERATORS = ['citelum', 'bouygues-es', 'dijon-metropole'] as const;
/**
 * Late reports are injected only after the stream has run this long, so every partition's stream time
 * (and the processors' watermark) has advanced past the start: before that a record cannot be late.
 */
export const LATE_WARMUP_MS = 12 * HOUR_MS;

/** Ground truth of one message: what it is and what the pipeline must do with it. */
export interface MessageTag {
  /** Ordinal in the stream (0-based). */
  n: number;
  /** Topic family segment (an S4 source name for excluded sources). */
  family: string;
  equipmentId: string;
  /** Operator of the equipment in the registry (the topic may say otherwise when spoofed). */
  operator: string;
  /** Commune of the equipment (registry). */
  commune: string;
  seq: number;
  /** Observation time written in the payload. */
  observedAt: string;
  /** Injected fault, or null for a plain report. */
  fault: FaultKind | null;
  /** Released as part of a burst. */
  burst?: boolean;
  outcome: Outcome;
  /** Dead-letter code expected for a rejected message. */
  expectedCode?: ErrorCode;
}

/** One message of the stream: exactly what is published, when, and its ground truth. */
export interface SimMessage {
  topic: string;
  /** Exact payload text (not always JSON: malformed payloads are part of the stream). */
  payload: string;
  /** Simulated publish time, epoch ms (non-decreasing along the stream). */
  at: number;
  tag: MessageTag;
}

type Payload = Record<string, unknown>;

interface LuminaireState {
  burningHours: number;
  fault: { kind: 'lamp' | 'driver' | 'communication'; until: number } | null;
  reportComms: boolean;
}
interface EpisodeState {
  fault: { kind: string; until: number } | null;
}
interface VehicleState {
  odometerM: number;
}
type DeviceState = LuminaireState | EpisodeState | VehicleState | null;

function initialState(d: Device): DeviceState {
  switch (d.kind) {
    case 'streetlight':
      return { burningHours: d.initialBurningHours, fault: null, reportComms: false };
    case 'lighting-cabinet':
    case 'signal-controller':
      return { fault: null };
    case 'winter-vehicle':
      return { odometerM: 0 };
    default:
      return null;
  }
}

const iso = (t: number) => new Date(t).toISOString();

function luminaireReport(d: LuminaireDevice, t: number, s: LuminaireState, rng: Rng): Payload | null {
  const intervalMs = d.intervalS * 1000;
  if (s.fault && t >= s.fault.until) {
    s.reportComms = s.fault.kind === 'communication';
    s.fault = null;
  }
  if (!s.fault && rng.chance(0.0003)) {
    const u = rng.next();
    s.fault =
      u < 0.6
        ? { kind: 'lamp', until: t + rng.uniform(1, 3) * DAY_MS }
        : u < 0.85
          ? { kind: 'driver', until: t + rng.uniform(2, 12) * HOUR_MS }
          : { kind: 'communication', until: t + rng.uniform(1, 6) * HOUR_MS };
  }
  // A luminaire that lost its link says nothing until it is back; the first report then flags it.
  if (s.fault?.kind === 'communication') return null;
  const faults: string[] = [];
  if (s.fault) faults.push(s.fault.kind);
  if (s.reportComms) {
    faults.push('communication');
    s.reportComms = false;
  }
  const lampOut = s.fault?.kind === 'lamp';
  const level = lampOut ? 0 : lightLevel(t);
  const factor = s.fault?.kind === 'driver' ? 1.1 : 1;
  const { fullHours, burningHours } = lampOut
    ? { fullHours: 0, burningHours: 0 }
    : lightLevelHours(t - intervalMs, t);
  s.burningHours += burningHours;
  const payload: Payload = {
    state: level === 0 ? 'off' : level < 1 ? 'dimmed' : 'on',
    dimLevelPct: level * 100,
    powerW: round(d.nominalW * level * factor, 1),
    energyWh: round(d.nominalW * fullHours * factor, 3),
    intervalS: d.intervalS,
    burningHours: round(s.burningHours, 2),
    faults,
  };
  if (d.adaptive)
    payload.presenceDetections = level > 0 ? rng.poisson(25 * trafficDemand(t) * (d.intervalS / 900)) : 0;
  return payload;
}

function cabinetReport(d: CabinetDevice, t: number, s: EpisodeState, rng: Rng): Payload {
  const intervalMs = d.intervalS * 1000;
  if (s.fault && t >= s.fault.until) s.fault = null;
  if (!s.fault && rng.chance(0.001)) s.fault = { kind: 'breaker', until: t + rng.uniform(2, 8) * HOUR_MS };
  const nominal = d.luminaires.reduce((sum, l) => sum + l.nominalW, 0);
  const breaker = s.fault?.kind === 'breaker';
  const share = breaker ? (d.circuits - 1) / d.circuits : 1;
  const level = lightLevel(t);
  const { fullHours } = lightLevelHours(t - intervalMs, t);
  const doorOpen = rng.chance(0.002);
  const faults: string[] = [];
  if (breaker) faults.push('breaker');
  if (doorOpen) faults.push('door');
  // 4 % line losses and a 12 W controller that never sleeps.
  return {
    circuitsOn: level > 0 ? d.circuits - (breaker ? 1 : 0) : 0,
    powerW: round(nominal * share * level * 1.04 + 12, 1),
    energyWh: round(nominal * share * fullHours * 1.04 + (12 * d.intervalS) / 3600, 3),
    intervalS: d.intervalS,
    doorOpen,
    faults,
  };
}

function controllerReport(d: ControllerDevice, t: number, s: EpisodeState, rng: Rng): Payload {
  if (s.fault && t >= s.fault.until) s.fault = null;
  if (!s.fault && rng.chance(0.0005)) {
    const u = rng.next();
    s.fault =
      u < 0.5
        ? { kind: 'lamp-failure', until: t + rng.uniform(2, 24) * HOUR_MS }
        : u < 0.8
          ? { kind: 'communication', until: t + rng.uniform(0.5, 3) * HOUR_MS }
          : { kind: 'power', until: t + rng.uniform(0.25, 1) * HOUR_MS };
  }
  const h = localHour(t);
  const kind = s.fault?.kind;
  const mode = kind === 'power' ? 'off' : d.nightFlashing && h >= 1 && h < 5 ? 'flashing' : 'normal';
  const plan = h < 6 || h >= 22 ? 1 : h < 10 ? 2 : h < 16 ? 3 : 4;
  return {
    mode,
    plan,
    lampFailures: kind === 'lamp-failure' ? 1 + (noise01(s.fault!.until, 'heads') < 0.3 ? 1 : 0) : 0,
    doorOpen: rng.chance(0.001),
    commsOk: kind !== 'communication',
    intervalS: d.intervalS,
    faults: kind ? [kind] : [],
  };
}

function detectorReport(d: DetectorDevice, t: number, rng: Rng): Payload {
  const demand = trafficDemand(t - (d.intervalS * 1000) / 2);
  return {
    intervalS: d.intervalS,
    lanes: d.peakFlowPerLane.map((peak, i) => {
      const vehicles = rng.poisson((peak * demand * d.intervalS) / 3600);
      const flowPerHour = (vehicles * 3600) / d.intervalS;
      // ~0.43 s of loop occupancy per vehicle (6 m at 50 km/h), a little more in congestion.
      const occupancyPct = Math.min(95, round(flowPerHour * 0.012 * (1 + flowPerHour / 2000), 1));
      const meanSpeedKmh =
        vehicles === 0
          ? null
          : round(Math.max(5, Math.min(90, 50 - occupancyPct * 0.8 + rng.normal(0, 3))), 1);
      return { lane: i + 1, vehicles, occupancyPct, meanSpeedKmh };
    }),
  };
}

function positionOnRoute(
  route: VehicleDevice['route'],
  odometerM: number,
): { lat: number; lon: number; headingDeg: number } {
  const seg = route.map((p, i) => {
    const q = route[(i + 1) % route.length]!;
    const dy = (q.lat - p.lat) * 111_320;
    const dx = (q.lon - p.lon) * 111_320 * Math.cos((p.lat * Math.PI) / 180);
    return { p, q, len: Math.hypot(dx, dy), heading: ((Math.atan2(dx, dy) * 180) / Math.PI + 360) % 360 };
  });
  const perimeter = seg.reduce((s, x) => s + x.len, 0);
  let d = perimeter > 0 ? odometerM % perimeter : 0;
  for (const s of seg) {
    if (d <= s.len) {
      const f = s.len === 0 ? 0 : d / s.len;
      return {
        lat: round(s.p.lat + f * (s.q.lat - s.p.lat), 6),
        lon: round(s.p.lon + f * (s.q.lon - s.p.lon), 6),
        headingDeg: round(s.heading, 1),
      };
    }
    d -= s.len;
  }
  return { lat: route[0]!.lat, lon: route[0]!.lon, headingDeg: 0 };
}

function vehicleReport(d: VehicleDevice, t: number, s: VehicleState, rng: Rng, seed: number): Payload {
  const commune = d.eq.commune;
  const surface = surfaceTempC(seed, commune, t);
  const h = localHour(t);
  const weekday = localWeekday(t) % 6 !== 0;
  const block = Math.floor(t / (2 * HOUR_MS));
  // Weather drives the winter service: salting only when the road is below freezing, ploughing when it also snows.
  const activity =
    surface < 0
      ? snowing(seed, t)
        ? 'ploughing'
        : 'salting'
      : surface < 3 && h >= 7 && h < 17 && noise01(seed, 'patrol', d.eq.equipmentId, block) < 0.4
        ? 'patrol'
        : surface > 8 && weekday && h >= 6 && h < 14 && noise01(seed, 'sweep', d.eq.equipmentId, block) < 0.5
          ? 'sweeping'
          : 'idle';
  const speedKmh = { salting: 35, ploughing: 25, patrol: 45, sweeping: 8, idle: 0, transit: 50 }[activity];
  const speed = activity === 'idle' ? 0 : round(Math.max(3, rng.normal(speedKmh, speedKmh / 8)), 1);
  const distanceM = activity === 'idle' ? 0 : round((speed / 3.6) * d.intervalS * rng.uniform(0.85, 1), 1);
  const spreading = activity === 'salting' || activity === 'ploughing';
  // 15 g/m² over a 7 m carriageway: 0.105 kg per metre driven.
  const saltKg = spreading ? round(Math.min(10_000, distanceM * 0.105 * rng.uniform(0.85, 1.15)), 2) : 0;
  if (activity === 'idle') s.odometerM = 0;
  else s.odometerM += distanceM;
  const pos = positionOnRoute(d.route, s.odometerM);
  const day = Math.floor(t / DAY_MS);
  const agentId = h >= 5 && h < 13 ? d.agents[0] : h >= 13 && h < 21 ? d.agents[1] : d.agents[day % 2]!;
  return {
    position: { lat: pos.lat, lon: pos.lon },
    speedKmh: speed,
    headingDeg: activity === 'idle' ? 0 : pos.headingDeg,
    activity,
    bladeDown: activity === 'ploughing',
    spreaderOn: spreading,
    saltKg,
    distanceM,
    agentId,
  };
}

function stationReport(d: StationDevice, t: number, rng: Rng, seed: number): Payload {
  const surfaceTempC_ = round(surfaceTempC(seed, d.eq.commune, t) + d.biasC + rng.normal(0, 0.1), 1);
  const humidity = round(humidityPct(seed, t), 1);
  return {
    surfaceTempC: Math.max(-40, Math.min(70, surfaceTempC_)),
    airTempC: Math.max(
      -40,
      Math.min(
        50,
        round(airTempC(seed, t) + communeOffsetC(seed, d.eq.commune) + d.biasC + rng.normal(0, 0.1), 1),
      ),
    ),
    humidityPct: humidity,
    iceWarning: surfaceTempC_ <= 0.5 && humidity >= 80,
  };
}

/** The report of device `d` at slot time `t` (null when the device is silent), updating its state. */
function report(d: Device, t: number, state: DeviceState, seed: number, slot: number): Payload | null {
  const rng = rngFor(seed, 'report', d.eq.equipmentId, slot);
  switch (d.kind) {
    case 'streetlight':
      return luminaireReport(d, t, state as LuminaireState, rng);
    case 'lighting-cabinet':
      return cabinetReport(d, t, state as EpisodeState, rng);
    case 'signal-controller':
      return controllerReport(d, t, state as EpisodeState, rng);
    case 'traffic-detector':
      return detectorReport(d, t, rng);
    case 'winter-vehicle':
      return vehicleReport(d, t, state as VehicleState, rng, seed);
    case 'weather-station':
      return stationReport(d, t, rng, seed);
  }
}

/** A min-heap of (time, index). */
class SlotHeap {
  private readonly items: { t: number; i: number }[] = [];
  get size(): number {
    return this.items.length;
  }
  push(item: { t: number; i: number }): void {
    const a = this.items;
    a.push(item);
    let k = a.length - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (less(a[p]!, a[k]!)) break;
      [a[p], a[k]] = [a[k]!, a[p]!];
      k = p;
    }
  }
  pop(): { t: number; i: number } | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === k) break;
        [a[m], a[k]] = [a[k]!, a[m]!];
        k = m;
      }
    }
    return top;
  }
}
const less = (x: { t: number; i: number }, y: { t: number; i: number }) =>
  x.t < y.t || (x.t === y.t && x.i < y.i);

type Draft = Omit<SimMessage, 'tag'> & { tag: Omit<MessageTag, 'n'> };

function body(seq: number, observedAt: number, p: Payload): Payload {
  return { seq, observedAt: iso(observedAt), ...p };
}

function otherOperator(op: string, rng: Rng): string {
  const others = OPERATORS.filter((o) => o !== op);
  return rng.pick(others.length > 0 ? others : ['rogue-operator']);
}

/**
 * Every message of the fleet in [fromMs, toMs), in publish order, with its ground truth: a pure
 * function of its arguments (`toMs` may be Infinity for an endless stream).
 */
export function* iterateStream(
  fleet: Fleet,
  fromMs: number,
  toMs: number,
  seed: number,
  faults: FaultConfig = NO_FAULTS,
): Generator<SimMessage> {
  const heap = new SlotHeap();
  const states = fleet.devices.map(initialState);
  const held = new Map<number, Draft>();
  for (const d of fleet.devices) {
    const intervalMs = d.intervalS * 1000;
    const k0 = Math.ceil((fromMs - d.phaseMs) / intervalMs);
    heap.push({ t: d.phaseMs + k0 * intervalMs, i: d.index });
  }
  let n = 0;
  let burstWindow = null as { start: number; end: number } | null;
  let burstHour = Number.NaN;
  const emit = (draft: Draft): SimMessage => {
    // Bursts: everything due inside a burst window is held and released together at its end.
    const hour = Math.floor(draft.at / HOUR_MS);
    if (hour !== burstHour) {
      burstHour = hour;
      burstWindow = null;
      if (faults.burstPerHour > 0 && noise01(seed, 'burst', hour) < faults.burstPerHour) {
        const start =
          hour * HOUR_MS +
          Math.floor(noise01(seed, 'burst-at', hour) * Math.max(0, HOUR_MS - faults.burstMs));
        burstWindow = { start, end: start + faults.burstMs };
      }
    }
    const bw = burstWindow;
    const inBurst = bw !== null && draft.at >= bw.start && draft.at < bw.end;
    const msg: SimMessage = {
      topic: draft.topic,
      payload: draft.payload,
      at: inBurst ? bw.end : draft.at,
      tag: { n: n++, ...draft.tag, ...(inBurst ? { burst: true } : {}) },
    };
    return msg;
  };

  for (;;) {
    const slot = heap.pop();
    if (!slot || slot.t >= toMs) break;
    const d = fleet.devices[slot.i]!;
    const intervalMs = d.intervalS * 1000;
    const t = slot.t;
    const k = Math.round((t - d.phaseMs) / intervalMs);
    heap.push({ t: t + intervalMs, i: d.index });

    const out: Draft[] = [];
    const eq = d.eq;
    const topic = telemetryTopic(eq.family, eq.operator, eq.equipmentId);
    const base = {
      family: eq.family as string,
      equipmentId: eq.equipmentId,
      operator: eq.operator,
      commune: eq.commune,
    };
    const p = report(d, t, states[slot.i]!, seed, k);
    if (p) {
      const frng = rngFor(seed, 'fault', eq.equipmentId, k);
      const u = frng.next();
      const obj = body(k, t, p);
      const tag = { ...base, seq: k, observedAt: iso(t) };
      const thresholds: [FaultKind, number][] = [
        ['malformed-json', faults.malformedJson],
        ['wrong-types', faults.wrongTypes],
        ['clock-skew', faults.clockSkew],
        ['spoofed-operator', faults.spoofedOperator],
        ['duplicate', faults.duplicate],
        ['out-of-order', faults.outOfOrder],
      ];
      let acc = 0;
      let fault: FaultKind | null = null;
      for (const [kind, rate] of thresholds) {
        acc += rate;
        if (u < acc) {
          fault = kind;
          break;
        }
      }
      // Out of order only within the smallest window its report feeds (15 min for detector counts, an
      // hour otherwise), so the held report is never late: an injected late report is the `late` fault.
      const win = eq.family === 'traffic-detector' ? 15 * 60_000 : HOUR_MS;
      if (
        fault === 'out-of-order' &&
        !(Math.floor(t / win) === Math.floor((t + intervalMs) / win) && t + intervalMs < toMs)
      )
        fault = null;
      const text = JSON.stringify(obj);
      switch (fault) {
        case 'malformed-json':
          out.push({
            topic,
            payload: text.slice(0, Math.floor(text.length / 2)),
            at: t,
            tag: { ...tag, fault, outcome: 'rejected', expectedCode: EXPECTED_CODE[fault]! },
          });
          break;
        case 'wrong-types':
          out.push({
            topic,
            payload: JSON.stringify({ ...obj, seq: String(k), intervalS: 'n/a' }),
            at: t,
            tag: { ...tag, fault, outcome: 'rejected', expectedCode: EXPECTED_CODE[fault]! },
          });
          break;
        case 'clock-skew': {
          const skewed = t + faults.clockSkewMs;
          out.push({
            topic,
            payload: JSON.stringify({ ...obj, observedAt: iso(skewed) }),
            at: t,
            tag: {
              ...tag,
              observedAt: iso(skewed),
              fault,
              outcome: 'rejected',
              expectedCode: EXPECTED_CODE[fault]!,
            },
          });
          break;
        }
        case 'spoofed-operator':
          out.push({
            topic: telemetryTopic(eq.family, otherOperator(eq.operator, frng), eq.equipmentId),
            payload: text,
            at: t,
            tag: { ...tag, fault, outcome: 'rejected', expectedCode: EXPECTED_CODE[fault]! },
          });
          break;
        case 'duplicate':
          out.push({ topic, payload: text, at: t, tag: { ...tag, fault: null, outcome: 'accepted' } });
          out.push({ topic, payload: text, at: t, tag: { ...tag, fault, outcome: 'duplicate' } });
          break;
        case 'out-of-order':
          held.set(slot.i, { topic, payload: text, at: t, tag: { ...tag, fault, outcome: 'accepted' } });
          break;
        default:
          out.push({ topic, payload: text, at: t, tag: { ...tag, fault: null, outcome: 'accepted' } });
      }
    }
    const heldDraft = held.get(slot.i);
    if (heldDraft && heldDraft.tag.seq !== k) {
      held.delete(slot.i);
      out.push({ ...heldDraft, at: t });
    }
    // Extra messages: a late report (from a device that buffered while offline) and an S4 source.
    const xrng = rngFor(seed, 'extra', eq.equipmentId, k);
    if (faults.late > 0 && t >= fromMs + LATE_WARMUP_MS && xrng.chance(faults.late)) {
      const old = t - faults.lateByMs;
      const copy = structuredClone(states[slot.i]!);
      const lp = report(d, old, copy, seed, k + 7_919) ?? report(d, old, initialState(d), seed, k + 7_919);
      if (lp) {
        const seq = LATE_SEQ_BASE + k;
        out.push({
          topic,
          payload: JSON.stringify(body(seq, old, lp)),
          at: t,
          tag: { ...base, seq, observedAt: iso(old), fault: 'late', outcome: 'late' },
        });
      }
    }
    if (faults.excludedSource > 0 && xrng.chance(faults.excludedSource)) {
      const source = xrng.pick(EXCLUDED_SOURCE_FAMILIES);
      const camId = `CAM-${eq.commune}-${String(xrng.int(1, 9)).padStart(2, '0')}`;
      const payload = JSON.stringify({
        seq: k,
        observedAt: iso(t),
        kind: 'plate-read',
        plate: 'XX-000-XX',
        confidence: 0.9,
      });
      out.push({
        topic: telemetryTopic(source, eq.operator, camId),
        payload,
        at: t,
        tag: {
          family: source,
          equipmentId: camId,
          operator: eq.operator,
          commune: eq.commune,
          seq: k,
          observedAt: iso(t),
          fault: 'excluded-source',
          outcome: 'rejected',
          expectedCode: 'ONDIJON_SOURCE_EXCLUDED',
        },
      });
    }
    for (const draft of out) yield emit(draft);
  }
}

/** Every message of the fleet in [fromMs, toMs), in publish order (a finite array; see `iterateStream`). */
export function generateStream(
  fleet: Fleet,
  fromMs: number,
  toMs: number,
  seed: number,
  faults: FaultConfig = NO_FAULTS,
): SimMessage[] {
  if (!Number.isFinite(toMs))
    throw new Error('generateStream needs a finite end; use iterateStream for an endless stream');
  return [...iterateStream(fleet, fromMs, toMs, seed, faults)];
}
