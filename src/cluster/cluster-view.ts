import type { ClusterStore, NodeBeat } from './cluster-store.js';
import { clusterStreams, nodeView, type NodeView } from './liveness.js';

/**
 * The cluster as the REST API shows it: every node of the heartbeat table
 * with its liveness, and the live streams of every alive node. On the
 * embedded catalog (no store) the cluster is this node alone.
 */
export class ClusterView {
  constructor(
    private readonly store: ClusterStore | null,
    private readonly self: () => NodeBeat,
    private readonly nodeTimeoutMs: number,
  ) {}

  get shared(): boolean {
    return this.store !== null;
  }

  async nodes(): Promise<NodeView[]> {
    const me = this.self();
    if (this.store === null) {
      const now = Date.now();
      return [nodeView({ ...me, lastSeenMs: now, nowMs: now, stoppedMs: null }, this.nodeTimeoutMs, me.nodeId)];
    }
    return (await this.store.nodes()).map((n) => nodeView(n, this.nodeTimeoutMs, me.nodeId));
  }

  /** Live streams of every alive node, each with nodeId; this node's from its registry (`own`). */
  async streams(own: readonly Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const me = this.self();
    if (this.store === null) return clusterStreams([], this.nodeTimeoutMs, me.nodeId, own);
    return clusterStreams(await this.store.nodes(), this.nodeTimeoutMs, me.nodeId, own);
  }
}
