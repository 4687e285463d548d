import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PUBLISHER_REDIS_COMMANDS } from '@ondijon/contracts';

const source = readFileSync(new URL('../src/redis-state.ts', import.meta.url), 'utf8');
const granted: readonly string[] = PUBLISHER_REDIS_COMMANDS;

describe('the Redis commands granted to the publisher user', () => {
  it('lists every command the Lua scripts call', () => {
    const called = [...source.matchAll(/redis\.call\('([A-Za-z]+)'/g)].map((m) => m[1]!.toLowerCase());
    expect(called.length).toBeGreaterThan(10);
    expect(called.filter((c) => !granted.includes(c))).toEqual([]);
  });

  it('lists every command the state sends directly', () => {
    const direct = [...source.matchAll(/(?:redis|pipe)\.([a-z]+)\(/g)]
      .map((m) => m[1]!)
      .filter((c) => !['pipeline', 'exec', 'call'].includes(c))
      .map((c) => (c === 'script' ? 'script|load' : c));
    expect(direct.length).toBeGreaterThan(4);
    expect(direct.filter((c) => !granted.includes(c))).toEqual([]);
  });
});
