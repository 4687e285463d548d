import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { scaffoldProcessor } from '../../src/cli/new-processor';

const service = fileURLToPath(new URL('../../', import.meta.url));
const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('new:processor', () => {
  // A temp copy of the service next to the workspace's node_modules, so the scaffolded test can run.
  const dir = mkdtempSync(join(tmpdir(), 'ondijon-new-processor-'));
  const copy = join(dir, 'processors');
  cpSync(join(service, 'src'), join(copy, 'src'), { recursive: true });
  cpSync(join(service, 'test/processors'), join(copy, 'test/processors'), { recursive: true });
  symlinkSync(join(service, 'node_modules'), join(copy, 'node_modules'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the processor, registers it and writes a test that passes', () => {
    const r = scaffoldProcessor('lighting-energy-test', copy);
    expect(r.exportName).toBe('lightingEnergyTest');
    const index = readFileSync(r.indexFile, 'utf8');
    expect(index).toContain("import { lightingEnergyTest } from './lighting-energy-test';");
    expect(index).toMatch(/ {2}lightingEnergyTest,\n {2}\/\/ new processors above this line/);
    const out = execFileSync(
      join(root, 'node_modules/.bin/vitest'),
      ['run', '--root', copy, '--dir', copy, 'test/processors/lighting-energy-test.test.ts'],
      {
        cwd: copy,
        encoding: 'utf8',
        env: { ...process.env, CI: '' },
      },
    );
    expect(out).toMatch(/1 passed/);
  });

  it('refuses a taken or invalid name and changes nothing', () => {
    const before = readFileSync(join(copy, 'src/processors/index.ts'), 'utf8');
    expect(() => scaffoldProcessor('signal-status', copy)).toThrow(/already exists/);
    expect(() => scaffoldProcessor('Bad_Name', copy)).toThrow(/kebab-case/);
    expect(readFileSync(join(copy, 'src/processors/index.ts'), 'utf8')).toBe(before);
  });
});
