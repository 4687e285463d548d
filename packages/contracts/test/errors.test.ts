import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, OnDijonError, errorCodes, isOnDijonError } from '../src/index';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/error-codes.md', import.meta.url)), 'utf8');
/** Codes documented as `## ONDIJON_…` headings. */
const documented = [...doc.matchAll(/^## (ONDIJON_[A-Z_]+)\s*$/gm)].map((m) => m[1]!);

describe('error codes', () => {
  it('are all documented in docs/error-codes.md', () => {
    for (const code of errorCodes) expect(documented, code).toContain(code);
  });

  it('documents no code that does not exist', () => {
    for (const code of documented) expect(errorCodes, code).toContain(code);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('documents the retryable flag as declared', () => {
    for (const code of errorCodes) {
      const section = doc.split(`## ${code}\n`)[1]?.split('\n## ')[0] ?? '';
      expect(section, code).toContain(`Retryable: ${ERROR_CODES[code].retryable ? 'yes' : 'no'}`);
    }
  });

  it('OnDijonError carries code, retryable and cause', () => {
    const cause = new Error('boom');
    const err = new OnDijonError('ONDIJON_KAFKA_UNAVAILABLE', 'x', { cause, details: { topic: 't' } });
    expect(err.retryable).toBe(true);
    expect(err.cause).toBe(cause);
    expect(isOnDijonError(err, 'ONDIJON_KAFKA_UNAVAILABLE')).toBe(true);
    expect(isOnDijonError(err, 'ONDIJON_NOT_FOUND')).toBe(false);
    expect(isOnDijonError(new Error('x'))).toBe(false);
  });
});
