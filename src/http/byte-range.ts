/** The bytes a Range header asks for, inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * One `Range: bytes=...` of a file of `size` bytes (pure): the range, null
 * to send the whole file (no header, another unit, several ranges: allowed
 * by RFC 9110 to be ignored), or 'unsatisfiable' (416).
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    // the last N bytes
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return 'unsatisfiable';
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return null;
  return { start, end };
}
