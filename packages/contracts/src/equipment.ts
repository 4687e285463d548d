import { z } from 'zod';
import { Family } from './families';
import { GeoPoint } from './telemetry/common';

/** An entry of the equipment registry (class S0, public reference data; FIWARE `Device`-like). */
export const Equipment = z.strictObject({
  equipmentId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$/),
  family: Family,
  /** Organisation that runs it (MQTT operator segment). */
  operator: z.string().regex(/^[a-z0-9][a-z0-9-]{1,47}$/),
  /** INSEE code of the commune. */
  commune: z.string().regex(/^\d{5}$/),
  location: GeoPoint,
  commissionedOn: z.iso.date(),
  /** Contract under which it is run and its data produced (owned by the Métropole). */
  contractRef: z.string().min(1),
  /** Luminaires: their control cabinet. */
  cabinetId: z.string().optional(),
  /** Signal controllers and detectors: their intersection. */
  intersectionId: z.string().optional(),
  /** Detectors: number of lanes. */
  lanes: z.int().min(1).max(16).optional(),
  /** Winter vehicles: id of the service route they run from their home commune (`commune`). */
  routeId: z.string().optional(),
  /** Winter vehicles: waypoints of the route, a closed loop driven in order. */
  route: z.array(GeoPoint).min(2).max(64).optional(),
  /** Decommissioned equipment stays in the registry with this date. */
  decommissionedOn: z.iso.date().optional(),
});
/** An entry of the equipment registry. */
export type Equipment = z.infer<typeof Equipment>;

/** The registry file: a list of equipment with a revision. */
export const EquipmentRegistryFile = z.strictObject({
  revision: z.string(),
  generatedAt: z.iso.datetime({ offset: true }).optional(),
  equipment: z.array(Equipment),
});
/** The registry file. */
export type EquipmentRegistryFile = z.infer<typeof EquipmentRegistryFile>;
