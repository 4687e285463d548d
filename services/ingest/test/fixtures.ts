// Registry and payload factories shared by the integration tests and the bench (no test-runner imports).
import type { Equipment, EquipmentRegistryFile, Family } from '@ondijon/contracts';

/** Operators used by the tests' registries. */
export const OPERATORS = { lighting: 'citelum', traffic: 'bouygues-es', winter: 'dijon-metropole' } as const;

const operatorOf: Record<Family, string> = {
  streetlight: OPERATORS.lighting,
  'lighting-cabinet': OPERATORS.lighting,
  'signal-controller': OPERATORS.traffic,
  'traffic-detector': OPERATORS.traffic,
  'winter-vehicle': OPERATORS.winter,
  'weather-station': OPERATORS.winter,
};

/** A registry with `perFamily` equipment of every family, ids prefixed so tests never collide. */
export function makeRegistry(idPrefix: string, perFamily: number): EquipmentRegistryFile {
  const equipment: Equipment[] = [];
  for (const family of Object.keys(operatorOf) as Family[]) {
    for (let i = 0; i < perFamily; i += 1) {
      equipment.push({
        equipmentId: `${idPrefix}-${family}-${i}`,
        family,
        operator: operatorOf[family],
        commune: '21231',
        location: { lat: 47.32 + (i % 10) / 1000, lon: 5.04 },
        commissionedOn: '2020-01-01',
        contractRef: `contract-${operatorOf[family]}`,
      });
    }
  }
  return { revision: `${idPrefix}.1`, equipment };
}

/** A valid payload of a family (winter vehicles carry `agentId`, the personal field the policy drops). */
export function payloadFor(family: Family, seq: number, agentId = 'agent-007'): Record<string, unknown> {
  const observedAt = new Date(Date.now() - 60_000).toISOString();
  const base = { seq, observedAt };
  switch (family) {
    case 'streetlight':
      return {
        ...base,
        state: 'on',
        dimLevelPct: 100,
        powerW: 50,
        energyWh: 12.5,
        intervalS: 900,
        burningHours: 1000,
        faults: [],
        presenceDetections: 4,
      };
    case 'lighting-cabinet':
      return {
        ...base,
        circuitsOn: 2,
        powerW: 1200,
        energyWh: 300,
        intervalS: 900,
        doorOpen: false,
        faults: [],
      };
    case 'signal-controller':
      return {
        ...base,
        mode: 'normal',
        plan: 2,
        lampFailures: 0,
        doorOpen: false,
        commsOk: true,
        intervalS: 60,
        faults: [],
      };
    case 'traffic-detector':
      return {
        ...base,
        intervalS: 60,
        lanes: [{ lane: 1, vehicles: 12, occupancyPct: 10, meanSpeedKmh: 42 }],
      };
    case 'winter-vehicle':
      return {
        ...base,
        position: { lat: 47.33, lon: 5.03 },
        speedKmh: 30,
        headingDeg: 90,
        activity: 'salting',
        bladeDown: false,
        spreaderOn: true,
        saltKg: 12,
        distanceM: 400,
        agentId,
      };
    case 'weather-station':
      return { ...base, surfaceTempC: -1.5, airTempC: 0.5, humidityPct: 90, iceWarning: true };
  }
}
