import { loadRegistryFile, type EquipmentRegistryFile, type Family } from '@ondijon/contracts';

/**
 * Which families of equipment the registry lists in each commune. The registry is public reference
 * data (S0): a commune without any equipment of a dataset's families cannot produce a value, so its
 * cells are structural zeros, known to everyone before any data exists.
 */
export interface EquipmentPresence {
  /** Registry revision the presence was read from (recorded in release notes). */
  readonly revision: string;
  /** Whether the registry lists at least one equipment of one of `families` in `commune`. */
  has(commune: string, families: readonly Family[]): boolean;
}

/** The presence index of a parsed registry file. */
export function equipmentPresence(file: EquipmentRegistryFile): EquipmentPresence {
  const byCommune = new Map<string, Set<string>>();
  for (const e of file.equipment) {
    const set = byCommune.get(e.commune) ?? new Set<string>();
    set.add(e.family);
    byCommune.set(e.commune, set);
  }
  return {
    revision: file.revision,
    has: (commune, families) => families.some((f) => byCommune.get(commune)?.has(f) === true),
  };
}

/** Reads a registry file with contracts' loader (ONDIJON_REGISTRY_INVALID names the problems). */
export function loadEquipmentPresence(path: string): EquipmentPresence {
  return equipmentPresence(loadRegistryFile(path));
}
