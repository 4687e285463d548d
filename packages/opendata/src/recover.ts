import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readCatalogFile } from './catalog-file';
import { sha256 } from './durable-fs';
import { abs, layout } from './layout';
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

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Reads a release folder and checks every file against the checksums of its notes; null when not whole. */
export async function verifyReleaseFolder(rootDir: string, relPath: string) {
  try {
    const dir = abs(rootDir, relPath);
    const notesJson = await readFile(join(dir, 'release-notes.json'), 'utf8');
    const notes = ReleaseNotes.parse(JSON.parse(notesJson));
    for (const f of notes.files) {
      const data = await readFile(join(dir, f.name));
      if (data.length !== f.bytes || sha256(data) !== f.sha256) return null;
    }
    const metadata = DatasetMetadata.parse(JSON.parse(await readFile(join(dir, 'dataset.json'), 'utf8')));
    const schema = TableSchema.parse(JSON.parse(await readFile(join(dir, 'schema.json'), 'utf8')));
    const dataPackage = JSON.parse(await readFile(join(dir, 'datapackage.json'), 'utf8'));
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
  rootDir: string,
  options: { logger?: StoreLogger } = {},
): Promise<RecoveryReport> {
  const report: RecoveryReport = { removedTemp: [], adopted: [], invalid: [] };
  const tmp = abs(rootDir, layout.tmp);
  for (const name of await listDir(tmp)) {
    await rm(join(tmp, name), { recursive: true, force: true });
    report.removedTemp.push(name);
  }
  for (const datasetId of (await listDir(abs(rootDir, 'datasets'))).sort()) {
    const catalog = await readCatalogFile(rootDir);
    const linked = new Set(catalog?.datasets[datasetId]?.releases.map((r) => r.releaseId) ?? []);
    const folders = (await listDir(abs(rootDir, layout.releases(datasetId)))).filter((r) => !linked.has(r));
    const snaps = [];
    for (const releaseId of folders) {
      const snap = await verifyReleaseFolder(rootDir, layout.release(datasetId, releaseId));
      if (snap) snaps.push(snap);
      else report.invalid.push(layout.release(datasetId, releaseId));
    }
    snaps.sort((a, b) => a.notes.sequence - b.notes.sequence);
    for (const snap of snaps) {
      await linkRelease(rootDir, snap);
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
