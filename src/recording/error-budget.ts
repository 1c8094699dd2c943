/**
 * file_recorder_error_interval / file_recorder_max_errors_per_interval
 * (pure): counts a recording's errors in a sliding window and says when the
 * limit is reached.
 */
export class ErrorBudget {
  readonly #times: number[] = [];

  constructor(
    readonly intervalMs: number,
    readonly maxErrors: number,
  ) {}

  /** Notes an error at `now`; true when the recording must stop. */
  record(now: number): boolean {
    this.#times.push(now);
    while (this.#times.length > 0 && now - this.#times[0]! >= this.intervalMs) this.#times.shift();
    return this.#times.length >= this.maxErrors;
  }

  get count(): number {
    return this.#times.length;
  }
}
