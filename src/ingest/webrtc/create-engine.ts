import type { Logger } from 'pino';
import type { EngineSettings, SessionRequest, WebRtcEngine, WebRtcEngineName, WebRtcSession } from './engine.js';
import { chooseEngine, EngineUnavailableError, type EngineSetting } from './engine-choice.js';
import { MediasoupEngine } from './mediasoup-engine.js';
import { lookupMediasoupWorker, type WorkerLookup } from './mediasoup-worker-bin.js';

export interface MediasoupSetup {
  /** [webrtc_workers] worker processes. */
  readonly workers: number;
  /** [mediasoup_worker_cache] where tools/build-mediasoup-worker.sh puts workers ('' = its defaults). */
  readonly cacheDir: string;
}

/**
 * The werift engine, its module (werift and its dependencies: 6.4 MiB of
 * heap) loaded when it starts: a daemon running mediasoup never loads it,
 * unless mediasoup fails and auto falls back to it (issue 20).
 */
class LazyWeriftEngine implements WebRtcEngine {
  readonly name = 'werift' as const;
  #engine: WebRtcEngine | null = null;
  #closed = false;

  constructor(
    private readonly settings: EngineSettings,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { WeriftEngine } = await import('./werift-engine.js');
    if (this.#closed) return;
    this.#engine = new WeriftEngine(this.settings, this.log);
    await this.#engine.start();
  }

  createSession(request: SessionRequest): Promise<WebRtcSession> {
    if (!this.#engine) return Promise.reject(new EngineUnavailableError('the werift engine has not started'));
    return this.#engine.createSession(request);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#engine?.close();
  }
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
  if (choice.engine === 'werift') return new LazyWeriftEngine(settings, log);
  if (!worker?.path) throw new EngineUnavailableError(worker?.why ?? 'no mediasoup worker');
  const engine = new MediasoupEngine(settings, { workerBin: worker.path, workers: mediasoup.workers }, log);
  return setting === 'auto' ? new AutoEngine(engine, () => new LazyWeriftEngine(settings, log), log) : engine;
}
