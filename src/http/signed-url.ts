import { createHmac } from 'node:crypto';
import { sameSecret } from '../util/same-secret.js';

/**
 * Short-lived signed media URLs (pure): the console asks for one through
 * /rest-api/records/sign and puts it in a <video> src or a download link, so
 * the long-lived records_access_token never appears in a URL. The signature
 * is HMAC-SHA256 over the URL's path and query (without exp and sig, in a
 * canonical order) and its expiry, keyed by a secret derived from
 * records_access_token: changing the token voids every signed URL.
 */

/** The longest a signed URL may live, whatever is asked: one hour. */
export const MAX_SIGNED_URL_TTL_SECONDS = 3600;

/** The HMAC key for signed URLs, derived from records_access_token (never the token itself). */
export function signingKey(recordsAccessToken: string): Buffer {
  return createHmac('sha256', recordsAccessToken).update('wcs-recorder signed media URL v1').digest();
}

/** The path and query of a URL in canonical form, without exp, sig and token; null when it is not a local path. */
export function canonicalTarget(pathAndQuery: string): string | null {
  if (!pathAndQuery.startsWith('/') || pathAndQuery.startsWith('//')) return null;
  let url: URL;
  try {
    url = new URL(pathAndQuery, 'http://signed.invalid');
  } catch {
    return null;
  }
  const params = [...url.searchParams.entries()].filter(([k]) => k !== 'exp' && k !== 'sig' && k !== 'token');
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = new URLSearchParams(params).toString();
  return query === '' ? url.pathname : `${url.pathname}?${query}`;
}

function mac(key: Buffer, target: string, exp: number): string {
  return createHmac('sha256', key).update(`${target}\n${exp}`).digest('hex');
}

export interface SignedUrl {
  /** The path and query with exp and sig appended. */
  readonly url: string;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
}

/** Signs a local path (and query) for ttlSeconds (at most MAX_SIGNED_URL_TTL_SECONDS); null when it is not a local path. */
export function signUrl(key: Buffer, pathAndQuery: string, ttlSeconds: number, nowMs: number): SignedUrl | null {
  const target = canonicalTarget(pathAndQuery);
  if (target === null) return null;
  const ttl = Math.max(1, Math.min(Math.floor(ttlSeconds), MAX_SIGNED_URL_TTL_SECONDS));
  const exp = Math.floor(nowMs / 1000) + ttl;
  const sep = target.includes('?') ? '&' : '?';
  return { url: `${target}${sep}exp=${exp}&sig=${mac(key, target, exp)}`, exp };
}

export type SignatureCheck = 'none' | 'valid' | 'expired' | 'bad';

/**
 * Checks the exp and sig of a request URL (path and query as received):
 * 'none' when it carries no sig, 'expired' past exp or when exp lies further
 * ahead than MAX_SIGNED_URL_TTL_SECONDS (never signed here), 'bad' when the
 * signature does not match.
 */
export function checkSignedUrl(key: Buffer, requestUrl: string, nowMs: number): SignatureCheck {
  const q = requestUrl.indexOf('?');
  if (q < 0) return 'none';
  const params = new URLSearchParams(requestUrl.slice(q + 1));
  const sig = params.get('sig');
  if (sig === null) return 'none';
  const expRaw = params.get('exp') ?? '';
  if (!/^\d{1,12}$/.test(expRaw) || params.getAll('sig').length !== 1 || params.getAll('exp').length !== 1) return 'bad';
  const target = canonicalTarget(requestUrl);
  if (target === null) return 'bad';
  const exp = Number(expRaw);
  if (!sameSecret(sig.toLowerCase(), mac(key, target, exp))) return 'bad';
  const now = Math.floor(nowMs / 1000);
  if (exp < now || exp > now + MAX_SIGNED_URL_TTL_SECONDS) return 'expired';
  return 'valid';
}
