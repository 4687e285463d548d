// The repository explains itself (CONTRIBUTING.md rule 18): every path that the docs and the code
// comments cite resolves to a file or folder of the repository, and nothing cites a document that
// lives outside it or a path of one machine.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Generated, installed or local-only folders: not part of the repository's text. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.stack', 'reports', 'dist']);
/** Top-level folders a citation may start with (a citation of `x/y` is read from the repo root). */
const TOP_DIRS = readdirSync(ROOT).filter(
  (name) => !SKIPPED_DIRS.has(name) && statSync(join(ROOT, name)).isDirectory(),
);
/** Files scanned for citations in comments, by how their comments start. */
const SLASH_COMMENTS = /\.(ts|js|mjs|cjs)$/;
const HASH_COMMENTS = /\.(ya?ml|sh|py)$|(^|\/)\.env\.example$|^ondijon$|^\.ci\/run$/;

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else out.push(relative(ROOT, path).split('\\').join('/'));
  }
  return out;
}

const FILES = walk(ROOT);
const MARKDOWN = FILES.filter((f) => f.endsWith('.md'));
const CODE = FILES.filter((f) => SLASH_COMMENTS.test(f) || HASH_COMMENTS.test(f));
/** Every text file where an outside citation could hide (the lock file is generated). */
const TEXT = FILES.filter(
  (f) =>
    f !== 'pnpm-lock.yaml' &&
    (f.endsWith('.md') || f.endsWith('.json') || SLASH_COMMENTS.test(f) || HASH_COMMENTS.test(f)),
);

/** The comment text of a source file: `//` and `/* … *\/` lines, or `#` lines. */
function commentsOf(file: string, text: string): string[] {
  const lines = text.split('\n');
  if (HASH_COMMENTS.test(file)) {
    return lines.flatMap((l) => {
      const i = l.search(/(^|\s)#(?!!)/);
      return i === -1 ? [] : [l.slice(i)];
    });
  }
  const out: string[] = [];
  let inBlock = false;
  for (const line of lines) {
    const t = line.trim();
    if (inBlock) {
      out.push(t);
      if (t.includes('*/')) inBlock = false;
    } else if (t.startsWith('/*')) {
      out.push(t);
      inBlock = !t.includes('*/');
    } else {
      const i = line.indexOf('// ');
      if (i !== -1 && !/\S:\/\/ /.test(line.slice(Math.max(0, i - 6), i + 3))) out.push(line.slice(i));
    }
  }
  return out;
}

/** Candidate paths in a piece of text: `dir/…` from a top-level folder, `./x` or `../x`, a top-level Markdown file. */
function citedPaths(text: string): string[] {
  const found = new Set<string>();
  const top = TOP_DIRS.map((d) => d.replace(/\./g, '\\.')).join('|');
  const patterns = [
    new RegExp(`(?<![\\w./@$-])((?:${top})/[\\w.@/-]*[\\w])`, 'g'),
    /(?<![\w./@$-])((?:\.\.?\/)+[\w.@-][\w.@/-]*\.[a-z]+)/g,
    /(?<![\w./@$-])([A-Z][A-Z-]*\.md)\b/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) found.add(m[1]!);
  return [...found];
}

/** Markdown link targets that are paths (not URLs, not anchors). */
function linkTargets(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!.split('#')[0]!)
    .filter((t) => t !== '' && !/^[a-z]+:/i.test(t));
}

/** The folder of the workspace package holding `file` (a source file may cite its package's tests from the package folder). */
function packageDirOf(file: string): string {
  for (let dir = dirname(file); dir !== '.' && dir !== ''; dir = dirname(dir)) {
    if (existsSync(join(ROOT, dir, 'package.json'))) return dir;
  }
  return '.';
}

/**
 * True when `path` names an existing file or folder, read from the citing file's folder, its package's
 * folder or the repository root.
 */
function resolves(citingFile: string, path: string): boolean {
  if (/[<>{}*…$]/.test(path)) return true; // a pattern or placeholder, not a path
  return [dirname(citingFile), packageDirOf(citingFile), '.'].some((base) =>
    existsSync(join(ROOT, base, path)),
  );
}

/**
 * Cited paths that do not exist yet, left to the owners of the citing files (none today). A citation of
 * one of these is accepted while it does not exist. Remove an entry once it is fixed: the last test fails
 * until then.
 */
const PENDING_MISSING: string[] = [];

function unresolved(file: string, texts: string[], links: string[] = []): string[] {
  const paths = new Set([...texts.flatMap(citedPaths), ...links]);
  return [...paths]
    .filter((p) => !resolves(file, p) && !PENDING_MISSING.includes(p))
    .map((p) => `${file}: ${p}`);
}

const OUTSIDE = [
  ...['DESIGN', 'STYLE', 'INFRA-NOTES'].map((name) => new RegExp(`\\b${name}\\.md\\b`)),
  new RegExp(`\\.\\./${'shared'}\\b`),
  new RegExp(`\\b${'shared'}/reference\\b`),
  new RegExp(`(^|[\\s(\`'"])/${'work'}/`),
];

function outsideCitations(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return OUTSIDE.filter((re) => re.test(text)).map((re) => `${file}: ${re.source}`);
}

describe('citations', () => {
  it('finds the documents and sources it is meant to scan', () => {
    expect(MARKDOWN).toEqual(
      expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/architecture.md', 'docs/security.md']),
    );
    expect(CODE).toEqual(expect.arrayContaining(['packages/contracts/src/errors.ts', 'ondijon', '.ci/run']));
    expect(citedPaths('see `packages/kafka/src/client.ts`, ../src/x.ts and CONTRIBUTING.md rule 8')).toEqual([
      'packages/kafka/src/client.ts',
      '../src/x.ts',
      'CONTRIBUTING.md',
    ]);
  });

  it('every path cited in a Markdown document resolves to a file or folder of the repository', () => {
    const problems = MARKDOWN.flatMap((file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const code = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
      return unresolved(file, code, linkTargets(text));
    });
    expect(problems).toEqual([]);
  });

  it('every path cited in a code comment resolves to a file or folder of the repository', () => {
    const problems = CODE.flatMap((file) =>
      unresolved(file, commentsOf(file, readFileSync(join(ROOT, file), 'utf8'))),
    );
    expect(problems).toEqual([]);
  });

  it('detects a path that does not resolve', () => {
    expect(unresolved('docs/x.md', ['see `docs/no-such-file.md`'], ['../nowhere.md'])).toEqual([
      'docs/x.md: docs/no-such-file.md',
      'docs/x.md: ../nowhere.md',
    ]);
  });

  it('no file cites a document outside the repository or a path of one machine', () => {
    const problems = TEXT.flatMap(outsideCitations);
    expect(problems).toEqual([]);
  });

  it('the paths left to other changes are still missing (remove each from the list once fixed)', () => {
    for (const path of PENDING_MISSING) expect(existsSync(join(ROOT, path)), path).toBe(false);
  });
});
