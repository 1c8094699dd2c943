import { lookupMediasoupWorker } from '../../src/ingest/webrtc/mediasoup-worker-bin.js';

/**
 * The WebRTC engines every WebRTC integration test runs against. The
 * mediasoup leg is skipped, and says why, only when no worker is on this
 * machine (tools/setup.sh --test builds one: tools/build-mediasoup-worker.sh).
 */
export const MEDIASOUP_WORKER = lookupMediasoupWorker();

export interface EngineLeg {
  readonly engine: 'werift' | 'mediasoup';
  /** '' = runs; else why it is skipped. */
  readonly skip: string;
  /** Daemon properties that pick the engine. */
  readonly props: { readonly webrtc_engine: 'werift' | 'mediasoup' };
}

export const ENGINES: readonly EngineLeg[] = [
  { engine: 'werift', skip: '', props: { webrtc_engine: 'werift' } },
  { engine: 'mediasoup', skip: MEDIASOUP_WORKER.path ? '' : MEDIASOUP_WORKER.why, props: { webrtc_engine: 'mediasoup' } },
];

/** The title suffix of a skipped leg. */
export function skipNote(leg: EngineLeg): string {
  return leg.skip ? ` (skipped: ${leg.skip})` : '';
}
