import type { Stream, StreamStatus } from './stream.js';

/** The WCS stream statuses a /stream/find filter may name. */
export const WCS_STREAM_STATUSES = [
  'NEW',
  'PENDING',
  'PUBLISHING',
  'PLAYING',
  'PAUSED',
  'UNPUBLISHED',
  'STOPPED',
  'FAILED',
  'NOT_ENOUGH_BANDWIDTH',
] as const;

export type WcsStreamStatus = (typeof WCS_STREAM_STATUSES)[number];

/** Filter of /stream/find and /stream/terminate: every field given must match. */
export interface StreamFilter {
  readonly name?: string;
  readonly mediaSessionId?: string;
  readonly status?: WcsStreamStatus;
}

/** Whether a stream matches a filter (pure); an empty filter matches every stream. */
export function matchesStream(
  stream: Pick<Stream, 'name' | 'mediaSessionId'> & { readonly status: StreamStatus },
  filter: StreamFilter,
): boolean {
  if (filter.name !== undefined && stream.name !== filter.name) return false;
  if (filter.mediaSessionId !== undefined && stream.mediaSessionId !== filter.mediaSessionId) return false;
  if (filter.status !== undefined && stream.status !== filter.status) return false;
  return true;
}

/** The streams a filter selects, in publish order. */
export function filterStreams<S extends Pick<Stream, 'name' | 'mediaSessionId' | 'status'>>(streams: readonly S[], filter: StreamFilter): S[] {
  return streams.filter((s) => matchesStream(s, filter));
}
