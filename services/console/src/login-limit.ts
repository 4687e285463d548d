// Login rate limiting (issue 15): per source address, every attempt counts; per account, failed
// attempts count (so a password guesser is stopped on one account from many addresses, and one address
// is stopped across many accounts). Fixed windows kept in two LRU caches with a maximum size, so memory
// stays bounded whatever an attacker sends (an evicted entry only starts its window again; the per-address
// limit still holds for a flood of invented logins).
import { LRUCache } from 'lru-cache';

/** Limits of the login form. */
export interface LoginLimits {
  /** Attempts per source address per window. */
  perAddress: number;
  /** Failed attempts per account per window. */
  perAccount: number;
  windowMs: number;
  /** Entries kept per cache (addresses, accounts). */
  maxEntries: number;
}

interface Window {
  count: number;
  resetAt: number;
}

/** The two windows: `check` before verifying a password, `failed` after a wrong one. */
export class LoginLimiter {
  private readonly addresses: LRUCache<string, Window>;
  private readonly accounts: LRUCache<string, Window>;

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {
    const options = { max: limits.maxEntries };
    this.addresses = new LRUCache<string, Window>(options);
    this.accounts = new LRUCache<string, Window>(options);
  }

  /** Entries held (tests: memory stays bounded). */
  get size(): { addresses: number; accounts: number } {
    return { addresses: this.addresses.size, accounts: this.accounts.size };
  }

  /**
   * Counts an attempt from `address` for `login`; returns null when it may go on, else the seconds to
   * wait and which limit refused it.
   */
  check(address: string, login: string): { retryAfterS: number; limit: 'address' | 'account' } | null {
    const a = this.window(this.addresses, address);
    a.count++;
    if (a.count > this.limits.perAddress) return { retryAfterS: this.wait(a), limit: 'address' };
    const acc = this.accounts.get(login.toLowerCase());
    if (acc !== undefined && acc.resetAt > this.now() && acc.count >= this.limits.perAccount)
      return { retryAfterS: this.wait(acc), limit: 'account' };
    return null;
  }

  /** Counts a failed attempt on `login`. */
  failed(login: string): void {
    this.window(this.accounts, login.toLowerCase()).count++;
  }

  private window(cache: LRUCache<string, Window>, key: string): Window {
    const now = this.now();
    let w = cache.get(key);
    if (w === undefined || w.resetAt <= now) {
      w = { count: 0, resetAt: now + this.limits.windowMs };
      cache.set(key, w);
    }
    return w;
  }

  private wait(w: Window): number {
    return Math.max(1, Math.ceil((w.resetAt - this.now()) / 1000));
  }
}
