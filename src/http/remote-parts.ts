import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Logger } from 'pino';
import { recordPathInside } from './safe-path.js';
import { PROXIED_BY_HEADER, peerUrl } from './peer-proxy.js';

export interface RemotePartsOptions {
  /** Local copies of other nodes' parts (mp4_cutter_dir/.cluster). */
  readonly cacheDir: string;
  /** Bytes of copies kept at most (least recently used removed first). */
  readonly maxBytes: number;
  /** Copies used more recently than this are never removed (an answer may be reading them). */
  readonly minKeepMs: number;
  readonly selfId: string;
  /** No byte from the other node for this long: the fetch fails. */
  readonly timeoutMs: number;
}

/** Why a part could not be fetched: the HTTP status this node answers with, and the message. */
export class RemotePartError extends Error {
  constructor(
    readonly status: 502 | 503 | 504,
    message: string,
  ) {
    super(message);
  }
}

interface Cached {
  size: number;
  lastUsedMs: number;
}

const TEMP_PREFIX = '.dl-';

/**
 * Local copies of record parts other nodes hold, for time-range playback
 * over parts of several nodes (a stream that moved between nodes): each
 * part is downloaded once from its node (/client/records/<file>, with the
 * caller's credentials) into a folder of its own and kept within a byte
 * limit, least recently used removed first. Finished parts never change
 * (their names are unique over the cluster), so a copy stays good.
 */
export class RemoteParts {
  readonly #cached = new Map<string, Cached>();
  readonly #fetching = new Map<string, Promise<string>>();

  constructor(
    private readonly options: RemotePartsOptions,
    private readonly log: Logger,
  ) {}

  /** Makes the folder and learns what it holds (partial downloads of an earlier run are removed). */
  async start(): Promise<void> {
    await fs.promises.mkdir(this.options.cacheDir, { recursive: true });
    for (const name of await fs.promises.readdir(this.options.cacheDir)) {
      const file = path.join(this.options.cacheDir, name);
      if (name.startsWith(TEMP_PREFIX)) {
        await fs.promises.rm(file, { force: true });
        continue;
      }
      const st = await fs.promises.stat(file).catch(() => null);
      if (st?.isFile()) this.#cached.set(name, { size: st.size, lastUsedMs: st.mtimeMs });
    }
  }

  get cachedBytes(): number {
    let n = 0;
    for (const c of this.#cached.values()) n += c.size;
    return n;
  }

  /** The local path of a copy of `fileName` held by the node at `baseUrl`, downloaded when not here yet. */
  async localCopy(fileName: string, node: { nodeId: string; baseUrl: string }, credentials: { token?: string; authorization?: string }): Promise<string> {
    const target = recordPathInside(this.options.cacheDir, fileName);
    if (target === null) throw new RemotePartError(502, `Record name '${fileName}' from the catalog is not a plain file name`);
    const cached = this.#cached.get(fileName);
    if (cached && fs.existsSync(target)) {
      cached.lastUsedMs = Date.now();
      return target;
    }
    let fetching = this.#fetching.get(fileName);
    if (!fetching) {
      // copies in use are kept over the limit for a while; never more than twice it
      if (this.cachedBytes > this.options.maxBytes * 2) {
        throw new RemotePartError(503, `Too many copies of other nodes' parts are in use (${this.cachedBytes} bytes); try again shortly`);
      }
      fetching = this.#download(fileName, target, node, credentials).finally(() => this.#fetching.delete(fileName));
      this.#fetching.set(fileName, fetching);
    }
    return fetching;
  }

  async #download(fileName: string, target: string, node: { nodeId: string; baseUrl: string }, credentials: { token?: string; authorization?: string }): Promise<string> {
    const query = credentials.token !== undefined ? `?token=${encodeURIComponent(credentials.token)}` : '';
    const url = peerUrl(node.baseUrl, `/client/records/${encodeURIComponent(fileName)}${query}`);
    const temp = path.join(this.options.cacheDir, `${TEMP_PREFIX}${process.pid}-${Date.now()}-${fileName}`);
    const started = Date.now();
    const headers: Record<string, string> = { [PROXIED_BY_HEADER]: this.options.selfId };
    if (credentials.authorization !== undefined) headers.authorization = credentials.authorization;
    try {
      const size = await new Promise<number>((resolve, reject) => {
        const client = url.protocol === 'https:' ? https : http;
        const req = client.get(url, { headers }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new RemotePartError(502, `Part '${fileName}' is held by node '${node.nodeId}', which answered ${res.statusCode} when asked for it`));
            return;
          }
          const out = fs.createWriteStream(temp);
          let bytes = 0;
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.pipe(out);
          out.on('finish', () => (res.complete ? resolve(bytes) : reject(new RemotePartError(502, `Part '${fileName}' from node '${node.nodeId}' ended early`))));
          out.on('error', (err) => reject(new RemotePartError(502, `Part '${fileName}' from node '${node.nodeId}' could not be stored: ${err.message}`)));
          res.on('aborted', () => out.destroy(new Error('aborted')));
        });
        req.setTimeout(this.options.timeoutMs, () =>
          req.destroy(new RemotePartError(504, `Part '${fileName}' is held by node '${node.nodeId}', which did not answer within ${Math.round(this.options.timeoutMs / 1000)} s`)),
        );
        req.on('error', (err: NodeJS.ErrnoException) =>
          reject(err instanceof RemotePartError ? err : new RemotePartError(502, `Part '${fileName}' is held by node '${node.nodeId}', which cannot be reached: ${err.code ?? err.message}`)),
        );
      });
      await fs.promises.rename(temp, target);
      this.#cached.set(fileName, { size, lastUsedMs: Date.now() });
      this.log.info({ file: fileName, node: node.nodeId, bytes: size, ms: Date.now() - started }, 'Copied a part from another node for playback');
      await this.#evict();
      return target;
    } catch (err) {
      await fs.promises.rm(temp, { force: true });
      this.log.warn({ file: fileName, node: node.nodeId, reason: (err as Error).message }, 'Part of another node could not be copied');
      throw err;
    }
  }

  async #evict(): Promise<void> {
    let total = this.cachedBytes;
    if (total <= this.options.maxBytes) return;
    const now = Date.now();
    for (const [name, c] of [...this.#cached.entries()].sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs)) {
      if (total <= this.options.maxBytes) break;
      if (now - c.lastUsedMs < this.options.minKeepMs) continue;
      this.#cached.delete(name);
      total -= c.size;
      await fs.promises.rm(path.join(this.options.cacheDir, name), { force: true });
    }
  }
}
