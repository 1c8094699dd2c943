/**
 * Record file names from `stream_record_policy_template` (pure).
 *
 * Elements and their maximum sizes are the WCS document's. An element whose
 * value is not known yet (for example {endTime} while recording) stays in
 * the name literally, as WCS shows it in /recorder/find_all.
 */

export const TEMPLATE_ELEMENTS = {
  streamName: Infinity,
  duration: Infinity,
  startTime: 20,
  endTime: 20,
  startTimeMillis: 20,
  endTimeMillis: 20,
  sessionId: 60,
  mediaSessionId: 36,
  login: 32,
  audioCodec: 4,
  videoCodec: 4,
} as const;

export type TemplateElement = keyof typeof TEMPLATE_ELEMENTS;
export type TemplateValues = Partial<Record<TemplateElement, string | number>>;

const ELEMENT_PATTERN = /\{([A-Za-z]+)\}/g;

function isElement(name: string): name is TemplateElement {
  return Object.prototype.hasOwnProperty.call(TEMPLATE_ELEMENTS, name);
}

/**
 * Replaces each known element that has a value, cut to its maximum size.
 * Elements without a value stay as they are (`missing: 'keep'`, for names
 * of recordings in progress) or become empty (`'empty'`, for final names).
 */
export function renderTemplate(template: string, values: TemplateValues, missing: 'keep' | 'empty' = 'keep'): string {
  return template.replace(ELEMENT_PATTERN, (whole, name: string) => {
    if (!isElement(name)) return whole;
    const value = values[name];
    if (value === undefined) return missing === 'keep' ? whole : '';
    const text = String(value);
    const max = TEMPLATE_ELEMENTS[name];
    return Number.isFinite(max) ? [...text].slice(0, max).join('') : text;
  });
}

/** Elements used by a template, in order of appearance. */
export function templateElements(template: string): TemplateElement[] {
  const found: TemplateElement[] = [];
  for (const m of template.matchAll(ELEMENT_PATTERN)) {
    const name = m[1] ?? '';
    if (isElement(name) && !found.includes(name)) found.push(name);
  }
  return found;
}

export const MAX_FILE_NAME_BYTES = 255;

/** Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let size = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (size + n > maxBytes) break;
    out += ch;
    size += n;
  }
  return out;
}

/**
 * Makes a rendered template safe as one file name: removes the characters
 * of `exclude` (WCS exclude_record_name_characters, "/" by default) and
 * always "/", "\\" and control characters; never starts with "." (so it is
 * never hidden, "." or ".."); never empty.
 */
export function sanitizeFileName(name: string, exclude = '/'): string {
  const banned = new Set([...exclude, '/', '\\']);
  const isControl = (code: number): boolean => code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
  let out = [...name].filter((ch) => !banned.has(ch) && !isControl(ch.charCodeAt(0))).join('');
  if (out.startsWith('.')) out = '_' + out.slice(1);
  return out === '' ? '_' : out;
}

/**
 * The whole file name: sanitized base + suffix (a rotation index such as
 * "_1") + extension, the base cut so that the whole fits in 255 bytes.
 */
export function recordFileName(renderedBase: string, extension: string, suffix = '', exclude = '/'): string {
  const tail = `${suffix}.${extension}`;
  const base = truncateUtf8(sanitizeFileName(renderedBase, exclude), MAX_FILE_NAME_BYTES - Buffer.byteLength(tail));
  return base + tail;
}

export type NameEncoding = 'none' | 'HEX' | 'BASE64';

/** Parses encode_record_name: `false`, `true,HEX` or `true,BASE64`. */
export function parseNameEncoding(raw: string): NameEncoding | null {
  const v = raw.replace(/\s+/g, '').toLowerCase();
  if (v === 'false' || v === '') return 'none';
  if (v === 'true,hex') return 'HEX';
  if (v === 'true,base64') return 'BASE64';
  return null;
}

/**
 * encode_record_name: the rendered name as hexadecimal, or as file-name
 * safe BASE64 (RFC 4648 base64url, no padding), so any stream name gives
 * a valid file name.
 */
export function encodeName(name: string, encoding: NameEncoding): string {
  switch (encoding) {
    case 'none':
      return name;
    case 'HEX':
      return Buffer.from(name, 'utf8').toString('hex');
    case 'BASE64':
      return Buffer.from(name, 'utf8').toString('base64url');
  }
}

export interface NamingRules {
  readonly template: string;
  readonly encoding: NameEncoding;
  /** exclude_record_name_characters */
  readonly exclude: string;
}

/**
 * A record's file name: template rendered, encoded, cleaned of excluded
 * characters, part index added (`_1`, `_2`, ... when rotation numbers its
 * parts), extension, all within 255 bytes.
 */
export function nameRecord(rules: NamingRules, values: TemplateValues, missing: 'keep' | 'empty', extension: string, partIndex: number | null): string {
  const rendered = encodeName(renderTemplate(rules.template, values, missing), rules.encoding);
  return recordFileName(rendered, extension, partIndex === null ? '' : `_${partIndex}`, rules.exclude);
}
