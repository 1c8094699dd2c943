/**
 * Counts open RTMP connections, in all and per client address, and says
 * whether one more may be accepted (rtmp_max_connections,
 * rtmp_max_connections_per_ip).
 */
export class ConnectionLimits {
  readonly #perAddress = new Map<string, number>();
  #total = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAddress: number,
  ) {}

  get total(): number {
    return this.#total;
  }

  /** Counts the connection and returns null, or returns why it is refused (and counts nothing). */
  admit(address: string): string | null {
    if (this.#total >= this.maxTotal) return `${this.#total} RTMP connections are open (rtmp_max_connections=${this.maxTotal})`;
    const mine = this.#perAddress.get(address) ?? 0;
    if (mine >= this.maxPerAddress) return `${mine} RTMP connections are open from ${address} (rtmp_max_connections_per_ip=${this.maxPerAddress})`;
    this.#perAddress.set(address, mine + 1);
    this.#total += 1;
    return null;
  }

  /** A connection admitted earlier has closed. */
  release(address: string): void {
    const mine = this.#perAddress.get(address) ?? 0;
    if (mine <= 1) this.#perAddress.delete(address);
    else this.#perAddress.set(address, mine - 1);
    this.#total = Math.max(0, this.#total - 1);
  }
}

/**
 * At most one log line per interval for a repeated event (a flood of refused
 * connections must not flood the log); says how many were not logged.
 */
export class LogThrottle {
  #last = 0;
  #suppressed = 0;

  constructor(private readonly intervalMs: number) {}

  /** Returns the number of events skipped since the last line when this one should be logged, else null. */
  take(now = Date.now()): number | null {
    if (now - this.#last < this.intervalMs) {
      this.#suppressed += 1;
      return null;
    }
    this.#last = now;
    const skipped = this.#suppressed;
    this.#suppressed = 0;
    return skipped;
  }
}
