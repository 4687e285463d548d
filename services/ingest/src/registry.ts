import {
  DATA_OWNER,
  type EquipmentRegistryFile,
  loadRegistryFile,
  registryIndex,
  uuidFromName,
  type Envelope,
  type Equipment,
} from '@ondijon/contracts';

/** The in-memory equipment index ingest looks messages up in. */
export interface EquipmentIndex {
  /** Registry revision. */
  readonly revision: string;
  /** Number of entries. */
  readonly size: number;
  /** The entry of an equipment id, if registered. */
  get(equipmentId: string): Equipment | undefined;
  /** All entries. */
  entries(): Iterable<Equipment>;
}

/** Builds an index over a parsed registry file (a duplicate id is an error, as in contracts). */
export function indexRegistry(file: EquipmentRegistryFile): EquipmentIndex {
  const byId = registryIndex(file);
  return {
    revision: file.revision,
    size: byId.size,
    get: (id) => byId.get(id),
    entries: () => byId.values(),
  };
}

/** Reads and validates a registry file with contracts' loader (ONDIJON_REGISTRY_INVALID names the fields). */
export async function loadRegistry(file: string): Promise<EquipmentIndex> {
  return indexRegistry(loadRegistryFile(file));
}

/** CloudEvents type of a registry entry on `ref.s0.equipment.v1`. */
export const EQUIPMENT_EVENT_TYPE = 'fr.dijon.ondijon.reference.equipment.v1';

/**
 * The reference record of one entry: keyed by equipment id on a compacted topic, with an id derived
 * from the entry's content, so publishing the same registry twice is harmless (idempotent).
 */
export function equipmentRecord(
  entry: Equipment,
  policyRevision: string,
  producerVersion: string,
  now: Date,
): { key: string; value: Envelope<Equipment> } {
  const value: Envelope<Equipment> = {
    specversion: '1.0',
    id: uuidFromName(`ondijon:equipment:${JSON.stringify(entry)}`),
    source: `ondijon/registry/${entry.operator}/${entry.equipmentId}`,
    type: EQUIPMENT_EVENT_TYPE,
    subject: entry.equipmentId,
    time: now.toISOString(),
    datacontenttype: 'application/json',
    dataschema: 'schemas/equipment.v1.json',
    data: entry,
    ingestedat: now.toISOString(),
    operator: entry.operator,
    owner: DATA_OWNER,
    contractref: entry.contractRef,
    commune: entry.commune,
    sensitivity: 'S0',
    policyrevision: policyRevision,
    schemaversion: '1.0.0',
    lineage: { inputs: ['registry-file'], producer: 'ingest', producerVersion },
  };
  return { key: entry.equipmentId, value };
}
