/**
 * Runs an async step one at a time: a wake while the step runs makes it run
 * once more after it ends (wakes in between coalesce into that one run).
 * The poll loops of the upload queue and the webhook outbox use it.
 */
export class CoalescedRunner {
  #running: Promise<void> | null = null;
  #again = false;

  constructor(
    private readonly step: () => Promise<void>,
    private readonly onError: (err: Error) => void,
  ) {}

  /** The run under way, if any (close() waits for it). */
  get running(): Promise<void> | null {
    return this.#running;
  }

  /** Runs the step now, or once more after the run under way. */
  wake(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.step()
      .catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))))
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** Asks for one more run after the one under way (a step that filled its batch). */
  again(): void {
    this.#again = true;
  }
}
