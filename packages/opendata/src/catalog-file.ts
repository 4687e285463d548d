import { toBackend, type StoreBackend } from './backend';
import { layout } from './layout';
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
export async function readCatalogFile(store: string | StoreBackend): Promise<Catalog | null> {
  const data = await toBackend(store).read(layout.catalog);
  if (data === undefined) return null;
  return Catalog.parse(JSON.parse(data.toString('utf8')));
}
