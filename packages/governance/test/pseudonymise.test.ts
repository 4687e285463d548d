import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyring, isPseudonym, keyringFromEnv, pseudonymKey, pseudonymise } from '../src/pseudonymise';

const DAY = 86_400_000;
const t0 = Date.parse('2026-01-15T00:00:00Z');

describe('keyed pseudonyms', () => {
  const keyring = createKeyring({
    secret: 'a-long-enough-master-secret',
    epochLengthDays: 30,
    now: () => t0,
  });

  it('are stable within a key epoch', () => {
    const e = keyring.epochOf(t0);
    expect(keyring.epochOf(t0 + DAY)).toBe(e); // same epoch a day later (t0 is not an epoch boundary)
    expect(pseudonymise('AGT-0042', keyring, e)).toBe(
      pseudonymise('AGT-0042', keyring, keyring.epochOf(t0 + DAY)),
    );
    expect(pseudonymise('AGT-0042', keyring)).toBe(pseudonymise('AGT-0042', keyring, e));
  });

  it('differ across epochs, and between values', () => {
    const e = keyring.currentEpoch();
    const a = pseudonymise('AGT-0042', keyring, e);
    const b = pseudonymise('AGT-0042', keyring, e + 1);
    expect(a).not.toBe(b);
    expect(a.split(':')[3]).not.toBe(b.split(':')[3]);
    expect(keyring.epochOf(t0 + 30 * DAY)).toBe(e + 1);
    expect(pseudonymise('AGT-0043', keyring, e)).not.toBe(a);
  });

  it('carry the version of their master secret', () => {
    const other = createKeyring({ secret: 'another-long-master-secret', epochLengthDays: 30, now: () => t0 });
    expect(keyring.keyVersion).toMatch(/^[0-9a-f]{8}$/);
    expect(other.keyVersion).not.toBe(keyring.keyVersion);
    expect(pseudonymKey(pseudonymise('AGT-0042', other))!.keyVersion).toBe(other.keyVersion);
    expect(pseudonymKey('AGT-0042')).toBeUndefined();
  });

  it('have the documented format', () => {
    const p = pseudonymise('AGT-0042', keyring, 683);
    expect(p).toMatch(/^psd:k[0-9a-f]{8}:e683:[A-Za-z0-9_-]{22}$/);
    expect(isPseudonym(p)).toBe(true);
    expect(pseudonymKey(p)).toEqual({ keyVersion: keyring.keyVersion, epoch: 683 });
    expect(isPseudonym('AGT-0042')).toBe(false);
  });

  it('are not a plain hash, and cannot be recomputed without the key', () => {
    const e = keyring.currentEpoch();
    const p = pseudonymise('AGT-0042', keyring, e);
    const mac = p.split(':')[2]!;
    for (const alg of ['sha256', 'sha1', 'md5']) {
      const h = createHash(alg).update('AGT-0042').digest();
      expect(h.toString('base64url')).not.toContain(mac);
      expect(h.toString('base64url').slice(0, 22)).not.toBe(mac);
    }
    const withEpoch = createHash('sha256').update(`e${e}:AGT-0042`).digest('base64url').slice(0, 22);
    expect(withEpoch).not.toBe(mac);
    // Someone without the master secret (a guessed key) gets a different pseudonym.
    const attacker = createKeyring({ secret: 'a-different-master-secret', epochLengthDays: 30 });
    expect(pseudonymise('AGT-0042', attacker, e)).not.toBe(p);
  });

  it('depend on the epoch length (a changed setting cannot reuse old keys)', () => {
    const weekly = createKeyring({ secret: 'a-long-enough-master-secret', epochLengthDays: 7 });
    expect(weekly.keyFor(10).equals(keyring.keyFor(10))).toBe(false);
  });

  it('refuse a short secret and a bad epoch length', () => {
    expect(() => createKeyring({ secret: 'short', epochLengthDays: 30 })).toThrow(/16 characters/);
    expect(() => createKeyring({ secret: 'a-long-enough-master-secret', epochLengthDays: 0 })).toThrow(
      /epoch length/,
    );
  });
});

describe('keyringFromEnv', () => {
  it('flags the development default when the secret is unset', () => {
    const dev = keyringFromEnv({});
    expect(dev.usingDevSecret).toBe(true);
    const prod = keyringFromEnv({ ONDIJON_PSEUDONYM_SECRET: 'production-secret-from-a-vault' });
    expect(prod.usingDevSecret).toBe(false);
    expect(pseudonymise('x', prod, 1)).not.toBe(pseudonymise('x', dev, 1));
  });

  it('refuses the development secret, or a short one, in production', () => {
    expect(() => keyringFromEnv({ NODE_ENV: 'production' })).toThrow(/ONDIJON_PSEUDONYM_SECRET is unset/);
    expect(() => keyringFromEnv({ NODE_ENV: 'production', ONDIJON_PSEUDONYM_SECRET: 'short' })).toThrow(
      /shorter than 32/,
    );
    const k = keyringFromEnv({ NODE_ENV: 'production', ONDIJON_PSEUDONYM_SECRET: 'x'.repeat(32) });
    expect(k.usingDevSecret).toBe(false);
  });

  it('reads the variable the policy names and its epoch length', () => {
    const k = keyringFromEnv(
      { OTHER_SECRET: 'production-secret-from-a-vault' },
      { secretEnv: 'OTHER_SECRET', epochLengthDays: 7 },
    );
    expect(k.usingDevSecret).toBe(false);
    expect(k.epochLengthDays).toBe(7);
  });
});
