/**
 * record_rotation values (pure): `20` = parts of 20 seconds, `10M` = parts
 * of at most 10 megabytes (MiB), `disabled` or empty = one file.
 */
export type Rotation =
  | { readonly kind: 'disabled' }
  | { readonly kind: 'duration'; readonly seconds: number }
  | { readonly kind: 'size'; readonly bytes: number };

export class RotationError extends Error {}

export const ROTATION_ALLOWED = "'disabled', a number of seconds such as 20, or megabytes such as 10M";

export function parseRotation(raw: string): Rotation {
  const v = raw.trim();
  if (v === '' || v.toLowerCase() === 'disabled') return { kind: 'disabled' };
  const seconds = /^(\d{1,7})$/.exec(v);
  if (seconds) {
    const n = Number(seconds[1]);
    if (n < 1) throw new RotationError(`rotation '${raw}': allowed: ${ROTATION_ALLOWED}`);
    return { kind: 'duration', seconds: n };
  }
  const mega = /^(\d{1,6})[Mm]$/.exec(v);
  if (mega) {
    const n = Number(mega[1]);
    if (n < 1) throw new RotationError(`rotation '${raw}': allowed: ${ROTATION_ALLOWED}`);
    return { kind: 'size', bytes: n * 1024 * 1024 };
  }
  throw new RotationError(`rotation '${raw}': allowed: ${ROTATION_ALLOWED}`);
}
