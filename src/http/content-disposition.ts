/**
 * A Content-Disposition value (pure): `kind` is inline or attachment
 * (record_response_content_disposition_header_value); a name that is not
 * plain printable ASCII, or holds a quote or backslash, gets an ASCII
 * stand-in plus its UTF-8 form in filename* (RFC 6266).
 */
export function contentDisposition(kind: string, fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return ascii === fileName ? `${kind};filename="${fileName}"` : `${kind};filename="${ascii}";filename*=UTF-8''${encodeURIComponent(fileName)}`;
}
