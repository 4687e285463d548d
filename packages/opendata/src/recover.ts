import { toBackend, type StoreBackend } from './backend';
import { readCatalogFile } from './catalog-file';
import { sha256 } from './durable-fs';
import { layout } from './layout';
import { DatasetMetadata, ReleaseNotes, TableSchema } from './schemas';
import { linkRelease, type StoreLogger } from './writer';

/** What `recoverStore` did. */
export interface RecoveryReport {
  /** Temp entries (crash debris) removed from `.tmp/`. */
  removedTemp: string[];
  /** Whole release folders that a crash left unlinked, now listed in the catalogue. */
  adopted: string[];
  /** Release folders that fail their own checksums: left untouched, reported. */
  invalid: string[];
}

/** Reads a release folder and checks every file against the checksums of its notes; null when not whole. */
export async function verifyReleaseFolder(store: string | StoreBackend, relPath: string) {
  const backend = toBackend(store);
  const read = async (name: string) => {
    const data = await backend.read(`${relPath}/${name}`);
    if (data === undefined) throw new Error(`${relPath}/${name} is missing`);
    return data;
  };
  try {
    const notesJson = (await read('release-notes.json')).toString('utf8');
    const notes = ReleaseNotes.parse(JSON.parse(notesJson));
    for (const f of notes.files) {
      const data = await read(f.name);
      if (data.length !== f.bytes || sha256(data) !== f.sha256) return null;
    }
    const metadata = DatasetMetadata.parse(JSON.parse((await read('dataset.json')).toString('utf8')));
    const schema = TableSchema.parse(JSON.parse((await read('schema.json')).toString('utf8')));
    const dataPackage = JSON.parse((await read('datapackage.json')).toString('utf8'));
    return { notes, metadata, schema, dataPackage, notesSha256: sha256(notesJson) };
  } catch {
    return null;
  }
}

/**
 * Cleans up after a writer crash; run it at publisher start-up, before writing. Removes temp debris
 * and links whole release folders that were renamed into place but not yet in the catalogue (the
 * crash fell between the rename and the catalogue write). Published releases are never modified.
 * Not safe to run while another writer is writing to the same store.
 */
export async function recoverStore(
  store: string | StoreBackend,
  options: { logger?: StoreLogger } = {},
): Promise<RecoveryReport> {
  const backend = toBackend(store);
  const report: RecoveryReport = { removedTemp: [], adopted: [], invalid: [] };
  report.removedTemp.push(...(await backend.removeTemp()));
  for (const datasetId of (await backend.list('datasets')).sort()) {
    const catalog = await readCatalogFile(backend);
    const linked = new Set(catalog?.datasets[datasetId]?.releases.map((r) => r.releaseId) ?? []);
    const folders = (await backend.list(layout.releases(datasetId))).filter((r) => !linked.has(r));
    const snaps = [];
    for (const releaseId of folders) {
      // On S3 a release still being uploaded (or cut short) has no notes yet, or files that fail them:
      // it is reported invalid and left alone (the catalogue never names it).
      const snap = await verifyReleaseFolder(backend, layout.release(datasetId, releaseId));
      if (snap) snaps.push(snap);
      else report.invalid.push(layout.release(datasetId, releaseId));
    }
    snaps.sort((a, b) => a.notes.sequence - b.notes.sequence);
    for (const snap of snaps) {
      await linkRelease(backend, snap);
      report.adopted.push(layout.release(datasetId, snap.notes.releaseId));
    }
  }
  if (report.removedTemp.length || report.adopted.length || report.invalid.length) {
    options.logger?.warn(
      {
        removedTemp: report.removedTemp.length,
        adopted: report.adopted.length,
        invalid: report.invalid.length,
      },
      'store recovered',
    );
  }
  return report;
}
