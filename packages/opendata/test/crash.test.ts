import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  WRITE_STEPS,
  createStoreWriter,
  exampleRelease,
  openStoreReader,
  recoverStore,
  sha256,
} from '../src/index';
import { catalogProblems } from './helpers';

const FIXTURE = resolve(import.meta.dirname, 'fixtures/crash-writer.ts');
const REPO = resolve(import.meta.dirname, '../../..');
const DATASET = 'eclairage-energie-commune-heure';
const dirs: string[] = [];

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function startWriter(
  root: string,
  env: Record<string, string>,
): { child: ChildProcess; waitFor(line: string): Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: REPO,
    env: { ...process.env, STORE_DIR: root, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    for (const w of waiters.splice(0))
      if (out.includes(w.line)) w.resolve();
      else waiters.push(w);
  });
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    child,
    exited,
    waitFor: (line) =>
      new Promise<void>((res, rej) => {
        if (out.includes(line)) return res();
        waiters.push({ line, resolve: res });
        void exited.then((code) =>
          rej(new Error(`writer exited (${code}) before "${line}": ${err.slice(-500)}`)),
        );
      }),
  };
}

async function baseStore(): Promise<{ root: string; r1Hashes: Map<string, string> }> {
  const root = await mkdtemp(join(tmpdir(), 'od-crash-'));
  dirs.push(root);
  const info = await createStoreWriter(root).writeRelease({
    ...exampleRelease(new Date('2026-11-27T00:00:00Z'), 24),
    publishedAt: new Date('2026-11-28T10:00:00Z'),
  });
  const r1Hashes = new Map<string, string>();
  for (const f of readdirSync(join(root, info.path)))
    r1Hashes.set(f, sha256(await readFile(join(root, info.path, f))));
  return { root, r1Hashes };
}

async function assertConsistentAfterCrash(
  root: string,
  r1Hashes: Map<string, string>,
): Promise<'whole' | 'absent'> {
  // Before any recovery: readers already see a consistent store.
  expect(await catalogProblems(root)).toEqual([]);
  const report = await recoverStore(root);
  expect(report.invalid).toEqual([]);
  expect(await catalogProblems(root)).toEqual([]);
  expect(existsSync(join(root, '.tmp')) ? readdirSync(join(root, '.tmp')) : []).toEqual([]);
  // The earlier release is never touched.
  const r1 = join(root, 'datasets', DATASET, 'releases', '2026-11-28T10-00-00Z-r1');
  for (const [f, h] of r1Hashes) expect(sha256(await readFile(join(r1, f))), f).toBe(h);
  const r2 = join(root, 'datasets', DATASET, 'releases', '2026-11-29T10-00-00Z-r2');
  const reader = openStoreReader(root);
  const releases = (await reader.releases(DATASET)).map((r) => r.releaseId);
  if (existsSync(r2)) {
    expect(releases).toEqual(['2026-11-28T10-00-00Z-r1', '2026-11-29T10-00-00Z-r2']);
    expect((await reader.rows(DATASET)).rows).toHaveLength(24 * 23);
    return 'whole';
  }
  expect(releases).toEqual(['2026-11-28T10-00-00Z-r1']);
  expect((await reader.rows(DATASET)).release.releaseId).toBe('2026-11-28T10-00-00Z-r1');
  return 'absent';
}

describe('writeRelease survives SIGKILL', () => {
  it.each(WRITE_STEPS.map((s) => [s]))(
    'killed at %s: release whole or absent, catalogue consistent',
    async (step) => {
      const { root, r1Hashes } = await baseStore();
      const w = startWriter(root, { CRASH_STEP: step });
      await w.waitFor(`AT ${step}`);
      w.child.kill('SIGKILL');
      await w.exited;
      const outcome = await assertConsistentAfterCrash(root, r1Hashes);
      // Up to the rename the release must be absent; after it, whole (adopted by recovery if unlinked).
      expect(outcome).toBe(
        WRITE_STEPS.indexOf(step) < WRITE_STEPS.indexOf('release:renamed') ? 'absent' : 'whole',
      );
      // A retried write after recovery does not duplicate the adopted release.
      const again = await createStoreWriter(root).writeRelease({
        ...exampleRelease(new Date('2026-11-28T00:00:00Z'), 24),
        publishedAt: new Date('2026-11-29T10:00:00Z'),
      });
      expect(again.releaseId).toBe('2026-11-29T10-00-00Z-r2');
      expect(again.reused).toBe(outcome === 'whole');
      expect(await catalogProblems(root)).toEqual([]);
    },
    60_000,
  );

  it('killed at random times: never a partial release or a dangling catalogue', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { root, r1Hashes } = await baseStore();
      const w = startWriter(root, { HOURS: '24' });
      await w.waitFor('START');
      // Random point in the write (which takes tens of ms here): before, during or after it.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 60)));
      w.child.kill('SIGKILL');
      await w.exited;
      outcomes.push(await assertConsistentAfterCrash(root, r1Hashes));
    }
    expect(outcomes.every((o) => o === 'whole' || o === 'absent')).toBe(true);
  }, 120_000);
});
