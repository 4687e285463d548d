// The OCI image definition and the compose file cannot be built or run here (no container engine, no
// image registry): this checks what can be checked without them (issue 17, item 5). Every COPY source
// exists and is not excluded by .dockerignore, every workspace package of the lockfile is copied (so
// `pnpm install --frozen-lockfile` finds them), the final stage is a Debian base running as non-root, and
// every service of docker-compose.yml built from the image names a real entry point.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../src/harness';

const read = (rel: string) => readFileSync(path.join(REPO_ROOT, rel), 'utf8');

/** Dockerfile instructions (continuations joined, comments dropped), by stage. */
function stages(text: string): { from: string; name?: string; lines: string[] }[] {
  const out: { from: string; name?: string; lines: string[] }[] = [];
  const joined = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of joined) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1]!, ...(from[2] ? { name: from[2] } : {}), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

const dockerfile = stages(read('Dockerfile'));
const ignored = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const copies = dockerfile.flatMap((s) =>
  s.lines
    .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
    .flatMap((l) => {
      const args = l
        .split(/\s+/)
        .slice(1)
        .filter((a) => !a.startsWith('--'));
      return args.slice(0, -1);
    }),
);

describe('Dockerfile', () => {
  it('copies only sources that exist and that .dockerignore lets through', () => {
    expect(copies.length).toBeGreaterThan(0);
    for (const src of copies) {
      expect(existsSync(path.join(REPO_ROOT, src)), `COPY ${src}`).toBe(true);
      expect(ignored, `COPY ${src} is excluded by .dockerignore`).not.toContain(src);
    }
  });

  it('copies every workspace package of the lockfile', () => {
    // The `importers:` keys of the lockfile (read as text: parsing the whole lockfile is slow).
    const lock = read('pnpm-lock.yaml');
    const section = lock.slice(lock.indexOf('\nimporters:\n'), lock.indexOf('\npackages:\n'));
    const importers = [...section.matchAll(/^ {2}(\S[^:]*):$/gm)].map((m) => m[1]!).filter((i) => i !== '.');
    expect(importers.length).toBeGreaterThan(5);
    for (const i of importers)
      expect(
        copies.some((c) => i === c || i.startsWith(`${c.replace(/\/$/, '')}/`) || `${i}/package.json` === c),
        `workspace package ${i} not copied`,
      ).toBe(true);
  });

  it('is multi-stage, from a Debian base, and runs as a non-root user through tsx', () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    const final = dockerfile.at(-1)!;
    expect(final.from).toMatch(/bookworm|trixie|debian/);
    const users = final.lines.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(users.at(-1)).toBeDefined();
    expect(['root', '0']).not.toContain(users.at(-1));
    const entry = final.lines.find((l) => /^ENTRYPOINT\s/i.test(l))!;
    expect(JSON.parse(entry.replace(/^ENTRYPOINT\s+/i, ''))).toEqual(
      expect.arrayContaining(['node', '--import', 'tsx']),
    );
    const cmd = JSON.parse(final.lines.find((l) => /^CMD\s/i.test(l))!.replace(/^CMD\s+/i, '')) as string[];
    expect(existsSync(path.join(REPO_ROOT, cmd[0]!)), cmd[0]).toBe(true);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as {
    services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string> }>;
  };
  const ours = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('ondijon'));

  it('runs the five services and the simulator from the image, each command a real entry point', () => {
    expect(ours.map(([n]) => n).sort()).toEqual(
      ['console', 'ingest', 'opendata-api', 'processors', 'publisher', 'simulator'].sort(),
    );
    for (const [name, s] of ours) {
      expect(s.command, name).toEqual([`services/${name}/src/main.ts`]);
      expect(existsSync(path.join(REPO_ROOT, s.command![0]!)), name).toBe(true);
    }
  });

  it('runs the publisher with its state in Redis (several instances may share it)', () => {
    expect(compose.services.publisher?.environment?.PUBLISHER_STATE_STORE).toBe('redis');
  });
});
