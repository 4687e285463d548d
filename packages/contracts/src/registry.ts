import { readFileSync } from 'node:fs';
import { COMMUNES } from './communes';
import { type Equipment, EquipmentRegistryFile } from './equipment';
import { OnDijonError } from './errors';
import type { Family } from './families';
import { formatIssues, toFieldIssues } from './telemetry';

/** How much equipment a generated registry has. */
export interface RegistryCounts {
  /** Lighting control cabinets (each commune gets at least one). */
  cabinets: number;
  /** Luminaires per cabinet. */
  luminairesPerCabinet: number;
  /** Signalised intersections: one controller each. */
  intersections: number;
  /** Detectors per intersection (one per approach), each with 1–3 lanes. */
  detectorsPerIntersection: number;
  /** Winter-service vehicles. */
  vehicles: number;
  /** Road weather stations. */
  weatherStations: number;
}

/**
 * Presets. `small` is laptop-sized (~450 equipment) for tests and local runs. `city` is the largest
 * fleet a 2-core machine simulates comfortably next to Kafka and the services (~9 700 equipment,
 * ~8 000 luminaires: a fifth of the Métropole's ~40 000 light points, reporting every 15 min ≈ 11 msg/s
 * at real time, so an accelerated simulation still fits).
 */
export const REGISTRY_PRESETS: Record<'small' | 'city', RegistryCounts> = {
  small: {
    cabinets: 46,
    luminairesPerCabinet: 6,
    intersections: 30,
    detectorsPerIntersection: 2,
    vehicles: 24,
    weatherStations: 8,
  },
  city: {
    cabinets: 400,
    luminairesPerCabinet: 20,
    intersections: 300,
    detectorsPerIntersection: 3,
    vehicles: 60,
    weatherStations: 20,
  },
};

/** Organisations that run equipment (the MQTT operator segment), with their contracts. */
export const OPERATORS = {
  citelum: { name: 'Citelum', role: 'Street-lighting concessionaire', contractRef: 'DM-ONDIJON-2017-EP' },
  'bouygues-es': {
    name: 'Bouygues Energies & Services',
    role: 'Traffic-signal maintainer',
    contractRef: 'DM-ONDIJON-2017-SLT',
  },
  'dijon-metropole': {
    name: 'Dijon Métropole',
    role: "The Métropole's own road and winter service",
    contractRef: 'DM-REGIE-VOIRIE',
  },
  'eiffage-route': {
    name: 'Eiffage Route',
    role: 'Winter-service contractor (some vehicles)',
    contractRef: 'DM-VH-2024-017',
  },
} as const;
/** An operator slug. */
export type OperatorId = keyof typeof OPERATORS;

/**
 * Relative size of each commune (≈ population in thousands, INSEE 2021, rounded): how equipment is
 * spread. Dijon has most of it, as in the real network.
 */
const COMMUNE_WEIGHT: Record<string, number> = {
  '21231': 159,
  '21166': 14,
  '21617': 11,
  '21171': 11,
  '21515': 9.5,
  '21355': 9,
  '21278': 9,
  '21540': 7.5,
  '21390': 5.2,
  '21485': 3,
  '21452': 2.4,
  '21605': 2.2,
  '21481': 1.7,
  '21473': 1.5,
  '21263': 1.5,
  '21223': 1.5,
  '21003': 1.3,
  '21315': 1.2,
  '21105': 1,
  '21106': 0.9,
  '21370': 0.9,
  '21192': 0.6,
  '21270': 0.2,
};

/** Options of `generateRegistry`. */
export interface GenerateRegistryOptions {
  /** Seed: the same seed and scale give the same registry, byte for byte. */
  seed: number;
  /** A preset, or counts (missing counts are taken from `small`). */
  scale?: 'small' | 'city' | Partial<RegistryCounts>;
}

