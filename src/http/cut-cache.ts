/** One stored part of the cut cache. */
export interface CachedPart {
  readonly fileName: string;
  readonly bytes: number;
  /** When it was last made or served, ms since the epoch. */
  readonly lastUsedMs: number;
}

/**
 * mp4_cutter_cache_max_size (pure): the parts to remove, least recently
 * used first, so that the cache plus `incomingBytes` fits in `maxBytes`.
 * Parts named in `keep` (being made or just made) are never chosen.
 */
export function planEviction(parts: readonly CachedPart[], maxBytes: number, incomingBytes = 0, keep: ReadonlySet<string> = new Set()): string[] {
  let total = incomingBytes + parts.reduce((sum, p) => sum + p.bytes, 0);
  const out: string[] = [];
  const oldestFirst = [...parts].sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.fileName.localeCompare(b.fileName));
  for (const p of oldestFirst) {
    if (total <= maxBytes) break;
    if (keep.has(p.fileName)) continue;
    out.push(p.fileName);
    total -= p.bytes;
  }
  return out;
}
