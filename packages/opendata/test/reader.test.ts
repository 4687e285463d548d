import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RELEASE_FILES, createStoreWriter, exampleRelease, openStoreReader } from '../src/index';

const DATASET = 'eclairage-energie-commune-heure';
const DAY = new Date('2026-11-27T00:00:00Z');
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'od-reader-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('openStoreReader', () => {
  it('with revalidateMs, trusts a file checked unchanged for that long; without, sees writes at once', async () => {
    const w = createStoreWriter(root);
    await w.writeRelease({ ...exampleRelease(DAY, 24), publishedAt: new Date('2026-11-28T10:00:00Z') });
    const trusting = openStoreReader(root, { revalidateMs: 60_000 });
    const checking = openStoreReader(root);
    expect((await trusting.releases(DATASET)).length).toBe(1);
    expect((await checking.releases(DATASET)).length).toBe(1);
    await w.writeRelease({ ...exampleRelease(DAY, 48), publishedAt: new Date('2026-11-28T11:00:00Z') });
    expect((await trusting.releases(DATASET)).length).toBe(1);
    expect((await checking.releases(DATASET)).length).toBe(2);
    const soon = openStoreReader(root, { revalidateMs: 1 });
    expect((await soon.releases(DATASET)).length).toBe(2);
  });

  it('names every file the release notes list as a release file (all are served), with its size', async () => {
    const info = await createStoreWriter(root).writeRelease(exampleRelease(DAY, 24));
    const reader = openStoreReader(root);
    const notes = await reader.releaseNotes(DATASET, info.releaseId);
    for (const f of notes.files) expect(RELEASE_FILES as readonly string[]).toContain(f.name);
    expect(notes.files.map((f) => f.name)).toContain('dataset.json');
    expect(await reader.releaseNotesBytes(DATASET, info.releaseId)).toBeGreaterThan(100);
  });

  it('lists the registers with their sizes and checksums', async () => {
    const w = createStoreWriter(root);
    await w.updateRegister('privacy-budget', { datasets: {} });
    await w.updateRegister('data-uses', { uses: [] });
    const regs = await openStoreReader(root).registerFiles();
    expect(regs.map((r) => r.name)).toEqual(['data-uses', 'privacy-budget']);
    for (const r of regs) {
      expect(r.bytes).toBeGreaterThan(0);
      expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
