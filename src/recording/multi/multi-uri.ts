/**
 * Multiple recorder URIs (pure): `multi-recorder://<name>`.
 */
import { createHash } from 'node:crypto';
import { truncateUtf8 } from '../naming.js';
import { checkName } from '../../streams/stream-name.js';

export const MULTI_RECORDER_SCHEME = 'multi-recorder';
const URI_PATTERN = /^multi-recorder:\/\/(.+)$/;
/** Longest URI accepted (the file name is cut to 255 bytes anyway). */
export const MAX_URI_LENGTH = 255;

export class MultiRecorderUriError extends Error {}

/** Checks a recorder URI; returns its name part. Throws MultiRecorderUriError. */
export function parseMultiRecorderUri(uri: string): string {
  // the one rule for names first: the message never echoes control characters back
  const checked = checkName(uri, 'uri', MAX_URI_BYTES);
  if (!checked.ok) throw new MultiRecorderUriError(checked.reason);
  const m = URI_PATTERN.exec(uri);
  if (!m || [...uri].length > MAX_URI_LENGTH) {
    throw new MultiRecorderUriError(`uri '${uri.slice(0, 80)}' is not a recorder URI: expected ${MULTI_RECORDER_SCHEME}://<name> of at most ${MAX_URI_LENGTH} characters`);
  }
  return m[1] ?? '';
}

/** Bytes a URI may take (255 characters of up to 4 bytes). */
const MAX_URI_BYTES = MAX_URI_LENGTH * 4;
/** Bytes of a file or folder name on the usual filesystems. */
const MAX_NAME_BYTES = 255;

/**
 * The name of a recorder's hidden work folder (pure): `<prefix><streamName>-<startTimeMillis>`
 * when that fits in 255 bytes; else the {streamName} cut, with `~` and a
 * short hash of the whole URI so that two long URIs never share a folder.
 */
export function multiWorkFolderName(prefix: string, uri: string, startTimeMillis: number): string {
  const name = multiRecorderStreamName(uri);
  const tail = `-${startTimeMillis}`;
  const whole = `${prefix}${name}${tail}`;
  if (Buffer.byteLength(whole) <= MAX_NAME_BYTES) return whole;
  const hash = `~${createHash('sha256').update(uri).digest('hex').slice(0, 10)}`;
  const room = MAX_NAME_BYTES - Buffer.byteLength(prefix) - Buffer.byteLength(hash) - Buffer.byteLength(tail);
  return `${prefix}${truncateUtf8(name, room)}${hash}${tail}`;
}

function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/** Characters that are not allowed in file names on the usual filesystems (Linux, Windows, macOS). */
const NOT_IN_FILE_NAMES = new Set(['/', '\\', ':', '*', '?', '"', '<', '>', '|']);

/**
 * The {streamName} of a multiple recording's file name: the URI with every
 * character not allowed in file names turned into `_`. The scheme separator
 * `://` becomes `__`, as in WCS's own file names
 * (`multi-recorder://test-record` -> `multi-recorder__test-record`).
 */
export function multiRecorderStreamName(uri: string): string {
  const name = parseMultiRecorderUri(uri);
  const clean = [...name].map((ch) => (NOT_IN_FILE_NAMES.has(ch) || isControl(ch.charCodeAt(0)) ? '_' : ch)).join('');
  return `${MULTI_RECORDER_SCHEME}__${clean}`;
}
