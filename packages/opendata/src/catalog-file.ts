import { readFile } from 'node:fs/promises';
import { abs, layout } from './layout';
import { Catalog } from './schemas';

/** An empty catalogue (a store with nothing published yet). */
export function emptyCatalog(): Catalog {
  return {
    format: 'ondijon-opendata-store/1',
    updatedAt: new Date(0).toISOString(),
    generation: 0,
    datasets: {},
    registers: {},
  };
}

/** Reads and parses `catalog.json`; null when the store has none yet. */
export async function readCatalogFile(rootDir: string): Promise<Catalog | null> {
  let text: string;
  try {
    text = await readFile(abs(rootDir, layout.catalog), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return Catalog.parse(JSON.parse(text));
}
