import type { WebRtcEngineName } from './engine.js';

/** webrtc_engine values. */
export type EngineSetting = 'auto' | WebRtcEngineName;
export const ENGINE_SETTINGS = ['auto', 'werift', 'mediasoup'] as const;

export class EngineUnavailableError extends Error {}

export interface EngineChoice {
  readonly engine: WebRtcEngineName;
  /** Why, for the start-up log line. */
  readonly reason: string;
}

/**
 * Which engine runs (pure): auto takes mediasoup when its worker binary is
 * there, else werift; mediasoup asked for explicitly without a worker is an
 * error that says why.
 */
export function chooseEngine(setting: EngineSetting, mediasoupWorker: string | null, whyNoWorker: string): EngineChoice {
  switch (setting) {
    case 'werift':
      return { engine: 'werift', reason: 'webrtc_engine=werift' };
    case 'mediasoup':
      if (mediasoupWorker === null) {
        throw new EngineUnavailableError(`webrtc_engine=mediasoup, but mediasoup cannot run: ${whyNoWorker}. Use webrtc_engine=auto or werift`);
      }
      return { engine: 'mediasoup', reason: `webrtc_engine=mediasoup (worker ${mediasoupWorker})` };
    case 'auto':
      return mediasoupWorker !== null
        ? { engine: 'mediasoup', reason: `webrtc_engine=auto and mediasoup's worker was found (${mediasoupWorker}); werift if it does not start` }
        : { engine: 'werift', reason: `webrtc_engine=auto and ${whyNoWorker}` };
  }
}
