import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_METADATA, createStoreWriter, exampleRelease } from '@ondijon/opendata';
import { buildApp, testConfig, type OpendataApiApp } from '../src/index';

/** The example dataset's id. */
export const LIGHTING = 'eclairage-energie-commune-heure';
/** A second dataset, to test lists and search. */
export const WINTER = 'viabilite-hivernale-test';

/** A store in a temp dir with two datasets (the first with two releases), written by the real writer. */
export async function fixtureStore(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'od-api-'));
  const w = createStoreWriter(dir);
  const day = new Date('2026-11-26T00:00:00Z');
  await w.writeRelease({ ...exampleRelease(day, 24), publishedAt: new Date('2026-11-27T10:00:00Z') });
  await w.writeRelease({ ...exampleRelease(day, 48), publishedAt: new Date('2026-11-28T10:00:00Z') });
  await w.writeRelease({
    ...exampleRelease(day, 24, WINTER),
    metadata: {
      ...EXAMPLE_METADATA,
      title: { fr: 'Viabilité hivernale (test)', en: 'Winter service (test)' },
      keywords: { fr: ['hiver', 'salage'], en: ['winter', 'salting'] },
      themes: ['TRAN'],
    },
    publishedAt: new Date('2026-11-28T11:00:00Z'),
  });
  await w.updateRegister('privacy-budget', { entries: [] });
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Builds the app over a fixture store. */
export async function fixtureApp(
  overrides: Parameters<typeof testConfig>[0] = {},
): Promise<{ app: OpendataApiApp; dir: string; cleanup: () => Promise<void> }> {
  const store = await fixtureStore();
  // PUBLIC_BASE_URL '' means: derive links from the request (a listening server on a random port).
  const { PUBLIC_BASE_URL = 'https://data.example.test', ...rest } = overrides;
  const app = await buildApp(
    testConfig({ OPENDATA_DIR: store.dir, ...(PUBLIC_BASE_URL ? { PUBLIC_BASE_URL } : {}), ...rest }),
  );
  return {
    app,
    dir: store.dir,
    cleanup: async () => {
      await app.close();
      await store.cleanup();
    },
  };
}
