import net from 'node:net';
import { freePort } from './daemon.js';

/**
 * open: bytes pass both ways; refuse: connections are accepted and reset at
 * once (a store that is down); hold: connections are accepted and nothing
 * is forwarded (an upload that cannot progress, deterministically, however
 * fast the machine). Changing the mode affects new connections; held ones
 * stay held until close().
 */
export type ProxyMode = 'open' | 'refuse' | 'hold';

export class TcpProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  mode: ProxyMode;
  /** Connections taken in each mode. */
  readonly seen: Record<ProxyMode, number> = { open: 0, refuse: 0, hold: 0 };

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
    mode: ProxyMode,
  ) {
    this.mode = mode;
    this.#server = net.createServer((client) => this.#take(client));
  }

  static async start(targetPort: number, mode: ProxyMode): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetPort, mode);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(proxy.port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  #take(client: net.Socket): void {
    this.seen[this.mode]++;
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'hold') {
      client.pause();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.#sockets.add(upstream);
    upstream.on('close', () => this.#sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
