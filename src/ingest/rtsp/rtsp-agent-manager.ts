import type { Logger } from 'pino';
import { checkStreamName } from '../../streams/stream-name.js';
import type { StreamRegistry } from '../../streams/stream-registry.js';
import { RtspPull, type RtspPullStatus } from './rtsp-pull.js';
import { defaultStreamName, parseRtspUri, uriMatches, type PullEntry, type RtspTransport } from './rtsp-uri.js';

export interface RtspAgentSettings {
  readonly ffmpeg: string;
  /** rtsp_transport */
  readonly transport: RtspTransport;
  /** rtsp_timeout, seconds */
  readonly timeoutSeconds: number;
  /** rtsp_reconnect_min_delay / rtsp_reconnect_max_delay, ms */
  readonly reconnectMinDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  /** record_audio_buffer_max_size */
  readonly audioBufferMax: number;
  /** rtsp_pull_streams: pulled at start-up. */
  readonly pullAtStartup: readonly PullEntry[];
  /** rtsp_max_pulls: pulls at once (each is an ffmpeg); further startups are refused. */
  readonly maxPulls?: number;
}

export interface RtspStartupRequest {
  readonly uri: string;
  readonly toStream?: string;
  readonly record?: boolean;
  readonly transport?: RtspTransport;
}

export interface RtspFindFilter {
  readonly uri?: string;
  readonly status?: RtspPullStatus;
}

/** A bad request: bad URI, or a transport the URI cannot use (400). */
export class RtspRequestError extends Error {}
/** That camera stream or that stream name is already pulled or published (409). */
export class RtspConflictError extends Error {}
/** rtsp_max_pulls pulls already run (503). */
export class RtspLimitError extends Error {}

export const DEFAULT_MAX_PULLS = 32;

/**
 * The set of camera pulls (WCS's RTSP agents): started by REST or from
 * rtsp_pull_streams, listed, and stopped. One pull per camera stream (URI
 * without credentials) and per stream name. close() stops every ffmpeg and
 * unpublishes the streams, which finishes their recordings.
 */
export class RtspAgentManager {
  readonly #pulls = new Map<string, RtspPull>();
  #closed = false;

  constructor(
    private readonly settings: RtspAgentSettings,
    private readonly registry: StreamRegistry,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const entry of this.settings.pullAtStartup) {
      try {
        this.startup({ uri: entry.uri.uri, ...(entry.name !== null ? { toStream: entry.name } : {}) });
      } catch (err) {
        this.log.error({ uri: entry.uri.masked, stream: entry.name, error: (err as Error).message }, 'RTSP pull from rtsp_pull_streams not started');
      }
    }
  }

  /** Starts pulling a camera. Throws RtspRequestError (400), RtspConflictError (409) or RtspLimitError (503). */
  startup(req: RtspStartupRequest): RtspPull {
    if (this.#closed) throw new RtspConflictError('The server is shutting down');
    let uri;
    try {
      uri = parseRtspUri(req.uri);
    } catch (err) {
      throw new RtspRequestError((err as Error).message);
    }
    const transport = req.transport ?? (uri.scheme === 'rtsps' ? 'tcp' : this.settings.transport);
    if (uri.scheme === 'rtsps' && transport === 'udp') throw new RtspRequestError('rtsps:// runs over TLS: use transport tcp');
    let streamName = defaultStreamName(uri);
    if (req.toStream !== undefined) {
      const name = checkStreamName(req.toStream);
      if (!name.ok) throw new RtspRequestError(`toStream: ${name.reason}`);
      streamName = name.value;
    }
    for (const pull of this.#pulls.values()) {
      if (pull.options.uri.key === uri.key) throw new RtspConflictError(`Camera ${uri.masked} is already pulled (stream '${pull.options.streamName}')`);
      if (pull.options.streamName === streamName) throw new RtspConflictError(`Stream name '${streamName}' is already used by the pull of ${pull.options.uri.masked}`);
    }
    if (this.registry.byName(streamName)) throw new RtspConflictError(`Stream '${streamName}' is already published`);
    const max = this.settings.maxPulls ?? DEFAULT_MAX_PULLS;
    if (this.#pulls.size >= max) {
      this.log.warn({ uri: uri.masked, stream: streamName, pulls: this.#pulls.size, max }, 'RTSP pull refused: rtsp_max_pulls reached');
      throw new RtspLimitError(`${this.#pulls.size} camera pulls already run, the most rtsp_max_pulls allows; terminate one first`);
    }
    const s = this.settings;
    const pull = new RtspPull(
      {
        uri,
        streamName,
        record: req.record ?? null,
        transport,
        timeoutSeconds: s.timeoutSeconds,
        reconnectMinDelayMs: s.reconnectMinDelayMs,
        reconnectMaxDelayMs: s.reconnectMaxDelayMs,
        ffmpeg: s.ffmpeg,
        audioBufferMax: s.audioBufferMax,
      },
      this.registry,
      this.log,
    );
    this.#pulls.set(pull.id, pull);
    // a pull stopped from elsewhere (/stream/terminate) leaves the list
    pull.on('status', (status) => {
      if (status === 'STOPPED' && this.#pulls.get(pull.id) === pull) this.#pulls.delete(pull.id);
    });
    pull.start();
    return pull;
  }

  all(): RtspPull[] {
    return [...this.#pulls.values()];
  }

  find(filter: RtspFindFilter): RtspPull[] {
    return this.all().filter(
      (p) => (filter.uri === undefined || uriMatches(p.options.uri, filter.uri)) && (filter.status === undefined || p.status === filter.status),
    );
  }

  /** Stops the pulls of that camera URI (with or without credentials, or masked); resolves with them once stopped. */
  async terminate(uri: string): Promise<RtspPull[]> {
    const pulls = this.find({ uri });
    await Promise.all(pulls.map((p) => p.close('terminated by REST')));
    for (const p of pulls) this.#pulls.delete(p.id);
    return pulls;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pulls = this.all();
    await Promise.all(pulls.map((p) => p.close('server shutdown')));
    this.#pulls.clear();
  }
}
