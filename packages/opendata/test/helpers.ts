import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, ReleaseNotes, sha256 } from '../src/index';

/**
 * Checks the invariants readers rely on: every file the catalogue names exists, and every release
 * it names is whole (each file matches the size and SHA-256 of its notes). Returns the problems.
 */
export async function catalogProblems(root: string): Promise<string[]> {
  const problems: string[] = [];
  const path = join(root, 'catalog.json');
  if (!existsSync(path)) return problems;
  const catalog = Catalog.parse(JSON.parse(await readFile(path, 'utf8')));
  for (const [id, d] of Object.entries(catalog.datasets)) {
    for (const p of [d.metadataPath, d.schemaPath, d.datapackagePath])
      if (!existsSync(join(root, p))) problems.push(`${id}: missing ${p}`);
    if (!d.releases.some((r) => r.releaseId === d.latestRelease))
      problems.push(`${id}: latest release not listed`);
    for (const r of d.releases) {
      const notesPath = join(root, r.path, 'release-notes.json');
      if (!existsSync(notesPath)) {
        problems.push(`${id}: missing ${r.path}/release-notes.json`);
        continue;
      }
      const notesText = await readFile(notesPath, 'utf8');
      if (sha256(notesText) !== r.notesSha256) problems.push(`${id}: notes checksum of ${r.releaseId}`);
      problems.push(
        ...(await releaseProblems(join(root, r.path), ReleaseNotes.parse(JSON.parse(notesText)))),
      );
    }
  }
  for (const [name, reg] of Object.entries(catalog.registers))
    if (!existsSync(join(root, reg.path))) problems.push(`register ${name} missing`);
  return problems;
}

/** Files of a release folder that do not match its notes. */
export async function releaseProblems(dir: string, notes: ReleaseNotes): Promise<string[]> {
  const out: string[] = [];
  for (const f of notes.files) {
    const p = join(dir, f.name);
    if (!existsSync(p)) out.push(`${dir}: missing ${f.name}`);
    else if (sha256(await readFile(p)) !== f.sha256) out.push(`${dir}: checksum of ${f.name}`);
  }
  return out;
}
