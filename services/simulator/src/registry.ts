import { existsSync } from 'node:fs';
import { generateRegistry, loadRegistryFile, OnDijonError, type Equipment } from '@ondijon/contracts';

/** Registry scale: a laptop-sized fleet or the whole city. */
export type RegistryScale = 'small' | 'city';

/** A loaded registry: revision and equipment. */
export interface Registry {
  revision: string;
  equipment: Equipment[];
}

/** Reads and validates a registry file (`infra/registry/equipment.json` shape). */
export async function readRegistryFile(path: string): Promise<Registry> {
  const parsed = loadRegistryFile(path);
  return { revision: parsed.revision, equipment: parsed.equipment };
}

/**
 * The registry the simulator runs: the file when given (it must be the one ingest loads), else one
 * generated at the preset's scale. A missing file is an error, not a silent switch to another fleet.
 */
export async function loadRegistry(
  file: string,
  seed: number,
  scale: RegistryScale,
): Promise<Registry & { source: string }> {
  if (file !== '') {
    if (!existsSync(file))
      throw new OnDijonError('ONDIJON_CONFIG_INVALID', `registry file ${file} does not exist`);
    return { ...(await readRegistryFile(file)), source: file };
  }
  return { ...generatedRegistry(seed, scale), source: `generated:${scale}:${seed}` };
}

/** A registry from the contracts generator (the same function that wrote the committed file). */
export function generatedRegistry(seed: number, scale: RegistryScale): Registry {
  const file = generateRegistry({ seed, scale });
  return { revision: file.revision, equipment: file.equipment };
}
