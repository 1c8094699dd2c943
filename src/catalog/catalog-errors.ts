/**
 * The catalog's database cannot be reached now (a PostgreSQL catalog whose
 * server is down or restarting). REST answers 503 with this message; the
 * daemon goes on recording, and the rows it could not write are put right
 * by the next reconcile of its folders.
 */
export class CatalogUnavailableError extends Error {}

/** Connection-level failures of node-postgres (as opposed to errors in a statement). */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // 08xxx connection exceptions, 57P0x shutdown / cannot connect now, 53300 too many connections
    if (code.startsWith('08') || code.startsWith('57P0') || code === '53300') return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN'].includes(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(err.message);
}
