import dgram from 'node:dgram';

export class PortsExhaustedError extends Error {}

/** Whether a UDP port can be bound on an address right now. */
export function udpPortFree(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, address, () => socket.close(() => resolve(true)));
  });
}

export type PortProbe = (port: number) => Promise<boolean>;

/**
 * Even/odd port pairs (RTP, RTCP) from media_port_from..media_port_to.
 * A pair is checked free before it is handed out and is returned with
 * release(); allocation walks the range round-robin so a port just given
 * back is not reused at once.
 */
export class PortPool {
  readonly #inUse = new Set<number>();
  #next: number;
  readonly #first: number;
  readonly #last: number;

  constructor(
    from: number,
    to: number,
    private readonly probe: PortProbe = (port) => udpPortFree(port, '127.0.0.1'),
  ) {
    this.#first = from % 2 === 0 ? from : from + 1;
    // the last pair must fit: its odd port <= to
    this.#last = (to % 2 === 0 ? to - 2 : to - 1);
    if (this.#last < this.#first) throw new RangeError(`media port range ${from}-${to} holds no even/odd port pair`);
    this.#next = this.#first;
  }

  /** Pairs the range can hold at most. */
  get capacity(): number {
    return (this.#last - this.#first) / 2 + 1;
  }

  get inUse(): number {
    return this.#inUse.size;
  }

  /** An even RTP port whose pair (port, port + 1) is free; PortsExhaustedError when none is. */
  async allocatePair(): Promise<number> {
    for (let tried = 0; tried < this.capacity; tried++) {
      const port = this.#next;
      this.#next = port + 2 > this.#last ? this.#first : port + 2;
      if (this.#inUse.has(port)) continue;
      this.#inUse.add(port);
      if ((await this.probe(port)) && (await this.probe(port + 1))) return port;
      this.#inUse.delete(port);
    }
    throw new PortsExhaustedError(`no free UDP port pair left in media_port_from..media_port_to (${this.#first}-${this.#last + 1})`);
  }

  release(port: number): void {
    this.#inUse.delete(port);
  }
}