/** A small, fast, seedable PRNG (sfc32) so generation never depends on Math.random. */
function prng(seed: number) {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ Math.imul(seed, 0x85ebca6b);
  let c = 0xb7e15162;
  let d = 1;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

/** Splits `total` over communes by weight (largest remainder), with at least `min` each. */
function allocate(total: number, min: number): Map<string, number> {
  const codes: string[] = COMMUNES.map((c) => c.insee);
  const out = new Map(codes.map((c) => [c, Math.min(min, total)]));
  let left = total - [...out.values()].reduce((s, n) => s + n, 0);
  if (left <= 0) return out;
  const sum = codes.reduce((s, c) => s + COMMUNE_WEIGHT[c]!, 0);
  const shares = codes.map((c) => ({ c, exact: (left * COMMUNE_WEIGHT[c]!) / sum }));
  for (const s of shares) out.set(s.c, out.get(s.c)! + Math.floor(s.exact));
  left -= shares.reduce((n, s) => n + Math.floor(s.exact), 0);
  shares.sort(
    (x, y) => y.exact - Math.floor(y.exact) - (x.exact - Math.floor(x.exact)) || x.c.localeCompare(y.c),
  );
  for (let i = 0; i < left; i++)
    out.set(shares[i % shares.length]!.c, out.get(shares[i % shares.length]!.c)! + 1);
  return out;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * Generates a realistic equipment registry over the 23 communes (pure and deterministic from the
 * seed): luminaires grouped by control cabinet (Citelum), signalised intersections with a controller
 * and per-approach detectors (Bouygues E&S), winter-service vehicles with a home commune and a route
 * (the Métropole's own service, a third by Eiffage Route), and road weather stations (the Métropole).
 */
export function generateRegistry(options: GenerateRegistryOptions): EquipmentRegistryFile {
  const scaleName = typeof options.scale === 'string' ? options.scale : options.scale ? 'custom' : 'small';
  const counts: RegistryCounts =
    typeof options.scale === 'string'
      ? REGISTRY_PRESETS[options.scale]
      : { ...REGISTRY_PRESETS.small, ...(options.scale ?? {}) };
  const rng = prng(options.seed >>> 0);
  const communes = new Map<string, (typeof COMMUNES)[number]>(COMMUNES.map((c) => [c.insee, c]));
  // Spread around a commune's centre grows with its size (Dijon ~2.5 km, villages ~0.6 km).
  const spreadDeg = (insee: string) => 0.006 + 0.0014 * Math.sqrt(COMMUNE_WEIGHT[insee]!) * 1.6;
  const near = (lat: number, lon: number, deg: number) => ({
    lat: round6(lat + (rng.next() * 2 - 1) * deg),
    lon: round6(lon + (rng.next() * 2 - 1) * deg * 1.45), // a degree of longitude is ~0.68 of a degree of latitude at 47° N
  });
  const date = (fromYear: number, toYear: number) =>
    `${rng.int(fromYear, toYear)}-${pad(rng.int(1, 12), 2)}-${pad(rng.int(1, 28), 2)}`;
  const equipment: Equipment[] = [];
  const entry = (
    id: string,
    family: Family,
    operator: OperatorId,
    insee: string,
    location: { lat: number; lon: number },
    commissionedOn: string,
  ) =>
    ({
      equipmentId: id,
      family,
      operator,
      commune: insee,
      location,
      commissionedOn,
      contractRef: OPERATORS[operator].contractRef,
    }) satisfies Equipment;

  // Street lighting: every commune has at least one cabinet; luminaires sit within ~200 m of theirs.
  for (const [insee, n] of allocate(counts.cabinets, 1)) {
    const c = communes.get(insee)!;
    for (let k = 1; k <= n; k++) {
      const cabinetId = `LC-${insee}-${pad(k, 3)}`;
      const at = near(c.lat, c.lon, spreadDeg(insee));
      const since = date(2005, 2020);
      equipment.push(entry(cabinetId, 'lighting-cabinet', 'citelum', insee, at, since));
      for (let l = 1; l <= counts.luminairesPerCabinet; l++) {
        const lum = entry(
          `SL-${insee}-${pad(k, 3)}-${pad(l, 3)}`,
          'streetlight',
          'citelum',
          insee,
          near(at.lat, at.lon, 0.0018),
          date(Number(since.slice(0, 4)), 2025),
        );
        equipment.push({ ...lum, cabinetId });
      }
    }
  }

  // Traffic signals: intersections in the larger communes, one controller and per-approach detectors.
  for (const [insee, n] of allocate(counts.intersections, 0)) {
    const c = communes.get(insee)!;
    for (let k = 1; k <= n; k++) {
      // `INT-<insee>-<k>`, with its controller `SC-<insee>-<k>` and detectors `TD-<insee>-<k>-<d>`:
      // the processors derive the intersection from the equipment id by this convention.
      const intersectionId = `INT-${insee}-${pad(k, 3)}`;
      const at = near(c.lat, c.lon, spreadDeg(insee));
      const since = date(2008, 2022);
      equipment.push({
        ...entry(`SC-${insee}-${pad(k, 3)}`, 'signal-controller', 'bouygues-es', insee, at, since),
        intersectionId,
      });
      for (let d = 1; d <= counts.detectorsPerIntersection; d++) {
        const det = entry(
          `TD-${insee}-${pad(k, 3)}-${d}`,
          'traffic-detector',
          'bouygues-es',
          insee,
          near(at.lat, at.lon, 0.0004),
          since,
        );
        equipment.push({ ...det, intersectionId, lanes: rng.pick([1, 1, 2, 2, 2, 3]) });
      }
    }
  }

  // Winter service: vehicles spread by commune size, each with a fixed home commune and a loop route
  // around it; every third vehicle is the contractor's (Eiffage Route), the rest the Métropole's own.
  const homes = [...allocate(counts.vehicles, 0)].flatMap(([insee, n]) =>
    Array.from({ length: n }, () => insee),
  );
  homes.forEach((insee, i) => {
    const c = communes.get(insee)!;
    const operator: OperatorId = i % 3 === 2 ? 'eiffage-route' : 'dijon-metropole';
    const home = near(c.lat, c.lon, spreadDeg(insee) / 2);
    const waypoints = rng.int(6, 10);
    const radius = spreadDeg(insee) * 0.8;
    const phase = rng.next() * Math.PI * 2;
    const route = Array.from({ length: waypoints }, (_, w) => {
      const angle = phase + (w * 2 * Math.PI) / waypoints;
      const r = radius * (0.6 + 0.4 * rng.next());
      return { lat: round6(c.lat + r * Math.sin(angle)), lon: round6(c.lon + r * 1.45 * Math.cos(angle)) };
    });
    const id = `WV-${pad(i + 1, 3)}`;
    equipment.push({
      ...entry(id, 'winter-vehicle', operator, insee, home, date(2012, 2024)),
      routeId: `R-${insee}-${pad(i + 1, 3)}`,
      route,
    });
  });

  // Road weather stations: one per larger commune first (largest remainder puts them where roads are).
  for (const [insee, n] of allocate(counts.weatherStations, 0)) {
    const c = communes.get(insee)!;
    for (let k = 1; k <= n; k++) {
      equipment.push(
        entry(
          `WS-${insee}-${pad(k, 2)}`,
          'weather-station',
          'dijon-metropole',
          insee,
          near(c.lat, c.lon, spreadDeg(insee)),
          date(2010, 2023),
        ),
      );
    }
  }

  return { revision: `gen-${scaleName}-seed${options.seed}`, equipment };
}

/** Reads and validates a registry file; throws ONDIJON_REGISTRY_INVALID naming every problem (and duplicate ids). */
export function loadRegistryFile(path: string): EquipmentRegistryFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new OnDijonError('ONDIJON_REGISTRY_INVALID', `cannot read equipment registry ${path}`, {
      cause,
      details: { path },
    });
  }
  const parsed = EquipmentRegistryFile.safeParse(raw);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error);
    throw new OnDijonError(
      'ONDIJON_REGISTRY_INVALID',
      `invalid equipment registry ${path}: ${formatIssues(issues.slice(0, 20))}`,
      { details: { path, issues } },
    );
  }
  registryIndex(parsed.data);
  return parsed.data;
}

/** Index of a registry by equipment id; throws ONDIJON_REGISTRY_INVALID on a duplicate id. */
export function registryIndex(file: EquipmentRegistryFile): Map<string, Equipment> {
  const index = new Map<string, Equipment>();
  for (const e of file.equipment) {
    if (index.has(e.equipmentId)) {
      throw new OnDijonError(
        'ONDIJON_REGISTRY_INVALID',
        `duplicate equipment id ${e.equipmentId} in registry ${file.revision}`,
        {
          details: { equipmentId: e.equipmentId },
        },
      );
    }
    index.set(e.equipmentId, e);
  }
  return index;
}
