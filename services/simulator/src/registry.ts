import { readFile } from 'node:fs/promises';
import { COMMUNES, EquipmentRegistryFile, type Equipment } from '@ondijon/contracts';
import { rngFor } from './prng';

/** Registry scale: a laptop-sized fleet or the whole city. */
export type RegistryScale = 'small' | 'city';

/** A loaded registry: revision and equipment. */
export interface Registry {
  revision: string;
  equipment: Equipment[];
}

/** Reads and validates a registry file (`infra/registry/equipment.json` shape). */
export async function readRegistryFile(path: string): Promise<Registry> {
  const parsed = EquipmentRegistryFile.parse(JSON.parse(await readFile(path, 'utf8')));
  return { revision: parsed.revision, equipment: parsed.equipment };
}

const OPERATORS = { lighting: ['citelum', 'bouygues-es'], traffic: ['dijon-metropole', 'bouygues-es'], winter: ['dijon-metropole'] } as const;

/**
 * A registry generated here, used only when neither a file nor the contracts generator is given
 * (the contracts generator was written in parallel; this keeps the simulator testable alone).
 */
export function fallbackRegistry(seed: number, scale: RegistryScale): Registry {
  const rng = rngFor(seed, 'fallback-registry', scale);
  const equipment: Equipment[] = [];
  const city = scale === 'city';
  const near = (lat: number, lon: number, spread: number) => ({
    lat: Number((lat + rng.uniform(-spread, spread)).toFixed(6)),
    lon: Number((lon + rng.uniform(-spread, spread)).toFixed(6)),
  });
  const base = (id: string, family: Equipment['family'], operator: string, commune: (typeof COMMUNES)[number]) => ({
    equipmentId: id,
    family,
    operator,
    commune: commune.insee,
    location: near(commune.lat, commune.lon, 0.004),
    commissionedOn: '2021-03-01',
    contractRef: `DM-${operator.toUpperCase()}-2021`,
  });
  COMMUNES.forEach((c, ci) => {
    const big = c.insee === '21231';
    const lightingOp = OPERATORS.lighting[ci % 2]!;
    const cabinets = city ? (big ? 40 : 6) : big ? 2 : 1;
    for (let k = 1; k <= cabinets; k++) {
      const cabinetId = `LC-${c.insee}-${String(k).padStart(3, '0')}`;
      equipment.push(base(cabinetId, 'lighting-cabinet', lightingOp, c));
      const lums = city ? 45 : 4;
      for (let l = 1; l <= lums; l++) {
        equipment.push({ ...base(`SL-${c.insee}-${String(k).padStart(3, '0')}-${String(l).padStart(3, '0')}`, 'streetlight', lightingOp, c), cabinetId });
      }
    }
    const trafficOp = OPERATORS.traffic[ci % 2]!;
    const intersections = city ? (big ? 60 : 4) : big ? 2 : ci % 3 === 0 ? 1 : 0;
    for (let k = 1; k <= intersections; k++) {
      const intersectionId = `INT-${c.insee}-${String(k).padStart(3, '0')}`;
      equipment.push({ ...base(`SC-${c.insee}-${String(k).padStart(3, '0')}`, 'signal-controller', trafficOp, c), intersectionId });
      const detectors = city ? 4 : 2;
      for (let d = 1; d <= detectors; d++) {
        equipment.push({
          ...base(`TD-${c.insee}-${String(k).padStart(3, '0')}-${d}`, 'traffic-detector', trafficOp, c),
          intersectionId,
          lanes: rng.int(1, 3),
        });
      }
    }
    const vehicles = city ? (big ? 12 : 2) : big || ci % 4 === 0 ? 1 : 0;
    for (let k = 1; k <= vehicles; k++) equipment.push(base(`WV-${c.insee}-${String(k).padStart(2, '0')}`, 'winter-vehicle', 'dijon-metropole', c));
    const stations = city ? (big ? 4 : 1) : big || ci % 5 === 0 ? 1 : 0;
    for (let k = 1; k <= stations; k++) equipment.push(base(`WS-${c.insee}-${String(k).padStart(2, '0')}`, 'weather-station', 'dijon-metropole', c));
  });
  return { revision: `fallback-${seed}-${scale}`, equipment };
}
