import { createHmac, hkdfSync } from 'node:crypto';
import { OnDijonError } from '@ondijon/contracts';

const DAY_MS = 86_400_000;
/** Environment variable holding the pseudonymisation master secret (also named in the policy). */
export const PSEUDONYM_SECRET_ENV = 'ONDIJON_PSEUDONYM_SECRET';
/** Development secret used when the variable is unset: pseudonyms made with it protect nothing. */
export const DEV_PSEUDONYM_SECRET = 'ondijon-development-secret-not-for-production';
/** Default key epoch length, days (policy `pseudonymisation.epochLengthDays`). */
export const DEFAULT_EPOCH_LENGTH_DAYS = 30;

/** Per-epoch HMAC keys derived from one master secret. */
export interface Keyring {
  /** Length of a key epoch, days. */
  readonly epochLengthDays: number;
  /** True when built from the development default secret (never in production). */
  readonly usingDevSecret: boolean;
  /** The epoch of a time (ms since 1970): floor(time / epoch length). */
  epochOf(timeMs: number): number;
  /** The epoch of the keyring's clock. */
  currentEpoch(): number;
  /**
   * Version of the master secret: 8 hex digits derived from it (HKDF-SHA-256, its own label), so a
   * pseudonym says which secret made it without revealing anything usable about it.
   */
  readonly keyVersion: string;
  /** The 32-byte HMAC key of an epoch (HKDF-SHA-256 of the master secret). */
  keyFor(epoch: number): Buffer;
}

/** Options of `createKeyring`. */
export interface KeyringOptions {
  /** Master secret (at least 16 characters). */
  secret: string;
  /** Key epoch length in days. */
  epochLengthDays: number;
  /** Clock, ms (injected for tests). */
  now?: () => number;
  /** Marks a keyring built from the development default. */
  usingDevSecret?: boolean;
}

/** Builds a keyring deriving one key per epoch with HKDF-SHA-256, so rotating needs no key storage. */
export function createKeyring(options: KeyringOptions): Keyring {
  const { secret, epochLengthDays } = options;
  if (secret.length < 16)
    throw new OnDijonError(
      'ONDIJON_CONFIG_INVALID',
      'pseudonymisation secret must have at least 16 characters',
    );
  if (!Number.isInteger(epochLengthDays) || epochLengthDays < 1) {
    throw new OnDijonError(
      'ONDIJON_CONFIG_INVALID',
      'pseudonymisation epoch length must be a positive whole number of days',
    );
  }
  const now = options.now ?? Date.now;
  const epochMs = epochLengthDays * DAY_MS;
  const keys = new Map<number, Buffer>();
  const keyVersion = Buffer.from(
    hkdfSync('sha256', secret, 'ondijon-pseudonym-v1', 'key-version', 4),
  ).toString('hex');
  return {
    epochLengthDays,
    keyVersion,
    usingDevSecret: options.usingDevSecret ?? false,
    epochOf: (timeMs) => Math.floor(timeMs / epochMs),
    currentEpoch: () => Math.floor(now() / epochMs),
    keyFor(epoch) {
      let key = keys.get(epoch);
      if (!key) {
        key = Buffer.from(
          hkdfSync('sha256', secret, 'ondijon-pseudonym-v1', `epoch:${epochLengthDays}d:${epoch}`, 32),
        );
        keys.set(epoch, key);
      }
      return key;
    },
  };
}

/**
 * Keyed pseudonym of `value` for an epoch (default: the keyring's current epoch):
 * `psd:k{keyVersion}:e{epoch}:{first 22 base64url chars of HMAC-SHA-256}`. It carries its key version
 * (master secret and epoch). Stable within an epoch, unlinkable across epochs, and not recomputable
 * without the master secret (unlike a plain hash).
 */
export function pseudonymise(
  value: string,
  keyring: Keyring,
  epoch: number = keyring.currentEpoch(),
): string {
  const mac = createHmac('sha256', keyring.keyFor(epoch)).update(value, 'utf8').digest('base64url');
  return `psd:k${keyring.keyVersion}:e${epoch}:${mac.slice(0, 22)}`;
}

/** The key version and epoch a pseudonym was made with; undefined for anything else. */
export function pseudonymKey(value: string): { keyVersion: string; epoch: number } | undefined {
  const m = /^psd:k([0-9a-f]{8}):e(-?\d+):[A-Za-z0-9_-]{22}$/.exec(value);
  return m ? { keyVersion: m[1]!, epoch: Number(m[2]) } : undefined;
}

/** True when `value` looks like a pseudonym made by `pseudonymise`. */
export function isPseudonym(value: string): boolean {
  return /^psd:k[0-9a-f]{8}:e-?\d+:[A-Za-z0-9_-]{22}$/.test(value);
}

/**
 * A keyring from the environment: `ONDIJON_PSEUDONYM_SECRET` (or the policy's `secretEnv`). When unset,
 * uses a development secret and sets `usingDevSecret` so the service can log a warning — except with
 * `NODE_ENV=production`, where an unset or short (< 32 characters) secret is refused.
 */
export function keyringFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: { epochLengthDays?: number; secretEnv?: string; now?: () => number } = {},
): Keyring {
  const name = options.secretEnv ?? PSEUDONYM_SECRET_ENV;
  const secret = env[name];
  const usingDevSecret = secret === undefined || secret === '';
  // In production a pseudonym under a published development secret is reversible by anyone who can
  // enumerate agent ids: refuse to start rather than warn.
  if (usingDevSecret && env.NODE_ENV === 'production') {
    throw new OnDijonError(
      'ONDIJON_CONFIG_INVALID',
      `${name} is unset and NODE_ENV=production: set the pseudonymisation secret (at least 32 characters) before starting`,
      { details: { variables: [name] } },
    );
  }
  if (!usingDevSecret && env.NODE_ENV === 'production' && secret.length < 32) {
    throw new OnDijonError('ONDIJON_CONFIG_INVALID', `${name} is shorter than 32 characters`, {
      details: { variables: [name] },
    });
  }
  return createKeyring({
    secret: usingDevSecret ? DEV_PSEUDONYM_SECRET : secret,
    epochLengthDays: options.epochLengthDays ?? DEFAULT_EPOCH_LENGTH_DAYS,
    usingDevSecret,
    ...(options.now ? { now: options.now } : {}),
  });
}
