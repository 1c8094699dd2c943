/**
 * RTSP camera addresses: parsing and validation of rtsp:// and rtsps://
 * URIs, masking of their credentials (for logs, REST answers and anything
 * else a user may see), the key that says two URIs name the same camera
 * stream, and the default stream name. Pure: no I/O.
 */

export type RtspTransport = 'tcp' | 'udp';
export const RTSP_TRANSPORTS: readonly RtspTransport[] = ['tcp', 'udp'];

export class RtspUriError extends Error {}

export interface RtspUri {
  /** The URI as given (scheme in lower case), credentials included: only ever handed to ffmpeg. */
  readonly uri: string;
  readonly scheme: 'rtsp' | 'rtsps';
  /** Host as written (IPv6 in brackets), lower case. */
  readonly host: string;
  /** The explicit port, or the scheme's default (554, 322). */
  readonly port: number;
  /** Path and query, always starting with '/'. */
  readonly pathAndQuery: string;
  readonly hasCredentials: boolean;
  /** Credentials replaced by ***:*** (and secret-looking query values by ***). */
  readonly masked: string;
  /** scheme://host:port/path?query without credentials: two URIs with the same key pull the same camera stream. */
  readonly key: string;
}

const DEFAULT_PORTS = { rtsp: 554, rtsps: 322 } as const;
export const MAX_URI_LENGTH = 2048;

/** Query parameters some cameras take credentials in (rtsp://cam/stream?user=admin&password=...). */
const SECRET_QUERY_KEYS = /^(user|username|usr|login|pass|password|passwd|pwd|psw|token|auth|key|secret)$/i;

/** Splits authority[/path] of a URI written scheme://[userinfo@]host[:port][/path][?query]. */
function splitUri(raw: string): { scheme: string; userinfo: string | null; hostport: string; rest: string } | null {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/.exec(raw);
  if (!m) return null;
  const authority = m[2]!;
  // the password may hold '@' when not percent-encoded: the host follows the last '@'
  const at = authority.lastIndexOf('@');
  return {
    scheme: m[1]!.toLowerCase(),
    userinfo: at >= 0 ? authority.slice(0, at) : null,
    hostport: at >= 0 ? authority.slice(at + 1) : authority,
    rest: m[3]!,
  };
}

function maskQuery(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  if (q < 0) return pathAndQuery;
  const params = pathAndQuery
    .slice(q + 1)
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq > 0 && SECRET_QUERY_KEYS.test(p.slice(0, eq)) ? `${p.slice(0, eq)}=***` : p;
    });
  return `${pathAndQuery.slice(0, q)}?${params.join('&')}`;
}

/** Parses and validates an RTSP camera URI; throws RtspUriError saying what is wrong (never echoing credentials). */
export function parseRtspUri(raw: string): RtspUri {
  if (raw.length === 0) throw new RtspUriError('uri is empty');
  if (raw.length > MAX_URI_LENGTH) throw new RtspUriError(`uri is longer than ${MAX_URI_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) throw new RtspUriError('uri holds spaces or control characters (percent-encode them)');
  const parts = splitUri(raw);
  if (!parts) throw new RtspUriError('uri is not of the form rtsp://[user:password@]host[:port]/path');
  if (parts.scheme !== 'rtsp' && parts.scheme !== 'rtsps') {
    throw new RtspUriError(`uri scheme '${parts.scheme}' is not supported: use rtsp:// or rtsps://`);
  }
  const scheme = parts.scheme;
  const hp = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(?::(\d{1,5}))?$/.exec(parts.hostport);
  if (!hp) throw new RtspUriError('uri has no valid host[:port]');
  const host = hp[1]!.toLowerCase();
  const port = hp[2] === undefined ? DEFAULT_PORTS[scheme] : Number(hp[2]);
  if (port < 1 || port > 65535) throw new RtspUriError(`uri port ${hp[2]} is not from 1 to 65535`);
  const pathAndQuery = parts.rest === '' ? '/' : parts.rest.startsWith('?') ? `/${parts.rest}` : parts.rest;
  const hasCredentials = parts.userinfo !== null && parts.userinfo !== '';
  const hostPort = hp[2] === undefined ? host : `${host}:${port}`;
  return {
    // the scheme in lower case (RTSP:// and Rtsps:// are the same URI; ffmpeg knows only rtsp and rtsps)
    uri: scheme + raw.slice(raw.indexOf(':')),
    scheme,
    host,
    port,
    pathAndQuery,
    hasCredentials,
    masked: `${scheme}://${hasCredentials ? '***:***@' : ''}${hostPort}${maskQuery(pathAndQuery)}`,
    key: `${scheme}://${host}:${port}${pathAndQuery}`,
  };
}

/**
 * The stream name of a pull started without toStream. WCS names a stream
 * captured from a camera by the camera's URI; here it is that URI without
 * its credentials (and with secret-looking query values masked), so a
 * password never reaches /stream/find_all, records' {streamName} or logs.
 */
export function defaultStreamName(uri: RtspUri): string {
  const hostPort = uri.port === DEFAULT_PORTS[uri.scheme] ? uri.host : `${uri.host}:${uri.port}`;
  return `${uri.scheme}://${hostPort}${maskQuery(uri.pathAndQuery)}`;
}

/**
 * Masks every credential in free text (ffmpeg's messages name the input URI):
 * any scheme://user:password@ (rtsp, rtsps, or a mistyped scheme) becomes
 * scheme://***:***@, and the given
 * secrets (the password as written and percent-decoded) become ***.
 */
export function maskCredentials(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*(?:@[^\s/?#@]*)*@/gi, '$1***:***@');
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join('***');
  return out;
}

/** The secrets of a URI's userinfo (user and password, as written and decoded), for maskCredentials. */
export function secretsOf(uri: RtspUri): string[] {
  const parts = splitUri(uri.uri);
  if (!parts?.userinfo) return [];
  const colon = parts.userinfo.indexOf(':');
  const password = colon >= 0 ? parts.userinfo.slice(colon + 1) : '';
  const out = new Set<string>();
  if (password === '') return [];
  out.add(password);
  try {
    out.add(decodeURIComponent(password));
  } catch {
    // not valid percent-encoding: the raw form is masked
  }
  return [...out];
}

/** Whether `given` names this pull: its URI as started, its masked form, or the same camera stream without credentials. */
export function uriMatches(uri: RtspUri, given: string): boolean {
  if (given === uri.uri || given === uri.masked) return true;
  try {
    return parseRtspUri(given).key === uri.key;
  } catch {
    return false;
  }
}

/**
 * rtsp_pull_streams: comma-separated `name=uri` entries (or a bare uri, named
 * by defaultStreamName). The name is what comes before the first '=' when
 * the entry does not start with a scheme.
 */
export interface PullEntry {
  readonly name: string | null;
  readonly uri: RtspUri;
}

export function parsePullList(raw: string): PullEntry[] {
  const entries: PullEntry[] = [];
  for (const item of raw.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const bare = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry);
    if (bare || eq < 0) {
      entries.push({ name: null, uri: parseRtspUri(entry) });
      continue;
    }
    const name = entry.slice(0, eq).trim();
    if (name === '') throw new RtspUriError('an entry has an empty stream name before =');
    entries.push({ name, uri: parseRtspUri(entry.slice(eq + 1).trim()) });
  }
  return entries;
}
