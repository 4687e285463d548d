import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RUNTIME_REDIS_COMMANDS } from '../src/runtime/redis-commands';

const source = (file: string) => readFileSync(new URL(`../src/runtime/${file}`, import.meta.url), 'utf8');

describe('the Redis commands granted to the processors user', () => {
  it('lists every command the Lua scripts call', () => {
    const called = [...source('scripts.ts').matchAll(/redis\.call\('([A-Za-z]+)'/g)].map((m) =>
      m[1]!.toLowerCase(),
    );
    expect(called.length).toBeGreaterThan(10);
    expect(called.filter((c) => !RUNTIME_REDIS_COMMANDS.includes(c))).toEqual([]);
  });

  it('lists every command the store sends directly', () => {
    const direct = [...source('redis-store.ts').matchAll(/(?:redis|pipe)\.([a-z]+)\(/g)]
      .map((m) => m[1]!)
      .filter((c) => !['pipeline', 'exec', 'defineCommand'].includes(c));
    expect(direct.length).toBeGreaterThan(3);
    expect(direct.filter((c) => !RUNTIME_REDIS_COMMANDS.includes(c))).toEqual([]);
  });
});
