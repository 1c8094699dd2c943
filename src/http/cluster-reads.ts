import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Catalog, CatalogRecord } from '../catalog/catalog.js';
import { CatalogUnavailableError } from '../catalog/catalog-errors.js';
import type { RecordedPart } from '../catalog/part-source.js';
import type { RecordLocator } from '../cluster/record-locator.js';
import { PROXIED_BY_HEADER, type PeerProxy } from './peer-proxy.js';
import { RemotePartError, type RemoteParts } from './remote-parts.js';

/** Answers a GET/HEAD with a record's verified copy in the bucket (the upload store's sender, with Range). */
export type BucketSender = (req: FastifyRequest, reply: FastifyReply, record: CatalogRecord, key: string) => Promise<void>;

/** States of a record whose bytes exist: a file on its node, or ('remote', the upload branch) only in the bucket. */
const SERVABLE = new Set(['finished', 'recovered', 'broken', 'remote']);

/** ?start= or ?end= on /client/records/<file>: a part of the record is asked, not its bytes. */
function isCutAsked(req: FastifyRequest): boolean {
  const q = req.query as { start?: unknown; end?: unknown } | undefined;
  return q?.start !== undefined || q?.end !== undefined;
}

/**
 * Downloads and time-range playback of records other nodes hold (a shared
 * PostgreSQL catalog): proxied to the node with the file, or refused with
 * 503 and the reason (node not alive, no bucket copy). A request another
 * node forwarded here is never forwarded again: this node answers with
 * what it holds.
 */
export class ClusterReads {
  constructor(
    private readonly catalog: Catalog,
    private readonly locator: RecordLocator,
    private readonly proxy: PeerProxy,
    private readonly log: Logger,
    /** Local copies of other nodes' parts, for a range over parts of several nodes; null = such ranges answer 409. */
    private readonly remoteParts: RemoteParts | null = null,
    /** Reads bucket copies (record_upload_url); null = this node reads no bucket. */
    private readonly fromBucket: BucketSender | null = null,
  ) {}

  static forwarded(req: FastifyRequest): boolean {
    return typeof req.headers[PROXIED_BY_HEADER] === 'string';
  }

  /** /client/records/<file>: true when answered here (another node's record); false = serve from this node's disk as usual. */
  async serveRecord(req: FastifyRequest, reply: FastifyReply, fileName: string): Promise<boolean> {
    if (ClusterReads.forwarded(req)) return false;
    let row;
    try {
      row = await this.catalog.get(fileName);
    } catch (err) {
      // the database down: this node's own files are still served from its disk
      if (err instanceof CatalogUnavailableError) return false;
      throw err;
    }
    if (row === null || row.nodeId === this.catalog.nodeId || !SERVABLE.has(row.state)) return false;
    const where = await this.locator.locate(row);
    switch (where.kind) {
      case 'local':
        return false;
      case 'node':
        await this.proxy.forward(req, reply, { nodeId: where.nodeId, baseUrl: where.baseUrl, what: `Record '${fileName}'` });
        return true;
      case 'bucket':
        // a cut (?start=&end=) is made here from a local copy of the bucket's (the cutter's remoteSource): not the whole record
        if (this.fromBucket && isCutAsked(req)) return false;
        if (this.fromBucket) {
          await this.fromBucket(req, reply, row, where.key);
          return true;
        }
        this.log.warn({ file: fileName, node: row.nodeId, key: where.key }, 'Record is in the bucket but this node reads no bucket');
        void reply.status(503).send({ error: 503, message: `Record '${fileName}' is held by node '${row.nodeId}' and in the bucket, which this node is not configured to read` });
        return true;
      case 'unavailable':
        this.log.warn({ file: fileName, node: row.nodeId, stream: row.streamName, mediaSessionId: row.mediaSessionId, reason: where.reason }, 'Record of another node cannot be served');
        void reply.status(503).send({ error: 503, message: where.reason });
        return true;
    }
  }

  /**
   * /client/streams/<name>.mp4: the parts this node joins, or null when the
   * request was answered here (all parts on one other node: proxied; or why
   * not). A forwarded request gets this node's share only.
   */
  async playbackParts(req: FastifyRequest, reply: FastifyReply, streamName: string, parts: readonly RecordedPart[]): Promise<readonly RecordedPart[] | null> {
    const self = this.catalog.nodeId;
    const remote = parts.filter((p) => p.nodeId !== self);
    if (remote.length === 0) return parts;
    if (ClusterReads.forwarded(req)) return parts.filter((p) => p.nodeId === self);
    const nodes = [...new Set(parts.map((p) => p.nodeId))].sort();
    if (nodes.length > 1) return this.#withLocalCopies(req, reply, streamName, parts, nodes);
    const target = await this.locator.node(nodes[0]!, `The recording of stream '${streamName}' in this range`);
    if ('reason' in target) {
      this.log.warn({ stream: streamName, node: nodes[0], reason: target.reason }, 'Time-range playback from another node cannot be served');
      void reply.status(503).send({ error: 503, message: target.reason });
      return null;
    }
    await this.proxy.forward(req, reply, { ...target, what: `The recording of stream '${streamName}' in this range` });
    return null;
  }

  /** Parts of several nodes: the other nodes' parts copied here once (RemoteParts), then joined with this node's. */
  async #withLocalCopies(
    req: FastifyRequest,
    reply: FastifyReply,
    streamName: string,
    parts: readonly RecordedPart[],
    nodes: readonly string[],
  ): Promise<readonly RecordedPart[] | null> {
    const self = this.catalog.nodeId;
    if (this.remoteParts === null) {
      const message = `The range of stream '${streamName}' spans parts held by several nodes (${nodes.join(', ')}); ask shorter ranges (records/timeline shows which)`;
      this.log.info({ stream: streamName, nodes }, 'Time-range playback over several nodes refused');
      void reply.status(409).send({ error: 409, message });
      return null;
    }
    const query = req.query as { token?: unknown };
    const credentials = {
      ...(typeof query.token === 'string' ? { token: query.token } : {}),
      ...(typeof req.headers.authorization === 'string' ? { authorization: req.headers.authorization } : {}),
    };
    const targets = new Map<string, { nodeId: string; baseUrl: string }>();
    const out: RecordedPart[] = [];
    try {
      for (const part of parts) {
        if (part.nodeId === self) {
          out.push(part);
          continue;
        }
        let target = targets.get(part.nodeId);
        if (!target) {
          const found = await this.locator.node(part.nodeId, `Part '${part.fileName}' of stream '${streamName}'`);
          if ('reason' in found) throw new RemotePartError(503, found.reason);
          targets.set(part.nodeId, (target = found));
        }
        out.push({ ...part, path: await this.remoteParts.localCopy(part.fileName, target, credentials), nodeId: self });
      }
    } catch (err) {
      if (!(err instanceof RemotePartError)) throw err;
      this.log.warn({ stream: streamName, nodes, reason: err.message }, 'Time-range playback over several nodes cannot be served');
      void reply.status(err.status).send({ error: err.status, message: err.message });
      return null;
    }
    this.log.info({ stream: streamName, nodes, parts: parts.length }, 'Time-range playback joins parts of several nodes');
    return out;
  }
}
