import { isOnDijonError, OnDijonError } from '@ondijon/contracts';
import type { StreamLogger } from '../engine';

/** Exponential backoff with jitter for retryable operations. */
export async function retrying<T>(
  what: string,
  attempts: number,
  log: StreamLogger,
  fn: () => Promise<T>,
): Promise<T> {
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || (isOnDijonError(err) && !err.retryable)) throw err;
      log.warn({ what, attempt, err }, 'retrying after error');
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

/** Another instance claimed the partition since this one did (its writes are refused). */
export class FencedError extends OnDijonError {
  constructor(tp: string) {
    super('ONDIJON_STATE_FENCED', `partition ${tp} was claimed by another instance`, { details: { tp } });
  }
}

/**
 * Redis holds an older offset for a partition than this instance applied: it lost its latest writes
 * (killed before its AOF tail reached the disk). Handled inside the runtime: the partition is read
 * again from the offset after the stored one (never escapes the chunk pipeline's `settle`).
 */
export class StateBehindError extends Error {
  constructor(
    readonly tp: string,
    readonly stored: bigint | undefined,
  ) {
    super(`state of ${tp} is behind what was applied`);
  }
}
