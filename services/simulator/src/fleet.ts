import type { Equipment, Family, GeoPoint } from '@ondijon/contracts';
import { hash32, noise01, rngFor } from './prng';
import type { Registry } from './registry';

/** Seconds between two reports of an equipment, per family. */
export type ReportIntervals = Record<Family, number>;

/** Default report intervals (simulated seconds): every one divides an hour, so each hour has whole slots. */
export const DEFAULT_INTERVALS: ReportIntervals = {
  streetlight: 900,
  'lighting-cabinet': 900,
  'signal-controller': 300,
  'traffic-detector': 300,
  'winter-vehicle': 300,
  'weather-station': 600,
};

/** What every simulated equipment has. */
export interface DeviceBase {
  eq: Equipment;
  /** Position in the fleet (stable tie-break when two reports fall at the same instant). */
  index: number;
  intervalS: number;
  /** Offset of the report grid, ms in [1 s, interval): spreads reports and keeps them off window edges. */
  phaseMs: number;
}

/** A luminaire. */
export interface LuminaireDevice extends DeviceBase {
  kind: 'streetlight';
  nominalW: number;
  /** Has a presence sensor (adaptive lighting): reports presenceDetections. */
  adaptive: boolean;
  initialBurningHours: number;
}

/** A lighting control cabinet with its luminaires. */
export interface CabinetDevice extends DeviceBase {
  kind: 'lighting-cabinet';
  circuits: number;
  luminaires: LuminaireDevice[];
}

/** A signal controller. */
export interface ControllerDevice extends DeviceBase {
  kind: 'signal-controller';
  /** Switches to flashing amber at night (01:00–05:00 local). */
  nightFlashing: boolean;
}

/** A traffic detector station (one loop per lane). */
export interface DetectorDevice extends DeviceBase {
  kind: 'traffic-detector';
  /** Peak flow of each lane, vehicles/h. */
  peakFlowPerLane: number[];
}

/** A winter-service vehicle with its route and crew. */
export interface VehicleDevice extends DeviceBase {
  kind: 'winter-vehicle';
  /** Crew (day shift, afternoon shift): agent identifiers, personal data. */
  agents: [string, string];
  /** Closed loop of waypoints; the first is the depot. */
  route: GeoPoint[];
}

/** A road weather station. */
export interface StationDevice extends DeviceBase {
  kind: 'weather-station';
  /** Sensor bias, °C. */
  biasC: number;
}

/** Any simulated device. */
export type Device =
  LuminaireDevice | CabinetDevice | ControllerDevice | DetectorDevice | VehicleDevice | StationDevice;

/** Intersection: a controller and its detectors. */
export interface Intersection {
  id: string;
  commune: string;
  controller?: ControllerDevice;
  detectors: DetectorDevice[];
}

/** The simulated fleet, grouped the way the equipment is run. */
export interface Fleet {
  registryRevision: string;
  devices: Device[];
  cabinets: CabinetDevice[];
  intersections: Intersection[];
  vehicles: VehicleDevice[];
  stations: StationDevice[];
  /** Registry entries of the simulated equipment, by id. */
  byId: Map<string, Equipment>;
}

/** Options of `buildFleet`. */
export interface FleetOptions {
  seed: number;
  /** Share of the registry simulated, 0–1 (whole cabinets and intersections are kept together). Default 1. */
  fraction?: number;
  intervals?: Partial<ReportIntervals>;
}

