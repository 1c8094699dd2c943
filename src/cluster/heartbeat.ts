import type { Logger } from 'pino';
import type { ClusterStore, NodeBeat } from './cluster-store.js';

export interface HeartbeatOptions {
  readonly intervalMs: number;
  /** What this node says of itself, read at each beat. */
  readonly beat: () => NodeBeat;
}

/**
 * Writes this node's row of the heartbeat table every intervalMs (last
 * seen by the database clock, public URL, live streams). A failed beat is
 * logged once per outage and retried at the next tick; it never stops the
 * daemon.
 */
export class NodeHeartbeat {
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #failing = false;

  constructor(
    private readonly store: ClusterStore,
    private readonly options: HeartbeatOptions,
    private readonly log: Logger,
  ) {}

  /** Beats once (awaited: the node is listed before the daemon says it is ready), then every interval. */
  async start(): Promise<void> {
    await this.beatNow();
    this.#timer = setInterval(() => void this.beatNow(), this.options.intervalMs);
    this.#timer.unref();
  }

  beatNow(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    const beat = this.options.beat();
    this.#inFlight = this.store
      .beat(beat)
      .then(
        () => {
          if (this.#failing) this.log.info({ nodeId: beat.nodeId }, 'Cluster heartbeat written again');
          this.#failing = false;
        },
        (err: Error) => {
          if (!this.#failing) this.log.warn({ nodeId: beat.nodeId, err: err.message }, 'Cluster heartbeat failed; retried every interval');
          this.#failing = true;
        },
      )
      .finally(() => (this.#inFlight = null));
    return this.#inFlight;
  }

  /** Stops beating and says so in the table (the node is listed as not alive at once). */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#inFlight;
    const nodeId = this.options.beat().nodeId;
    await this.store.leave(nodeId).catch((err: Error) => this.log.warn({ nodeId, err: err.message }, 'Cluster: could not mark this node stopped'));
  }
}
