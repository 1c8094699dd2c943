/**
 * When a claim of another node (a webhook delivery it is sending, an upload
 * it is running) is abandoned and may be taken over: its node is not alive
 * by the heartbeat table (no beat within cluster_node_timeout, stopped, or
 * never listed) and the claim is at least cluster_claim_lease old (a node
 * claims before its first heartbeat, at start). Only on a shared catalog:
 * the embedded one has a single node, which gives back its own claims when
 * it starts again.
 */
export interface ClaimTakeover {
  /** cluster_node_timeout, ms. */
  readonly nodeTimeoutMs: number;
  /** cluster_claim_lease, ms. */
  readonly leaseMs: number;
  /** How often abandoned claims are looked for, ms. */
  readonly intervalMs: number;
}

/** How often to look: a few times per node timeout, at least every second, at most every 10 s (pure). */
export function takeoverInterval(nodeTimeoutMs: number, leaseMs: number): number {
  return Math.min(10_000, Math.max(1000, Math.round(Math.min(nodeTimeoutMs, leaseMs) / 2)));
}

/** An abandoned claim given back, for the log line. */
export interface ReleasedClaim {
  /** The delivery or upload. */
  readonly what: string;
  /** The node that had it (null: not recorded). */
  readonly node: string | null;
}
