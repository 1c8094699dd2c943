import type { CatalogPause } from './catalog.js';

/**
 * The `pauses` column of the records table, for both catalog engines: the
 * pauses of a paused-and-resumed record as JSON text, NULL when there were
 * none.
 */
export function pausesToColumn(pauses: readonly CatalogPause[] | undefined): string | null {
  return pauses && pauses.length > 0 ? JSON.stringify(pauses) : null;
}

/** The record's pauses field from the column: absent when none (or unreadable). */
export function pausesFromColumn(json: string | null): { pauses?: CatalogPause[] } {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? { pauses: v as CatalogPause[] } : {};
  } catch {
    return {};
  }
}
