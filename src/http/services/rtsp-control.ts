import type { Logger } from 'pino';
import type { RtspAgentManager, RtspFindFilter, RtspStartupRequest } from '../../ingest/rtsp/rtsp-agent-manager.js';
import type { RtspAgentJson } from '../../ingest/rtsp/rtsp-pull.js';
import type { RecorderManager } from '../../recording/recorder-manager.js';

export { RtspConflictError, RtspLimitError, RtspRequestError } from '../../ingest/rtsp/rtsp-agent-manager.js';

/**
 * /rest-api/rtsp/*: camera pulls over the RTSP agent manager; terminating
 * one answers once its recording is finished (file moved, hook started).
 * Every answer and log line carries URIs with their credentials masked.
 */
export class RtspControl {
  constructor(
    private readonly agents: RtspAgentManager,
    private readonly recorders: RecorderManager,
    private readonly log: Logger,
  ) {}

  /** Throws RtspRequestError (400), RtspConflictError (409) or RtspLimitError (503). */
  startup(req: RtspStartupRequest): RtspAgentJson {
    const pull = this.agents.startup(req);
    this.log.info({ stream: pull.options.streamName, uri: pull.options.uri.masked, transport: pull.options.transport }, 'RTSP pull started by REST');
    return pull.toJSON();
  }

  find(filter: RtspFindFilter): RtspAgentJson[] {
    return this.agents.find(filter).map((p) => p.toJSON());
  }

  /** Stops the pulls of that URI; resolves with them once their recordings are finished. */
  async terminate(uri: string): Promise<RtspAgentJson[]> {
    const pulls = this.agents.find({ uri });
    const sessions = pulls.flatMap((p) => (p.stream ? [p.stream.mediaSessionId] : []));
    for (const p of pulls) this.log.info({ stream: p.options.streamName, uri: p.options.uri.masked, mediaSessionId: p.stream?.mediaSessionId }, 'RTSP pull terminated by REST');
    await this.agents.terminate(uri);
    // through the manager's per-stream order: a startup queued for the stream is finished too
    await Promise.all(sessions.map((id) => this.recorders.stopRecording(id, 'RTSP pull terminated by REST')));
    return pulls.map((p) => p.toJSON());
  }
}
