import { readFile } from 'node:fs/promises';
import {
  DATA_OWNER,
  EquipmentRegistryFile,
  OnDijonError,
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

/** Builds an index over a parsed registry file. */
export function indexRegistry(file: EquipmentRegistryFile): EquipmentIndex {
  const byId = new Map(file.equipment.map((e) => [e.equipmentId, e]));
  return {
    revision: file.revision,
    size: byId.size,
    get: (id) => byId.get(id),
    entries: () => byId.values(),
  };
}

/** Reads and validates a registry file (JSON); the error names the file and the first problems. */
export async function loadRegistry(file: string): Promise<EquipmentIndex> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new OnDijonError('ONDIJON_CONFIG_INVALID', `registry file ${file} cannot be read as JSON`, {
      cause,
    });
  }
  const parsed = EquipmentRegistryFile.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new OnDijonError('ONDIJON_CONFIG_INVALID', `registry file ${file} is invalid: ${first.join('; ')}`);
  }
  return indexRegistry(parsed.data);
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
