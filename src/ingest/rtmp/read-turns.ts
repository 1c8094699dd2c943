/**
 * What the RTMP connections read in one turn of the event loop, all of them
 * together (issue 20). libuv reads each readable socket up to 32 times in a
 * row (2 MiB with our 64 KiB reads), and a turn of the loop reads every
 * readable socket: when many publishers send a burst at once (a tee
 * publisher catching up, encoders after a network stall), one turn would
 * read hundreds of megabytes, hold the loop for seconds and keep all of it
 * in slabs until the writes it feeds complete in later turns. Once a turn
 * has read `bytesPerTurn`, every connection waits (its socket paused) until
 * the loop's check phase of that turn; then all read again, starting each
 * turn from another connection so none waits behind the others for long.
 * At real-time rates a turn reads far less than the budget and nothing is
 * paused.
 */

/** A connection's socket, as far as the turns need it. */
export interface TurnReader {
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
}

/** Bytes all RTMP connections read in one turn of the event loop before they wait for the next. */
export const READ_BYTES_PER_TURN = 4 * 1024 * 1024;

export class ReadTurns {
  readonly #readers = new Set<TurnReader>();
  #bytes = 0;
  #scheduled = false;
  #spent = false;
  #paused: TurnReader[] = [];
  /** Where the next resume starts in the paused list (moves every turn). */
  #rotation = 0;

  constructor(readonly bytesPerTurn = READ_BYTES_PER_TURN) {}

  add(reader: TurnReader): void {
    this.#readers.add(reader);
  }

  delete(reader: TurnReader): void {
    this.#readers.delete(reader);
  }

  /** `bytes` were just read from one of the connections. */
  read(bytes: number): void {
    this.#bytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#nextTurn);
    }
    if (this.#spent || this.#bytes < this.bytesPerTurn) return;
    // the rest of this turn reads nothing more: libuv skips a socket whose reading stopped, even one it
    // already knows is readable in this turn
    this.#spent = true;
    for (const reader of this.#readers) {
      reader.pause();
      this.#paused.push(reader);
    }
  }

  #nextTurn = (): void => {
    this.#scheduled = false;
    this.#bytes = 0;
    if (!this.#spent) return;
    this.#spent = false;
    const paused = this.#paused;
    this.#paused = [];
    const start = paused.length > 0 ? this.#rotation++ % paused.length : 0;
    for (let i = 0; i < paused.length; i++) {
      const reader = paused[(start + i) % paused.length]!;
      if (!reader.destroyed && this.#readers.has(reader)) reader.resume();
    }
  };
}
