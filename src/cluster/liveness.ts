import type { NodeRow } from './cluster-store.js';

/** A node as /rest-api/cluster/nodes shows it. */
export interface NodeView {
  readonly nodeId: string;
  readonly publicUrl: string;
  readonly alive: boolean;
  /** Seconds since its last heartbeat (database clock). */
  readonly lastSeenAgoSeconds: number;
  readonly lastSeen: number;
  readonly startedAt: number;
  readonly version: string;
  readonly streams: number;
  /** When it stopped cleanly (ms since the epoch); null while running or after a crash. */
  readonly stoppedAt: number | null;
  /** True for the node answering. */
  readonly self: boolean;
}

/** Alive: not stopped, and its last heartbeat is at most timeoutMs old by the database's clock (pure). */
export function isAlive(node: Pick<NodeRow, 'lastSeenMs' | 'nowMs' | 'stoppedMs'>, timeoutMs: number): boolean {
  return node.stoppedMs === null && node.nowMs - node.lastSeenMs <= timeoutMs;
}

export function nodeView(node: NodeRow, timeoutMs: number, selfId: string): NodeView {
  return {
    nodeId: node.nodeId,
    publicUrl: node.publicUrl,
    alive: isAlive(node, timeoutMs),
    lastSeenAgoSeconds: Math.max(0, Math.round((node.nowMs - node.lastSeenMs) / 100) / 10),
    lastSeen: node.lastSeenMs,
    startedAt: node.startedMs,
    version: node.version,
    streams: node.streams.length,
    stoppedAt: node.stoppedMs,
    self: node.nodeId === selfId,
  };
}

/**
 * Live streams of every node for stream/find_all {"cluster": true}: each
 * stream with nodeId; a node not alive contributes nothing (its heartbeat's
 * list is stale). This node's own list is the live one, not its last beat.
 */
export function clusterStreams(
  nodes: readonly NodeRow[],
  timeoutMs: number,
  selfId: string,
  own: readonly Record<string, unknown>[],
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = own.map((s) => ({ ...s, nodeId: selfId }));
  for (const n of nodes) {
    if (n.nodeId === selfId || !isAlive(n, timeoutMs)) continue;
    for (const s of n.streams) out.push({ ...s, nodeId: n.nodeId });
  }
  return out;
}
