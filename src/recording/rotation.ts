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

export interface PartProgress {
  /** Stream timestamp of the part's first media chunk, ms. */
  readonly firstTimestampMs: number;
  /** Bytes of feed written into the part so far. */
  readonly bytes: number;
  /** Bytes of the last complete keyframe-to-keyframe run (0 while unknown). */
  readonly lastGopBytes: number;
}

/**
 * Whether a new part starts at this chunk: only where a part may start (a
 * video keyframe, or any chunk of an audio-only feed), once the part has
 * reached its length, or once the next group of pictures would take it over
 * its size (`overheadBytes`: space the container adds on its own, such as a
 * reserved moov).
 */
export function rotationDue(
  rotation: Rotation,
  part: PartProgress,
  chunk: { readonly keyframe: boolean; readonly timestampMs: number },
  overheadBytes = 0,
): boolean {
  if (!chunk.keyframe || part.bytes === 0) return false;
  switch (rotation.kind) {
    case 'disabled':
      return false;
    case 'duration':
      return chunk.timestampMs - part.firstTimestampMs >= rotation.seconds * 1000;
    case 'size':
      return part.bytes + part.lastGopBytes + overheadBytes >= rotation.bytes;
  }
}
