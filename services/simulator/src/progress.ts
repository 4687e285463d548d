import type { Logger } from '@ondijon/service-kit';

/** Running totals of a simulator run. */
export interface RunStats {
  /** Messages handed to MQTT (or recorded, in a dry run). */
  sent: number;
  /** PUBACKs with reason code 0. */
  acked: number;
  /** PUBACKs with an error reason code, by code (hex): messages the broker's subscriber rejected. */
  rejectedByReason: Record<string, number>;
  /** Publishes that failed without a PUBACK (connection lost). */
  errors: number;
  byFamily: Record<string, number>;
  /** Simulated time of the last message sent, ISO. */
  simTime: string | null;
  startedAt: number;
  finishedAt: number | null;
}

/** Fresh totals. */
export function emptyStats(now: number): RunStats {
  return {
    sent: 0,
    acked: 0,
    rejectedByReason: {},
    errors: 0,
    byFamily: {},
    simTime: null,
    startedAt: now,
    finishedAt: null,
  };
}

/**
 * Shows progress: a live line rewritten in place on a terminal, periodic pino lines otherwise
 * (containers and CI capture stdout; a carriage-return line there is noise).
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private lastAt = 0;

  constructor(
    private readonly stats: RunStats,
    private readonly log: Logger,
    private readonly out: NodeJS.WriteStream | undefined,
    private readonly everyMs: number,
    private readonly now: () => number,
  ) {}

  /** Starts reporting. */
  start(): void {
    this.lastAt = this.now();
    const tty = this.out?.isTTY === true;
    this.timer = setInterval(() => this.tick(tty), tty ? Math.min(500, this.everyMs) : this.everyMs);
    this.timer.unref();
  }

  private tick(tty: boolean): void {
    const now = this.now();
    const rate = ((this.stats.sent - this.lastSent) * 1000) / Math.max(1, now - this.lastAt);
    this.lastSent = this.stats.sent;
    this.lastAt = now;
    const rejected = Object.values(this.stats.rejectedByReason).reduce((a, b) => a + b, 0);
    if (tty && this.out) {
      const families = Object.entries(this.stats.byFamily)
        .map(([f, n]) => `${f} ${n}`)
        .join(' · ');
      this.out.write(
        `\r\x1b[2K${this.stats.simTime?.slice(0, 16) ?? '—'}  ${rate.toFixed(0)} msg/s  sent ${this.stats.sent}  acked ${this.stats.acked}  rejected ${rejected}  errors ${this.stats.errors}  | ${families}`,
      );
    } else {
      this.log.info(
        {
          ratePerS: Math.round(rate),
          sent: this.stats.sent,
          acked: this.stats.acked,
          rejected,
          rejectedByReason: this.stats.rejectedByReason,
          errors: this.stats.errors,
          byFamily: this.stats.byFamily,
          simTime: this.stats.simTime,
        },
        'progress',
      );
    }
  }

  /** Stops reporting and ends the live line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out?.isTTY) this.out.write('\n');
  }
}
