/**
 * Wait before try number `attempt + 1` after `attempt` failed tries (pure):
 * `minMs` doubled per failure, at most `maxMs`, with up to 10 % jitter
 * (`random` in [0, 1)) so retries of many rows spread out.
 */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random = 0): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.round(Math.min(maxMs, base * (1 + 0.1 * random)));
}
