// Services run under the Node flags of their package.json `start` script wherever the harness starts
// them (`./ondijon run`, the tests, the benches), as `pnpm start` and the image (Dockerfile) run them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, serviceNodeFlags } from '../src/harness';

function withStart(start: string | undefined): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-flags-'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ scripts: start ? { start } : {} }));
  return dir;
}

describe('serviceNodeFlags', () => {
  it("reads the flags before `--import tsx` in a service's start script", () => {
    expect(serviceNodeFlags(withStart('node --max-semi-space-size=32 --import tsx src/main.ts'))).toEqual([
      '--max-semi-space-size=32',
    ]);
    expect(
      serviceNodeFlags(
        withStart('node --max-semi-space-size=32 --max-old-space-size=512 --import tsx src/main.ts'),
      ),
    ).toEqual(['--max-semi-space-size=32', '--max-old-space-size=512']);
  });

  it('gives none for a script without flags, without a start script, or without a package.json', () => {
    expect(serviceNodeFlags(withStart('tsx src/main.ts'))).toEqual([]);
    expect(serviceNodeFlags(withStart('node --import tsx src/main.ts'))).toEqual([]);
    expect(serviceNodeFlags(withStart(undefined))).toEqual([]);
    expect(serviceNodeFlags(path.join(tmpdir(), 'no-such-service'))).toEqual([]);
  });

  it("gives the services' own: ingest, processors and the console with a 32 MiB young generation", () => {
    for (const service of ['ingest', 'processors', 'console'])
      expect(serviceNodeFlags(path.join(REPO_ROOT, 'services', service))).toEqual([
        '--max-semi-space-size=32',
      ]);
  });
});
