import { isOnDijonError } from '@ondijon/contracts';
import type { Logger } from 'pino';

/** Something that can be closed: an app from `buildApp`. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * Wires SIGTERM and SIGINT to `app.close()` with a deadline (CONTRIBUTING.md rule 10): stop taking input,
 * drain, commit, close clients, exit. A second signal or the deadline forces exit code 1.
 */
export function handleShutdown(app: Closable, log: Logger, deadlineMs: number): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    closing = true;
    log.info({ signal, deadlineMs }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown deadline passed, exiting');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    app.close().then(
      () => {
        log.info('shut down cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Runs `main`, logging a fatal error and exiting 1 if it throws (for main.ts files). */
export function runMain(main: () => Promise<void>, log: Pick<Logger, 'fatal'>): void {
  main().catch((err: unknown) => {
    log.fatal({ err }, 'service failed to start');
    // A configuration or secret problem is one sentence for the operator, on stderr too.
    if (isOnDijonError(err, 'ONDIJON_SECRET_MISSING') || isOnDijonError(err, 'ONDIJON_CONFIG_INVALID'))
      process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
