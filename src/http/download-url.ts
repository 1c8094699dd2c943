/**
 * Where a record is downloaded (pure): record_public_base_url, when set (a
 * proxy or CDN in front; it may carry a path prefix), takes the place of the
 * scheme and host the request came to.
 */
export function downloadUrlOf(publicBaseUrl: string, protocol: string, host: string, fileName: string): string {
  const base = publicBaseUrl !== '' ? publicBaseUrl.replace(/\/+$/, '') : `${protocol}://${host}`;
  return `${base}/client/records/${encodeURIComponent(fileName)}`;
}

