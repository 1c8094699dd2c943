import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { EngineSettings, WebRtcEngine } from './engine.js';
import { chooseEngine, EngineUnavailableError, findMediasoupWorker, type EngineSetting } from './engine-choice.js';
import { MediasoupEngine } from './mediasoup-engine.js';
import { WeriftEngine } from './werift-engine.js';

const require = createRequire(import.meta.url);

/** The engine webrtc_engine asks for, as found on this machine; logs which one runs and why. */
export function createEngine(setting: EngineSetting, settings: EngineSettings, log: Logger): WebRtcEngine {
  const worker = findMediasoupWorker(process.env, () => require.resolve('mediasoup/package.json'));
  const choice = chooseEngine(setting, worker.path, worker.why);
  log.info({ engine: choice.engine, reason: choice.reason }, `WebRTC engine: ${choice.engine} (${choice.reason})`);
  if (choice.engine === 'mediasoup') {
    if (worker.path === null) throw new EngineUnavailableError(worker.why);
    return new MediasoupEngine(settings, worker.path, log);
  }
  return new WeriftEngine(settings, log);
}
