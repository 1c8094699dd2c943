import http from 'node:http';
import { freePort } from './daemon.js';

export interface ReceivedHook {
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The status this receiver answered. */
  readonly status: number;
}

/** An HTTP endpoint that records every POST; `answer` decides the status of each (default 204). */
export class WebhookReceiver {
  readonly received: ReceivedHook[] = [];
  answer: (body: string, index: number) => number = () => 204;
  /** While true, POSTs are read and kept in `held` but never answered (a receiver that hangs). */
  holding = false;
  readonly held: string[] = [];
  readonly #server: http.Server;

  private constructor(readonly port: number) {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (this.holding) {
          this.held.push(body);
          return;
        }
        const status = this.answer(body, this.received.length);
        this.received.push({ body, headers: req.headers, status });
        res.statusCode = status;
        res.end();
      });
    });
  }

  static async start(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(await freePort());
    await new Promise<void>((resolve) => r.#server.listen(r.port, '127.0.0.1', () => resolve()));
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Parsed bodies of the POSTs answered 2xx. */
  accepted(): { id: string; type: string; data: Record<string, unknown> }[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300).map((r) => JSON.parse(r.body) as { id: string; type: string; data: Record<string, unknown> });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
