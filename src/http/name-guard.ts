import { checkLogin, checkName, checkStreamName, type NameCheck } from '../streams/stream-name.js';
import { HttpError } from './http-error.js';

/**
 * The one rule for names at the HTTP door (pure): a client-given name that
 * breaks it is refused with 400 naming the field and the reason, never
 * cleaned and passed on.
 */
export function requireValid(check: NameCheck, field: string): string {
  if (!check.ok) throw new HttpError(400, `Invalid ${field}: ${check.reason}`);
  return check.value;
}

export function requireStreamName(value: unknown, field: string): string {
  return requireValid(checkStreamName(value), field);
}

export function requireLogin(value: unknown, field: string): string {
  return requireValid(checkLogin(value), field);
}

/** Any other client text that reaches argv, file names or log lines (URIs, templates): no control characters, a byte limit. */
export function requireText(value: unknown, field: string, maxBytes: number): string {
  return requireValid(checkName(value, field, maxBytes), field);
}
