/** A raw RTMP client over one TCP socket: sends exactly the bytes it is given. */
import net from 'node:net';
import { chunk, command, connectCommand, handshakeC0C1, HANDSHAKE_SIZE, publishCommand, setChunkSize, type RtmpMessage } from './rtmp-wire.js';

export class RawRtmpClient {
  #received = Buffer.alloc(0);
  #closed = false;
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  /** address:port of this end, as the server logs it */
  readonly localPeer: string;

  private constructor(readonly socket: net.Socket) {
    this.localPeer = `${socket.localAddress}:${socket.localPort}`;
    socket.on('data', (d: Buffer) => {
      // keep the first 64 KiB only: enough for the handshake and the answers
      if (this.#received.length < 65536) this.#received = Buffer.concat([this.#received, d]);
      this.#wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<RawRtmpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RawRtmpClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get received(): Buffer {
    return this.#received;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits until `check` holds or the socket closes or the time runs out; returns check(). */
  async waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!check() && !this.#closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(100, deadline - Date.now())));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return check();
  }

  /** Writes bytes; false when the socket is already closed. */
  send(bytes: Buffer): boolean {
    if (this.#closed || this.socket.destroyed) return false;
    this.socket.write(bytes);
    return true;
  }

  sendMessages(messages: readonly RtmpMessage[], chunkSize: number): boolean {
    return this.send(Buffer.concat(messages.map((m) => chunk(m, chunkSize))));
  }

  /** The simple handshake: C0+C1, wait for S0+S1+S2, C2 = S1. */
  async handshake(timeoutMs = 10_000): Promise<void> {
    this.send(handshakeC0C1());
    const ok = await this.waitUntil(() => this.#received.length >= 1 + 2 * HANDSHAKE_SIZE, timeoutMs);
    if (!ok) throw new Error('no S0+S1+S2 from the server');
    this.send(this.#received.subarray(1, 1 + HANDSHAKE_SIZE));
  }

  /** connect, createStream, publish NAME on app `live` (after the handshake), with chunk size 4096. */
  publish(port: number, name: string): boolean {
    this.send(chunk(setChunkSize(4096), 128));
    return this.sendMessages(
      [
        connectCommand('live', `rtmp://127.0.0.1:${port}/live`),
        command('releaseStream', 2, null, name),
        command('FCPublish', 3, null, name),
        command('createStream', 4, null),
        publishCommand(name),
      ],
      4096,
    );
  }

  /** Resolves true when the server closes the connection within the time. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    await this.waitUntil(() => false, timeoutMs);
    return this.#closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
