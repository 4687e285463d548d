/**
 * The independent reference computation of the pipeline's aggregates, from the simulator's ground
 * truth (what was published, each message tagged with its expected fate) and the equipment registry.
 *
 * Written from the aggregate definitions (packages/contracts/src/aggregates.ts and the TSDoc of each
 * processor), never from the processors' code: it does not import services/processors, and its
 * arithmetic is its own. Where a definition leaves room, the choice is written next to the code.
 */
import { COMMUNES, type Equipment, eventId } from '@ondijon/contracts';

/** What the reference needs of a message: its payload and the simulator's tag. */
export interface TruthMessage {
  topic: string;
  payload: string;
  at: number;
  tag: {
    family: string;
    equipmentId: string;
    seq: number;
    observedAt: string;
    outcome: 'accepted' | 'duplicate' | 'rejected' | 'late';
    expectedCode?: string;
    fault: string | null;
  };
}

/** A reference cell: group, window, values, contributors and the number of input records. */
export interface RefCell {
  dataset: string;
  group: Record<string, string>;
  windowStart: string;
  windowEnd: string;
  values: Record<string, number | null>;
  contributors: { equipment: number; operators: number; persons?: number };
  /** For summed person-derived values: the largest and second-largest single contributor's share of the total. */
  dominance?: Record<string, { top1: number; top2: number }>;
  inputRecords: number;
}

/** Everything the pipeline must produce from a stream. */
export interface Reference {
  /** Cells by `cellKey(dataset, group, windowStart)`. */
  cells: Map<string, RefCell>;
  /** Dead letters ingest must write, by code. */
  deadLettersByCode: Record<string, number>;
  /** Event ids the processors must count late (routed to the late topic). */
  lateEventIds: Set<string>;
  /** Messages absorbed as duplicates (same event id as an accepted one). */
  duplicates: number;
  /** Messages whose event must be counted in the aggregates. */
  accepted: number;
  /** All messages sent. */
  sent: number;
}

const HOUR = 3_600_000;
const QUARTER = 15 * 60_000;

/** Canonical key of a cell: dataset, group fields sorted by name, window start (ISO). */
export function cellKey(dataset: string, group: Record<string, string>, windowStart: string): string {
  const g = Object.keys(group)
    .sort()
    .map((k) => `${k}=${group[k]}`)
    .join(',');
  return `${dataset}|${g}|${new Date(windowStart).toISOString()}`;
}

/** The commune whose centre is nearest to a point (equirectangular distance; the processors' documented rule for vehicles). */
export function nearestCommuneOf(lat: number, lon: number): string {
  let best = '';
  let bestD = Infinity;
  const k = Math.cos((lat * Math.PI) / 180);
  for (const c of COMMUNES) {
    const d = ((c.lon - lon) * k) ** 2 + (c.lat - lat) ** 2;
    if (d < bestD) {
      bestD = d;
      best = c.insee;
    }
  }
  return best;
}

class Cell {
  records = 0;
  readonly subjects = new Set<string>();
  readonly operators = new Set<string>();
  readonly sums = new Map<string, number>();
  readonly sets = new Map<string, Set<string>>();
  /** Per contributor sums (for dominance): field → contributor → sum. */
  readonly by = new Map<string, Map<string, number>>();
  min = new Map<string, number>();

  add(name: string, x: number): void {
    this.sums.set(name, (this.sums.get(name) ?? 0) + x);
  }
  addBy(name: string, who: string, x: number): void {
    let m = this.by.get(name);
    if (!m) this.by.set(name, (m = new Map()));
    m.set(who, (m.get(who) ?? 0) + x);
  }
  shares(name: string): { top1: number; top2: number } {
    const v = [...(this.by.get(name)?.values() ?? [])].sort((a, b) => b - a);
    const total = v.reduce((a, b) => a + b, 0);
    return total === 0 ? { top1: 0, top2: 0 } : { top1: (v[0] ?? 0) / total, top2: (v[1] ?? 0) / total };
  }
  sum(name: string): number {
    return this.sums.get(name) ?? 0;
  }
  mark(name: string, id: string): void {
    let s = this.sets.get(name);
    if (!s) this.sets.set(name, (s = new Set()));
    s.add(id);
  }
  count(name: string): number {
    return this.sets.get(name)?.size ?? 0;
  }
  low(name: string, x: number): void {
    const m = this.min.get(name);
    if (m === undefined || x < m) this.min.set(name, x);
  }
}

const floorTo = (t: number, size: number) => Math.floor(t / size) * size;
const parisDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', dateStyle: 'short' });

/**
 * The Paris calendar day containing `t` (the daily datasets' period: 23 or 25 hours on
 * daylight-saving days). Paris offsets are whole hours, so a local midnight is a UTC hour: walk
 * hour by hour to where the Paris date changes.
 */
export function parisDayOf(t: number): { start: number; end: number } {
  const date = parisDate.format(t);
  let start = floorTo(t, HOUR);
  while (parisDate.format(start - HOUR) === date) start -= HOUR;
  let end = floorTo(t, HOUR) + HOUR;
  while (parisDate.format(end) === date) end += HOUR;
  return { start, end };
}

