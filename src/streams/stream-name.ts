/**
 * One rule for every name a client hands us (RTMP path, WHIP path, RTSP
 * `toStream`, multipleRecorder URI, `?login=`, file name templates): it must
 * be a string, non-empty where a name is needed, hold no control characters
 * (C0, DEL, C1: they break file names, argv and log lines) and fit a byte
 * limit. A name that breaks the rule is refused with the reason, never
 * cleaned and passed on.
 */

/** Bytes (UTF-8) a stream name may take: a file name is 255 bytes, and the template adds to it. */
export const MAX_STREAM_NAME_BYTES = 200;
/** Bytes a `login` may take. */
export const MAX_LOGIN_BYTES = 128;

export type NameCheck = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly reason: string };

// C0 controls, DEL and C1 controls; also U+2028/U+2029 (line separators some log readers honour)
// eslint-disable-next-line no-control-regex
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/**
 * Checks one client-given name. `what` names it in the reason
 * ("stream name", "login", ...); `allowEmpty` for optional values such as login.
 */
export function checkName(value: unknown, what: string, maxBytes: number, allowEmpty = false): NameCheck {
  if (typeof value !== 'string') return { ok: false, reason: `${what} must be a string` };
  if (value === '' && !allowEmpty) return { ok: false, reason: `${what} must not be empty` };
  if (LONE_SURROGATE.test(value)) return { ok: false, reason: `${what} is not well-formed Unicode` };
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) return { ok: false, reason: `${what} is ${bytes} bytes long; at most ${maxBytes} are allowed` };
  const m = CONTROL.exec(value);
  if (m) {
    const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return { ok: false, reason: `${what} holds a control character (U+${code}) at position ${m.index}` };
  }
  return { ok: true, value };
}

export function checkStreamName(value: unknown): NameCheck {
  return checkName(value, 'stream name', MAX_STREAM_NAME_BYTES);
}

export function checkLogin(value: unknown): NameCheck {
  return checkName(value, 'login', MAX_LOGIN_BYTES, true);
}

/** For log lines and text files: control characters shown as \uXXXX so a name can never forge a line. */
export function escapeControls(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
