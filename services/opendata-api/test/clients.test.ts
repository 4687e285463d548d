import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpendataApiApp } from '../src/index';
import { LIGHTING, fixtureApp } from './fixture';

// Independent clients nobody here wrote (docs/platform-notes.md, "Independent checkers"): ckanapi and schemathesis from PyPI.
// CI installs them with: pip install ckanapi schemathesis frictionless
// Each test skips, saying why, when its tool is missing.

let app: OpendataApiApp;
let url: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, cleanup } = await fixtureApp({ PUBLIC_BASE_URL: '' }));
  url = await app.start();
});
afterAll(async () => cleanup());

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;

describe('real clients', () => {
  it('ckanapi (python) calls package_list, package_show, datastore_search, package_search and gets CKAN errors', async (ctx) => {
    if (!has('python3', ['-c', 'import ckanapi'])) {
      ctx.skip(true, 'python ckanapi not installed: `pip install ckanapi` to run this check');
      return;
    }
    // spawnSync would block the event loop that serves the requests: run the client asynchronously.
    const { spawn } = await import('node:child_process');
    const child = spawn('python3', [
      resolve(import.meta.dirname, 'fixtures/ckanapi_client.py'),
      url,
      LIGHTING,
    ]);
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, err).toBe(0);
    const res = JSON.parse(out);
    expect(res.package_list).toEqual([LIGHTING, 'viabilite-hivernale-test']);
    expect(res.package_show).toEqual({
      name: LIGHTING,
      license_id: 'lov2',
      formats: ['CSV', 'GeoJSON', 'JSON'],
    });
    expect(res.datastore_search.total).toBe(48);
    expect(res.datastore_search.records).toHaveLength(3);
    expect(res.datastore_search.records[0].commune).toBe('21231');
    expect(res.package_search).toBe(1);
    expect(res.organization_list).toEqual(['dijon-metropole']);
    expect(res.not_found).toBe('NotFound');
    expect(res.validation).toBe('ValidationError');
    // Incremental harvest: only the dataset modified after 10:30 on the 28th (published 11:00).
    expect(res.incremental).toBe(1);
    expect(res.created_range).toBe(1);
    expect(res.data_dictionary._id).toBeNull();
    expect(res.data_dictionary.energy_kwh).toMatchObject({
      label: expect.any(String),
      notes: expect.any(String),
    });
    expect(res.data_dictionary.energy_kwh.label).not.toBe('');
    for (const size of res.sizes) expect(size).toBeGreaterThan(0);
    // Every file the release notes name is served, with the size they state.
    expect(Object.keys(res.release_files)).toContain('dataset.json');
    for (const [name, [status, sameSize]] of Object.entries(
      res.release_files as Record<string, [number, boolean]>,
    ))
      expect([name, status, sameSize]).toEqual([name, 200, true]);
  }, 60_000);

  it('schemathesis fuzzes /openapi.json: no 5xx, documented statuses, content types and schemas', async (ctx) => {
    if (!has('st', ['--version'])) {
      ctx.skip(true, 'schemathesis not installed: `pip install schemathesis` to run this check');
      return;
    }
    const { spawn } = await import('node:child_process');
    const child = spawn('st', [
      'run',
      `${url}/openapi.json`,
      '--checks',
      'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance',
      '--max-examples',
      '15',
      '--phases',
      'coverage,fuzzing',
      '--seed',
      '42',
      '--workers',
      '1',
      '--report-dir',
      resolve(import.meta.dirname, '../../../reports/schemathesis'),
    ]);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, out.slice(-4000)).toBe(0);
    expect(out).toMatch(/passed/);
  }, 300_000);
});
