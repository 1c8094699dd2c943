import { randomUUID } from 'node:crypto';
import type { StreamSource } from './media-tap.js';

export type StreamStatus = 'PUBLISHING' | 'UNPUBLISHED';
/** WCS names: RTMP publishers are reported as "Flash". */
export type MediaProvider = 'Flash' | 'RTSP' | 'WebRTC';

export interface MediaInfo {
  audioCodec: string;
  videoCodec: string;
  width: number;
  height: number;
}

export interface StreamInit {
  readonly name: string;
  readonly app: string;
  readonly mediaProvider: MediaProvider;
  readonly login: string;
  /** The publisher's own wish to be recorded (WCS client `record` flag), or null when it did not say. */
  readonly recordRequested: boolean | null;
  readonly source: StreamSource;
  /** The publisher's connection id ({sessionId}: WCS gives it in BASE64). */
  readonly connectionId?: string;
}

/** One publish of one stream name: a new mediaSessionId each time. */
export class Stream {
  readonly mediaSessionId: string = randomUUID();
  readonly name: string;
  readonly app: string;
  readonly mediaProvider: MediaProvider;
  readonly login: string;
  readonly recordRequested: boolean | null;
  readonly source: StreamSource;
  /** {sessionId}: the publisher's connection, BASE64-encoded as WCS shows it. */
  readonly sessionId: string;
  readonly publishedAt: number = Date.now();
  status: StreamStatus = 'PUBLISHING';
  /** True while a recording of this stream is in progress. */
  recording = false;
  readonly media: MediaInfo = { audioCodec: '', videoCodec: '', width: 0, height: 0 };

  constructor(init: StreamInit) {
    this.name = init.name;
    this.app = init.app;
    this.mediaProvider = init.mediaProvider;
    this.login = init.login;
    this.recordRequested = init.recordRequested;
    this.source = init.source;
    this.sessionId = Buffer.from(init.connectionId ?? this.mediaSessionId, 'utf8').toString('base64');
  }

  /** The WCS REST representation (/rest-api/stream/find_all). */
  toJSON(): StreamJson {
    return {
      mediaSessionId: this.mediaSessionId,
      name: this.name,
      published: this.status === 'PUBLISHING',
      status: this.status,
      mediaProvider: this.mediaProvider,
      record: this.recording,
      audioCodec: this.media.audioCodec,
      videoCodec: this.media.videoCodec,
      width: this.media.width,
      height: this.media.height,
      login: this.login,
      createdDate: this.publishedAt,
    };
  }
}

export interface StreamJson {
  mediaSessionId: string;
  name: string;
  published: boolean;
  status: StreamStatus;
  mediaProvider: MediaProvider;
  record: boolean;
  audioCodec: string;
  videoCodec: string;
  width: number;
  height: number;
  login: string;
  createdDate: number;
}
