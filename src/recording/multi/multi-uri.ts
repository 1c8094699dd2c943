/**
 * Multiple recorder URIs (pure): `multi-recorder://<name>`.
 */

export const MULTI_RECORDER_SCHEME = 'multi-recorder';
const URI_PATTERN = /^multi-recorder:\/\/(.+)$/;
/** Longest URI accepted (the file name is cut to 255 bytes anyway). */
export const MAX_URI_LENGTH = 255;

export class MultiRecorderUriError extends Error {}

/** Checks a recorder URI; returns its name part. Throws MultiRecorderUriError. */
export function parseMultiRecorderUri(uri: string): string {
  const m = URI_PATTERN.exec(uri);
  if (!m || uri.length > MAX_URI_LENGTH) {
    throw new MultiRecorderUriError(`'${uri}' is not a recorder URI: expected ${MULTI_RECORDER_SCHEME}://<name>`);
  }
  const name = m[1] ?? '';
  if ([...name].some((ch) => isControl(ch.charCodeAt(0)))) {
    throw new MultiRecorderUriError(`'${uri}' is not a recorder URI: control characters in the name`);
  }
  return name;
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