const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

/** Computes the expected aggregates, dead letters and late events of a stream. */
export function computeReference(messages: Iterable<TruthMessage>, registry: Iterable<Equipment>): Reference {
  const byId = new Map<string, Equipment>();
  for (const e of registry) byId.set(e.equipmentId, e);
  const cells = new Map<
    string,
    { dataset: string; group: Record<string, string>; start: number; size: number; cell: Cell }
  >();
  const cellOf = (
    dataset: string,
    group: Record<string, string>,
    t: number,
    bin: number | 'paris-day',
  ): Cell => {
    const { start, end } =
      bin === 'paris-day' ? parisDayOf(t) : { start: floorTo(t, bin), end: floorTo(t, bin) + bin };
    const size = end - start;
    const key = cellKey(dataset, group, new Date(start).toISOString());
    let c = cells.get(key);
    if (!c) cells.set(key, (c = { dataset, group, start, size, cell: new Cell() }));
    return c.cell;
  };
  const deadLettersByCode: Record<string, number> = {};
  const lateEventIds = new Set<string>();
  const seen = new Set<string>();
  let duplicates = 0;
  let accepted = 0;
  let sent = 0;

  for (const m of messages) {
    sent++;
    const tag = m.tag;
    if (tag.outcome === 'rejected') {
      const code = tag.expectedCode ?? 'unknown';
      deadLettersByCode[code] = (deadLettersByCode[code] ?? 0) + 1;
      continue;
    }
    const id = eventId(tag.equipmentId, tag.seq);
    if (tag.outcome === 'late') {
      lateEventIds.add(id);
      continue;
    }
    // A duplicate carries the event id of a report already counted: idempotent hops absorb it.
    if (tag.outcome === 'duplicate' || seen.has(id)) {
      duplicates++;
      continue;
    }
    seen.add(id);
    accepted++;
    const eq = byId.get(tag.equipmentId);
    if (!eq) throw new Error(`reference: ${tag.equipmentId} is not in the registry`);
    const p = JSON.parse(m.payload) as Record<string, unknown>;
    const t = Date.parse(p.observedAt as string);
    const touch = (c: Cell) => {
      c.records++;
      c.subjects.add(eq.equipmentId);
      c.operators.add(eq.operator);
      return c;
    };
    switch (eq.family) {
      case 'streetlight': {
        const c = touch(cellOf('lighting-commune-hour', { commune: eq.commune }, t, HOUR));
        const interval = p.intervalS as number;
        c.add('energyWh', p.energyWh as number);
        c.add('litSeconds', p.state === 'off' ? 0 : interval);
        c.add('dimmedSeconds', p.state === 'dimmed' ? interval : 0);
        c.add('reportedSeconds', interval);
        c.mark('luminaires', eq.equipmentId);
        // Faults count luminaires that reported the fault in the hour, not reports.
        for (const f of p.faults as string[]) c.mark(`fault:${f}`, eq.equipmentId);
        break;
      }
      case 'lighting-cabinet': {
        // Cabinets count as reporting; their meters are not added (they cover the luminaires' circuits).
        const c = touch(cellOf('lighting-commune-hour', { commune: eq.commune }, t, HOUR));
        c.mark('cabinets', eq.equipmentId);
        break;
      }
      case 'signal-controller': {
        const ix = eq.intersectionId ?? eq.equipmentId;
        for (const group of [
          { scope: 'intersection', id: ix, commune: eq.commune },
          { scope: 'commune', id: eq.commune, commune: eq.commune },
        ]) {
          const c = touch(cellOf('signal-status', group, t, HOUR));
          c.mark('controllers', eq.equipmentId);
          if ((p.faults as string[]).length > 0) c.add('faultReports', 1);
          if ((p.lampFailures as number) > 0 || (p.faults as string[]).includes('lamp-failure'))
            c.add('lampFailureReports', 1);
          if (p.mode !== 'normal') c.add('degradedSeconds', p.intervalS as number);
        }
        break;
      }
      case 'traffic-detector': {
        const ix = eq.intersectionId ?? eq.equipmentId;
        for (const [resolution, size] of [
          ['PT15M', QUARTER],
          ['PT1H', HOUR],
        ] as const) {
          for (const group of [
            { scope: 'intersection', id: ix, commune: eq.commune, resolution },
            { scope: 'commune', id: eq.commune, commune: eq.commune, resolution },
          ]) {
            const c = touch(cellOf('traffic-flow', group, t, size));
            c.mark('detectors', eq.equipmentId);
            for (const lane of p.lanes as {
              vehicles: number;
              occupancyPct: number;
              meanSpeedKmh: number | null;
            }[]) {
              c.add('vehicles', lane.vehicles);
              // Occupancy is time-weighted over lane reports; speed is vehicle-weighted over lanes with a speed.
              c.add('occupancyXs', lane.occupancyPct * (p.intervalS as number));
              c.add('laneSeconds', p.intervalS as number);
              if (lane.meanSpeedKmh !== null) {
                c.add('speedXveh', lane.meanSpeedKmh * lane.vehicles);
                c.add('speedVehicles', lane.vehicles);
              }
            }
          }
        }
        break;
      }
      case 'winter-vehicle': {
        const pos = p.position as { lat: number; lon: number } | undefined;
        // The processors' documented rule: the commune whose centre is nearest to the position.
        const commune = pos ? nearestCommuneOf(pos.lat, pos.lon) : eq.commune;
        const c = touch(cellOf('winter-commune-day', { commune }, t, 'paris-day'));
        c.add('saltKg', p.saltKg as number);
        c.addBy('saltKg', eq.equipmentId, p.saltKg as number);
        const activity = p.activity as string;
        if (['salting', 'ploughing', 'sweeping', 'patrol'].includes(activity)) {
          c.add(`m:${activity}`, p.distanceM as number);
          c.addBy(
            `km${activity[0]!.toUpperCase()}${activity.slice(1)}`,
            eq.equipmentId,
            p.distanceM as number,
          );
        }
        c.mark('vehicles', eq.equipmentId);
        if (activity !== 'idle') c.mark('vehiclesActive', eq.equipmentId);
        break;
      }
      case 'weather-station': {
        const c = touch(cellOf('winter-commune-day', { commune: eq.commune }, t, 'paris-day'));
        c.mark('stations', eq.equipmentId);
        c.add('surfaceSum', p.surfaceTempC as number);
        c.add('surfaceN', 1);
        c.low('surfaceMin', p.surfaceTempC as number);
        break;
      }
    }
  }

  const out = new Map<string, RefCell>();
  for (const [key, { dataset, group, start, size, cell: c }] of cells) {
    let values: Record<string, number | null>;
    const contributors: RefCell['contributors'] = { equipment: c.subjects.size, operators: c.operators.size };
    switch (dataset) {
      case 'lighting-commune-hour':
        values = {
          energyKwh: c.sum('energyWh') / 1000,
          burningHours: c.sum('litSeconds') / 3600,
          luminairesReporting: c.count('luminaires'),
          cabinetsReporting: c.count('cabinets'),
          faultsLamp: c.count('fault:lamp'),
          faultsDriver: c.count('fault:driver'),
          faultsCommunication: c.count('fault:communication'),
          dimmedShare: ratio(c.sum('dimmedSeconds'), c.sum('reportedSeconds')),
        };
        break;
      case 'signal-status':
        values = {
          controllersReporting: c.count('controllers'),
          faultReports: c.sum('faultReports'),
          lampFailureReports: c.sum('lampFailureReports'),
          degradedSeconds: c.sum('degradedSeconds'),
        };
        break;
      case 'traffic-flow':
        values = {
          intensity: c.sum('vehicles'),
          occupancyPct: ratio(c.sum('occupancyXs'), c.sum('laneSeconds')),
          averageVehicleSpeedKmh: ratio(c.sum('speedXveh'), c.sum('speedVehicles')),
          detectorsReporting: c.count('detectors'),
        };
        break;
      default: {
        const n = c.sum('surfaceN');
        values = {
          saltKg: c.sum('saltKg'),
          kmSalting: c.sum('m:salting') / 1000,
          kmPloughing: c.sum('m:ploughing') / 1000,
          kmSweeping: c.sum('m:sweeping') / 1000,
          kmPatrol: c.sum('m:patrol') / 1000,
          vehiclesActive: c.count('vehiclesActive'),
          surfaceTempMinC: n === 0 ? null : (c.min.get('surfaceMin') ?? null),
          surfaceTempMeanC: n === 0 ? null : c.sum('surfaceSum') / n,
          stationsReporting: c.count('stations'),
        };
        // Persons behind a winter cell ≈ distinct vehicles (one crew per vehicle).
        contributors.persons = c.count('vehicles');
      }
    }
    const dominance =
      dataset === 'winter-commune-day'
        ? Object.fromEntries(
            ['saltKg', 'kmSalting', 'kmPloughing', 'kmSweeping', 'kmPatrol'].map((f) => [f, c.shares(f)]),
          )
        : undefined;
    out.set(key, {
      dataset,
      group,
      windowStart: new Date(start).toISOString(),
      windowEnd: new Date(start + size).toISOString(),
      values,
      contributors,
      ...(dominance ? { dominance } : {}),
      inputRecords: c.records,
    });
  }
  return { cells: out, deadLettersByCode, lateEventIds, duplicates, accepted, sent };
}

/** Whether two values agree: exact for integers and null, within 1e-6 relative (or absolute) for floats. */
export function sameValue(expected: number | null | undefined, actual: unknown): boolean {
  if (expected === null || expected === undefined) return actual === null || actual === undefined;
  if (typeof actual !== 'number') return false;
  return Math.abs(expected - actual) <= 1e-6 * Math.max(1, Math.abs(expected));
}
