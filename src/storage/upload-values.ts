import { ValueError, type ValueParser } from '../config/values.js';

/** Where records go: `s3://bucket/prefix/` parsed (pure). */
export interface UploadTarget {
  readonly bucket: string;
  /** Key prefix, empty or ending with '/'. */
  readonly prefix: string;
}

/** S3's bucket naming rules (3-63 lower-case letters, digits, dots, hyphens; starts and ends with a letter or digit). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** record_upload_url: empty (off) or s3://bucket[/prefix[/]]; the prefix gets a trailing '/'. */
export const uploadUrlValue: ValueParser<UploadTarget | null> = (raw) => {
  const v = raw.trim();
  if (v === '') return null;
  const allowed = "empty (off) or s3://bucket/prefix/ (a valid S3 bucket name, a prefix without '..', control characters or '//')";
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(v);
  if (!m || !BUCKET.test(m[1]!)) throw new ValueError(allowed);
  let prefix = m[2] ?? '';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(prefix) || prefix.split('/').some((s) => s === '..' || s === '.') || prefix.includes('//') || prefix.length > 512) {
    throw new ValueError(allowed);
  }
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  return { bucket: m[1]!, prefix };
};

/** record_upload_endpoint: empty (AWS) or an http(s) URL of an S3-compatible store. */
export const endpointValue: ValueParser<string | null> = (raw) => {
  const v = raw.trim();
  if (v === '') return null;
  const url = parseHttpUrl(v);
  if (url === null || url.username !== '' || url.password !== '') throw new ValueError('empty (AWS) or an http:// or https:// URL without credentials, such as http://127.0.0.1:9000');
  return v.replace(/\/+$/, '');
};

/** record_webhook_url: empty (off) or comma-separated http(s) URLs, at most 10. */
export const webhookUrlsValue: ValueParser<string[]> = (raw) => {
  const urls = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const allowed = 'empty (off) or up to 10 comma-separated http:// or https:// URLs';
  if (urls.length > 10) throw new ValueError(allowed);
  for (const u of urls) if (parseHttpUrl(u) === null) throw new ValueError(allowed);
  return [...new Set(urls)];
};

/** A URL whose scheme is http or https; null otherwise (pure). */
export function parseHttpUrl(raw: string): URL | null {
  try {
    const url = new URL(raw);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? url : null;
  } catch {
    return null;
  }
}

/** record_upload_verify: what proves the bucket holds the same bytes. */
export type UploadVerify = 'etag' | 'size';
