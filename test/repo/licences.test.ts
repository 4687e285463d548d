// Every package of the workspace declares the project's licence, and LICENSE holds its text
// (CONTRIBUTING.md: the project is EUPL-1.2). A package added without a licence field fails here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The `packages:` entries of pnpm-workspace.yaml (`dir` or `dir/*`), expanded to package.json files. */
function workspacePackageFiles(): string[] {
  const yaml = readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8');
  const block = /^packages:\n((?:\s+- .+\n)+)/m.exec(yaml)?.[1] ?? '';
  const patterns = [...block.matchAll(/- (\S+)/g)].map((m) => m[1] ?? '');
  const dirs = patterns.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(ROOT, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => `${pattern.slice(0, -2)}/${e.name}`)
      : [pattern],
  );
  const files = dirs.map((d) => `${d}/package.json`).filter((f) => existsSync(join(ROOT, f)));
  return ['package.json', ...files].sort();
}

describe('licences', () => {
  it('LICENSE holds the EUPL-1.2 text', () => {
    const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(text).toMatch(/EUROPEAN UNION PUBLIC LICENCE v\. 1\.2/);
    expect(text.length).toBeGreaterThan(10_000);
  });

  it('every workspace package declares EUPL-1.2', () => {
    const files = workspacePackageFiles();
    expect(files.length).toBeGreaterThan(10);
    const undeclared = files.filter(
      (f) => (JSON.parse(readFileSync(join(ROOT, f), 'utf8')) as { license?: string }).license !== 'EUPL-1.2',
    );
    expect(undeclared).toEqual([]);
  });
});
