import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { updateSecurityDoc } from '../src/security-doc';

describe('docs/security.md', () => {
  it('holds the access matrix, ACLs and Redis users as generated from the code (run `pnpm security:export`)', () => {
    const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
    expect(updateSecurityDoc(doc)).toBe(doc);
  });
});
