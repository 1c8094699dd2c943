import http from 'node:http';
import https from 'node:https';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/** Header a node adds when it forwards a request: the receiving node never forwards it again. */
export const PROXIED_BY_HEADER = 'x-wcs-proxied-by';

/** Request headers passed to the other node (byte ranges, credentials). */
const FORWARDED_REQUEST = ['range', 'if-range', 'if-modified-since', 'authorization', 'accept'] as const;
/** Answer headers passed back to the client. */
const FORWARDED_RESPONSE = [
  'content-type',
  'content-length',
  'content-range',
  'accept-ranges',
  'content-disposition',
  'last-modified',
  'retry-after',
  'x-recording-range',
  'x-recording-gaps',
] as const;

export interface PeerProxyOptions {
  readonly selfId: string;
  /** Wait for the answer's headers, and at most this long between two chunks of its body. */
  readonly timeoutMs: number;
  readonly maxConcurrent: number;
}

export interface PeerTarget {
  readonly nodeId: string;
  readonly baseUrl: string;
  /** What is asked, for messages: "record 'x.mp4'". */
  readonly what: string;
}

/** The request path and query on the other node, under its base URL (which may have a path prefix). */
export function peerUrl(baseUrl: string, requestUrl: string): URL {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  // joined as text: a request path starting with // must never become another host
  return new URL(base.origin + prefix + (requestUrl.startsWith('/') ? requestUrl : `/${requestUrl}`));
}

/**
 * Streams another node's answer to a GET/HEAD through this one: Range and
 * credentials passed on, status and media headers passed back, bounded in
 * number (503 beyond) and in time (504 when the other node does not answer
 * or stalls). A node that cannot be reached answers 502 with a message
 * naming it; nothing here answers 500.
 */
export class PeerProxy {
  #active = 0;

  constructor(
    private readonly options: PeerProxyOptions,
    private readonly log: Logger,
  ) {}

  get active(): number {
    return this.#active;
  }

  /** Resolves once the answer is under way (headers sent); the caller returns `reply`. */
  forward(req: FastifyRequest, reply: FastifyReply, target: PeerTarget): Promise<void> {
    if (this.#active >= this.options.maxConcurrent) {
      this.log.warn({ node: target.nodeId, what: target.what, active: this.#active }, 'Proxy to another node refused: too many at once');
      void reply
        .status(503)
        .header('Retry-After', '2')
        .send({ error: 503, message: `Busy: ${this.#active} answers are being proxied from other nodes; try again` });
      return Promise.resolve();
    }
    let url: URL;
    try {
      url = peerUrl(target.baseUrl, req.url);
    } catch {
      void reply.status(502).send({ error: 502, message: `${target.what} is held by node '${target.nodeId}', whose public URL '${target.baseUrl}' is not usable` });
      return Promise.resolve();
    }
    const headers: Record<string, string> = { [PROXIED_BY_HEADER]: this.options.selfId };
    for (const h of FORWARDED_REQUEST) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    this.#active++;
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        this.#active--;
      }
    };
    const started = Date.now();
    return new Promise<void>((resolve) => {
      const client = url.protocol === 'https:' ? https : http;
      const upstream = client.request(url, { method: req.method === 'HEAD' ? 'HEAD' : 'GET', headers });
      let answered = false;
      const fail = (status: 502 | 504, message: string): void => {
        release();
        if (answered) return;
        answered = true;
        this.log.warn({ node: target.nodeId, url: url.origin + url.pathname, what: target.what, status, reason: message }, 'Proxy to another node failed');
        void reply.status(status).send({ error: status, message });
        resolve();
      };
      upstream.setTimeout(this.options.timeoutMs, () => {
        upstream.destroy(new PeerTimeoutError());
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof PeerTimeoutError) {
          fail(504, `${target.what} is held by node '${target.nodeId}' (${target.baseUrl}), which did not answer within ${Math.round(this.options.timeoutMs / 1000)} s`);
        } else {
          fail(502, `${target.what} is held by node '${target.nodeId}' (${target.baseUrl}), which cannot be reached: ${err.code ?? err.message}`);
        }
      });
      upstream.on('response', (res) => {
        answered = true;
        reply.status(res.statusCode ?? 502);
        for (const h of FORWARDED_RESPONSE) {
          const v = res.headers[h];
          if (typeof v === 'string') reply.header(h, v);
        }
        reply.header('X-Wcs-Node', target.nodeId);
        // the body may stall: the same timeout between chunks (setTimeout above) ends it
        res.on('error', () => undefined);
        res.on('close', () => {
          release();
          if (!res.complete) this.log.warn({ node: target.nodeId, what: target.what }, 'Proxied answer from another node ended early');
        });
        reply.raw.on('close', () => {
          // the client went away: stop reading from the other node
          if (!res.complete) upstream.destroy();
          release();
        });
        this.log.info({ node: target.nodeId, what: target.what, status: res.statusCode, ms: Date.now() - started }, 'Proxying an answer from another node');
        if (req.method === 'HEAD') {
          res.resume();
          void reply.send();
        } else void reply.send(res);
        resolve();
      });
      upstream.end();
    });
  }
}

class PeerTimeoutError extends Error {}
