// `stack up` twice is harmless: the second call reuses every running service (same pids, still healthy).
import { stackStatus, stackUp } from '@ondijon/stack';
import { describe, expect, it } from 'vitest';

describe('stackUp', () => {
  it('reuses what runs when called again', async () => {
    const first = await stackUp();
    const lines: string[] = [];
    const second = await stackUp({ log: (l) => lines.push(l) });
    expect(second.every((s) => s.healthy)).toBe(true);
    expect(second.map((s) => [s.service, s.pid])).toEqual(first.map((s) => [s.service, s.pid]));
    expect(lines.some((l) => l.includes('started'))).toBe(false);
    expect((await stackStatus()).every((s) => s.healthy)).toBe(true);
  });
});
