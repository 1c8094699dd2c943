/**
 * HTTP validators of a file (pure): an ETag and Last-Modified from its size
 * and modification time, and what a request's conditional headers
 * (If-None-Match, If-Modified-Since, If-Range; RFC 9110 §13) make of them.
 */

export interface FileValidators {
  /** A weak entity tag: the same bytes re-written in the same millisecond would keep it. */
  readonly etag: string;
  readonly lastModified: string;
}

export function fileValidators(size: number, mtimeMs: number): FileValidators {
  return {
    etag: `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
    lastModified: new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString(),
  };
}

function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, '');
}

function matchesAny(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const mine = opaque(etag);
  return header.split(',').some((t) => opaque(t) === mine);
}

/** Seconds-precision comparison, as HTTP dates have. */
function notModifiedSince(header: string, lastModified: string): boolean {
  const since = Date.parse(header);
  if (Number.isNaN(since)) return false;
  return Date.parse(lastModified) <= since;
}

export interface ConditionalHeaders {
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifRange?: string | undefined;
}

/**
 * 'not-modified' when the client's copy is current (304 for GET/HEAD);
 * otherwise whether a Range header may be honoured (If-Range with a stale
 * validator means: send the whole file).
 */
export function evaluateConditions(h: ConditionalHeaders, v: FileValidators): 'not-modified' | { readonly rangeAllowed: boolean } {
  if (h.ifNoneMatch !== undefined) {
    if (matchesAny(h.ifNoneMatch, v.etag)) return 'not-modified';
  } else if (h.ifModifiedSince !== undefined && notModifiedSince(h.ifModifiedSince, v.lastModified)) {
    return 'not-modified';
  }
  if (h.ifRange === undefined) return { rangeAllowed: true };
  const ir = h.ifRange.trim();
  // a weak tag never satisfies If-Range (strong comparison): the whole file is sent
  if (ir.startsWith('"') || ir.startsWith('W/')) return { rangeAllowed: false };
  return { rangeAllowed: ir === v.lastModified };
}
