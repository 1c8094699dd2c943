import type { Logger } from 'pino';
import type { RecorderManager } from '../../recording/recorder-manager.js';
import type { Stream } from '../../streams/stream.js';
import { filterStreams, type StreamFilter } from '../../streams/stream-filter.js';
import type { StreamRegistry } from '../../streams/stream-registry.js';

/**
 * /rest-api/stream/find and /stream/terminate: selects published streams
 * by filter; terminating disconnects their publishers and finishes their
 * recordings (file moved, hook started) before it answers.
 */
export class StreamControl {
  constructor(
    private readonly registry: StreamRegistry,
    private readonly recorders: RecorderManager,
    private readonly log: Logger,
  ) {}

  find(filter: StreamFilter): Stream[] {
    return filterStreams(this.registry.all(), filter);
  }

  /** Disconnects the matching publishers; resolves with them once their recordings are finished. */
  async terminate(filter: StreamFilter): Promise<Stream[]> {
    const streams = this.find(filter);
    await Promise.all(
      streams.map(async (stream) => {
        this.log.info({ stream: stream.name, mediaSessionId: stream.mediaSessionId }, 'Stream terminated by REST: disconnecting its publisher');
        stream.source.disconnect('terminated by REST');
        // the stream's end finishes its recording too; this waits for that (and
        // does not depend on rtmp_publish_grace_ms keeping the publish alive)
        await this.recorders.stopRecording(stream.mediaSessionId, 'stream terminated by REST');
      }),
    );
    return streams;
  }
}
