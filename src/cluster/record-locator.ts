import type { CatalogRecord } from '../catalog/catalog.js';
import type { ClusterStore } from './cluster-store.js';
import { isAlive } from './liveness.js';

/**
 * Where this node can read a record's bytes from: its own disk, the node
 * that holds the file (proxied), the bucket (once the upload store marks it
 * uploaded), or nowhere now (with the reason, for a 503 that says why).
 */
export type RecordLocation =
  | { readonly kind: 'local'; readonly record: CatalogRecord }
  | { readonly kind: 'node'; readonly record: CatalogRecord; readonly nodeId: string; readonly baseUrl: string }
  | { readonly kind: 'bucket'; readonly record: CatalogRecord; readonly key: string }
  | { readonly kind: 'unavailable'; readonly record: CatalogRecord; readonly reason: string };

/**
 * The seam for object storage (issue 19 part 1): the key of a record's
 * verified copy in the bucket, or null when it has none. A record with a
 * copy is read from the bucket when its node is not this one, whether or
 * not that node is alive.
 */
export interface BucketCopies {
  keyOf(record: CatalogRecord): Promise<string | null>;
}

export interface RecordLocatorOptions {
  readonly selfId: string;
  /** Heartbeats older than this: the node is not alive. */
  readonly nodeTimeoutMs: number;
}

export class RecordLocator {
  constructor(
    private readonly options: RecordLocatorOptions,
    private readonly nodes: ClusterStore | null,
    private readonly bucket: BucketCopies | null = null,
  ) {}

  async locate(record: CatalogRecord): Promise<RecordLocation> {
    if (record.nodeId === this.options.selfId || this.nodes === null) return { kind: 'local', record };
    const key = this.bucket ? await this.bucket.keyOf(record) : null;
    if (key !== null) return { kind: 'bucket', record, key };
    const node = await this.node(record.nodeId, `Record '${record.fileName}'`);
    return 'reason' in node ? { kind: 'unavailable', record, reason: node.reason } : { kind: 'node', record, ...node };
  }

  /** Another node's base URL when it is alive, or why it cannot be asked. `what` starts the message ("Record 'x.mp4'"). */
  async node(nodeId: string, what: string): Promise<{ nodeId: string; baseUrl: string } | { reason: string }> {
    const node = this.nodes ? await this.nodes.node(nodeId) : null;
    if (node === null) return { reason: `${what} is held by node '${nodeId}', which this cluster does not know` };
    if (!isAlive(node, this.options.nodeTimeoutMs)) {
      const ago = Math.round((node.nowMs - node.lastSeenMs) / 1000);
      const why = node.stoppedMs !== null ? 'which was stopped' : `which is not alive (last heartbeat ${ago} s ago)`;
      return {
        reason: `${what} is held only by node '${nodeId}', ${why}, and has no copy in a bucket; try again when that node is back`,
      };
    }
    return { nodeId: node.nodeId, baseUrl: node.publicUrl };
  }
}