/** Builds the fleet from registry equipment: deterministic from the seed. Decommissioned equipment is left out. */
export function buildFleet(registry: Registry, options: FleetOptions): Fleet {
  const { seed } = options;
  const fraction = options.fraction ?? 1;
  const intervals = { ...DEFAULT_INTERVALS, ...options.intervals };
  const keep = (groupId: string) => fraction >= 1 || noise01(seed, 'keep', groupId) < fraction;
  const active = registry.equipment
    .filter((e) => e.decommissionedOn === undefined)
    .filter((e) => keep(e.cabinetId ?? e.intersectionId ?? e.equipmentId))
    .sort((a, b) => (a.equipmentId < b.equipmentId ? -1 : a.equipmentId > b.equipmentId ? 1 : 0));

  const devices: Device[] = [];
  const base = (eq: Equipment): DeviceBase => {
    const intervalS = intervals[eq.family];
    return {
      eq,
      index: devices.length,
      intervalS,
      phaseMs: 1000 + Math.floor(noise01(seed, 'phase', eq.equipmentId) * (intervalS - 2)) * 1000,
    };
  };
  const cabinets = new Map<string, CabinetDevice>();
  const intersections = new Map<string, Intersection>();
  const vehicles: VehicleDevice[] = [];
  const stations: StationDevice[] = [];
  const luminaires: LuminaireDevice[] = [];
  const intersectionOf = (eq: Equipment): Intersection => {
    const id = eq.intersectionId ?? eq.equipmentId;
    let i = intersections.get(id);
    if (!i) {
      i = { id, commune: eq.commune, detectors: [] };
      intersections.set(id, i);
    }
    return i;
  };

  for (const eq of active) {
    const rng = rngFor(seed, 'device', eq.equipmentId);
    switch (eq.family) {
      case 'streetlight': {
        const d: LuminaireDevice = {
          ...base(eq),
          kind: 'streetlight',
          nominalW: rng.pick([35, 45, 60, 75, 100, 120, 150]),
          adaptive: rng.chance(0.3),
          initialBurningHours: Math.round(rng.uniform(500, 40_000)),
        };
        devices.push(d);
        luminaires.push(d);
        break;
      }
      case 'lighting-cabinet': {
        const d: CabinetDevice = {
          ...base(eq),
          kind: 'lighting-cabinet',
          circuits: rng.int(2, 4),
          luminaires: [],
        };
        devices.push(d);
        cabinets.set(eq.equipmentId, d);
        break;
      }
      case 'signal-controller': {
        const d: ControllerDevice = {
          ...base(eq),
          kind: 'signal-controller',
          nightFlashing: rng.chance(0.3),
        };
        devices.push(d);
        intersectionOf(eq).controller = d;
        break;
      }
      case 'traffic-detector': {
        const lanes = eq.lanes ?? 1;
        const d: DetectorDevice = {
          ...base(eq),
          kind: 'traffic-detector',
          peakFlowPerLane: Array.from({ length: lanes }, () => Math.round(rng.uniform(250, 750))),
        };
        devices.push(d);
        intersectionOf(eq).detectors.push(d);
        break;
      }
      case 'winter-vehicle': {
        const h = hash32(`${seed}|agent|${eq.equipmentId}`).toString(36);
        const d: VehicleDevice = {
          ...base(eq),
          kind: 'winter-vehicle',
          agents: [`agt-${h}-a`, `agt-${h}-b`],
          // A loop of six waypoints within ~300 m of the equipment's home point: the route stays in its commune.
          route: Array.from({ length: 6 }, (_, k) => ({
            lat: round(
              eq.location.lat + 0.0025 * Math.sin((k * Math.PI) / 3) + rng.uniform(-0.0003, 0.0003),
              6,
            ),
            lon: round(
              eq.location.lon + 0.0035 * Math.cos((k * Math.PI) / 3) + rng.uniform(-0.0003, 0.0003),
              6,
            ),
          })),
        };
        devices.push(d);
        vehicles.push(d);
        break;
      }
      case 'weather-station': {
        const d: StationDevice = {
          ...base(eq),
          kind: 'weather-station',
          biasC: round(rng.uniform(-0.3, 0.3), 2),
        };
        devices.push(d);
        stations.push(d);
        break;
      }
    }
  }
  for (const l of luminaires) {
    const cab = l.eq.cabinetId === undefined ? undefined : cabinets.get(l.eq.cabinetId);
    if (cab) cab.luminaires.push(l);
  }
  return {
    registryRevision: registry.revision,
    devices,
    cabinets: [...cabinets.values()],
    intersections: [...intersections.values()],
    vehicles,
    stations,
    byId: new Map(active.map((e) => [e.equipmentId, e])),
  };
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
