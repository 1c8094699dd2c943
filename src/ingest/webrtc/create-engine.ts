import type { Logger } from 'pino';
import type { EngineSettings, SessionRequest, WebRtcEngine, WebRtcEngineName, WebRtcSession } from './engine.js';
import { chooseEngine, EngineUnavailableError, type EngineSetting } from './engine-choice.js';
import { MediasoupEngine } from './mediasoup-engine.js';
import { lookupMediasoupWorker, type WorkerLookup } from './mediasoup-worker-bin.js';
import { WeriftEngine } from './werift-engine.js';

export interface MediasoupSetup {
  /** [webrtc_workers] worker processes. */
  readonly workers: number;
  /** [mediasoup_worker_cache] where tools/build-mediasoup-worker.sh puts workers ('' = its defaults). */
  readonly cacheDir: string;
}

/**
 * webrtc_engine=auto with a worker found: mediasoup when its worker starts,
 * else werift (a worker binary that is there but cannot run, e.g. a shared
 * library missing, must not cost the WebRTC ingest).
 */
class AutoEngine implements WebRtcEngine {
  #engine: WebRtcEngine;

  constructor(
    private readonly mediasoup: WebRtcEngine,
    private readonly fallback: () => WebRtcEngine,
    private readonly log: Logger,
  ) {
    this.#engine = mediasoup;
  }

  get name(): WebRtcEngineName {
    return this.#engine.name;
  }

  async start(): Promise<void> {
    try {
      await this.mediasoup.start();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'WebRTC engine: mediasoup did not start; using werift (webrtc_engine=auto)');
      await this.mediasoup.close().catch(() => undefined);
      this.#engine = this.fallback();
      await this.#engine.start();
    }
  }

  createSession(request: SessionRequest): Promise<WebRtcSession> {
    return this.#engine.createSession(request);
  }

  close(): Promise<void> {
    return this.#engine.close();
  }
}

/** The engine webrtc_engine asks for, as found on this machine; logs which one runs, why, and which worker binary. */
export function createEngine(
  setting: EngineSetting,
  settings: EngineSettings,
  mediasoup: MediasoupSetup,
  log: Logger,
  lookup: () => WorkerLookup = () => lookupMediasoupWorker(mediasoup.cacheDir),
): WebRtcEngine {
  const worker = setting === 'werift' ? null : lookup();
  const choice = chooseEngine(setting, worker?.path ?? null, worker?.why ?? '');
  log.info(
    { engine: choice.engine, reason: choice.reason, mediasoupVersion: worker?.version, workerBin: worker?.path, workerOrigin: worker?.origin },
    `WebRTC engine: ${choice.engine} (${choice.reason})` + (worker?.path ? `; worker binary from ${worker.origin}` : ''),
  );
  if (choice.engine === 'werift') return new WeriftEngine(settings, log);
  if (!worker?.path) throw new EngineUnavailableError(worker?.why ?? 'no mediasoup worker');
  const engine = new MediasoupEngine(settings, { workerBin: worker.path, workers: mediasoup.workers }, log);
  return setting === 'auto' ? new AutoEngine(engine, () => new WeriftEngine(settings, log), log) : engine;
}
