import fs from 'node:fs';
import path from 'node:path';
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
        ? { engine: 'mediasoup', reason: `webrtc_engine=auto and mediasoup's worker was found (${mediasoupWorker})` }
        : { engine: 'werift', reason: `webrtc_engine=auto and ${whyNoWorker}` };
  }
}

export interface WorkerLookup {
  /** The worker binary, or null. */
  readonly path: string | null;
  /** Why there is none (when path is null). */
  readonly why: string;
}

/**
 * Finds mediasoup's worker binary: MEDIASOUP_WORKER_BIN (as mediasoup
 * itself reads it), else the one its install step puts under the package
 * (worker/out/Release/mediasoup-worker). `resolvePackage` returns the
 * package.json of mediasoup, or throws when it is not installed.
 */
export function findMediasoupWorker(
  env: NodeJS.ProcessEnv,
  resolvePackage: () => string,
  exists: (file: string) => boolean = (file) => fs.existsSync(file),
): WorkerLookup {
  let packageDir: string;
  try {
    packageDir = path.dirname(resolvePackage());
  } catch {
    return { path: null, why: 'the mediasoup package is not installed (optional dependency)' };
  }
  const fromEnv = env.MEDIASOUP_WORKER_BIN;
  if (fromEnv) {
    return exists(fromEnv) ? { path: fromEnv, why: '' } : { path: null, why: `MEDIASOUP_WORKER_BIN=${fromEnv} does not exist` };
  }
  const built = path.join(packageDir, 'worker', 'out', 'Release', 'mediasoup-worker');
  return exists(built)
    ? { path: built, why: '' }
    : { path: null, why: `mediasoup's worker binary is missing (${built}: its install step downloads or compiles it, which needs internet)` };
}
