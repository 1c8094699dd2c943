/**
 * The label values every wcs_* series may take (pure, bounded sets: never a
 * stream or file name). Each series is created with all of its values at 0,
 * so a dashboard sees it before the first event.
 */
export const PROVIDERS = ['Flash', 'RTSP', 'WebRTC'] as const;
export const CONTAINERS = ['mp4', 'mkv', 'webm', 'ts'] as const;
export const RTSP_STATUSES = ['CONNECTING', 'PLAYING', 'RETRYING', 'FAILED', 'STOPPED'] as const;

/** Why a recording (or one part of it) produced no record. */
export const RECORD_FAILURES = ['no_usable_file', 'disk_space', 'start_error'] as const;
export type RecordFailure = (typeof RECORD_FAILURES)[number];

/** Which hook script ran: on_record_hook_script, on_multiple_record_hook_script, on_record_delete_hook_script. */
export const HOOKS = ['record', 'multi', 'delete'] as const;
export type HookKind = (typeof HOOKS)[number];
/**
 * ok: exit 0; failed: non-zero exit or signal; skipped: missing, not executable or could not be started;
 * timeout: ended by on_record_hook_timeout; dropped: never ran (hook queue full, or shutdown while queued).
 */
export const HOOK_RESULTS = ['ok', 'failed', 'skipped', 'timeout', 'dropped'] as const;

export const RETENTION_REASONS = ['max_age', 'max_size', 'min_free_space', 'source_deleted'] as const;
export const RETENTION_KINDS = ['record', 'cut'] as const;

/** A single-stream recording in progress, as /recorder/find_all shows it. */
export const RECORDING_STATES = ['RECORDING', 'PAUSED', 'FINISHING'] as const;
/** Hook jobs running, or waiting in the hook queue (on_record_hook_max_concurrent, on_record_hook_max_queued). */
export const HOOK_QUEUE_STATES = ['running', 'queued'] as const;
/** Rows of the upload queue (src/storage/upload-store.ts). */
export const UPLOAD_STATES = ['pending', 'uploading', 'uploaded', 'failed'] as const;
/** retry: an attempt failed and is tried again later; failed: given up (attempts exhausted, or the local file gone). */
export const UPLOAD_FAILURE_RESULTS = ['retry', 'failed'] as const;
/** Deliveries of the webhook outbox (src/events/webhook-outbox.ts). */
export const DELIVERY_STATES = ['pending', 'delivering', 'delivered', 'dead'] as const;

export const EVENT_LOOP_STATS = ['mean', 'p50', 'p99', 'max'] as const;

/** `value` when it is one of `allowed`, else `fallback` (pure): an unexpected value never makes a new series. */
export function boundedLabel<T extends string>(value: string, allowed: readonly T[], fallback: T): T {
  return allowed.find((a) => a === value) ?? fallback;
}

/** Counts of `items` by `key`, every allowed value present (pure). */
export function countBy<T extends string>(items: readonly string[], allowed: readonly T[]): Record<T, number> {
  const out = Object.fromEntries(allowed.map((a) => [a, 0])) as Record<T, number>;
  for (const item of items) {
    const k = allowed.find((a) => a === item);
    if (k !== undefined) out[k]++;
  }
  return out;
}
