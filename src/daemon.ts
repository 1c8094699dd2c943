import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/server-config.js';
import { HttpsCertificateError, HttpServer, type HttpsOptions } from './http/http-server.js';
import { Mp4Cutter } from './http/mp4-cutter.js';
import { RecordingControl } from './http/services/recording-control.js';
import { StreamControl } from './http/services/stream-control.js';
import { RtmpIngest } from './ingest/rtmp/rtmp-ingest.js';
import type { FfmpegBinaries } from './recording/ffmpeg/locate-ffmpeg.js';
import { MP4 } from './recording/formats.js';
import { HookRunner } from './recording/hook-runner.js';
import { RecorderManager } from './recording/recorder-manager.js';
import { MediaProbe } from './records/media-probe.js';
import { RecordCatalog } from './records/record-catalog.js';
import { StreamRegistry } from './streams/stream-registry.js';
import { packageVersion } from './util/package-version.js';

/** How long one ?start=&end= cut may take before it is stopped (a 10-minute record takes about 0.1 s). */
const CUT_TIMEOUT_MS = 60_000;

function readHttpsOptions(config: ServerConfig): HttpsOptions | null {
  if (config.httpsPort === null || config.httpsCertAbs === null || config.httpsKeyAbs === null) return null;
  const read = (key: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new HttpsCertificateError(`Cannot read ${key} '${file}': ${(err as Error).message}`);
    }
  };
  return { port: config.httpsPort, cert: read('https.cert', config.httpsCertAbs), key: read('https.key', config.httpsKeyAbs) };
}

/**
 * All parts of one wcs-recorder, wired along the flow: ingest -> registry ->
 * recorders -> disk, with HTTP over registry and recorders. start() brings
 * them up in that order; close() finishes every recording first, then
 * closes the rest in reverse order.
 */
export class Daemon {
  readonly registry = new StreamRegistry();
  readonly hooks: HookRunner;
  readonly recorders: RecorderManager;
  readonly rtmp: RtmpIngest;
  readonly probe: MediaProbe;
  readonly cutter: Mp4Cutter;
  readonly catalog: RecordCatalog;
  readonly http: HttpServer;
  #closing: Promise<void> | null = null;

  constructor(
    readonly config: ServerConfig,
    readonly binaries: FfmpegBinaries,
    private readonly log: Logger,
  ) {
    this.hooks = new HookRunner(config.onRecordHookScriptAbs, config.home, log.child({ component: 'hook' }));
    this.recorders = new RecorderManager(
      this.registry,
      {
        ffmpeg: binaries.ffmpeg,
        format: MP4,
        template: config.streamRecordPolicyTemplate,
        tmpDir: config.recordTmpDirAbs,
        recordDir: config.recordDirAbs,
        stopTimeoutMs: config.recordStopTimeout * 1000,
        audioSampleRate: 44100,
        audioChannels: 2,
        maxPendingInput: 64 * 1024 * 1024,
      },
      { recordStreams: config.recordStreams, recordFlashPublishedStreams: config.recordFlashPublishedStreams },
      this.hooks,
      log.child({ component: 'recorder' }),
    );
    this.rtmp = new RtmpIngest(
      {
        port: config.rtmpPort,
        bind: config.bindAddress,
        publishGraceMs: config.rtmpPublishGraceMs,
        idleTimeoutSeconds: config.rtmpPublisherIdleTimeout,
      },
      this.registry,
      log.child({ component: 'rtmp' }),
    );
    this.probe = new MediaProbe(binaries.ffprobe, log.child({ component: 'probe' }));
    this.cutter = new Mp4Cutter(
      { ffmpeg: binaries.ffmpeg, recordDir: config.recordDirAbs, cutterDir: config.mp4CutterDirAbs, timeoutMs: CUT_TIMEOUT_MS },
      this.probe,
      log.child({ component: 'cutter' }),
    );
    this.catalog = new RecordCatalog(
      {
        recordDir: config.recordDirAbs,
        journalFile: path.join(config.recordDirAbs, '.wcs-records.jsonl'),
        isCut: (fileName, comment) => this.cutter.isCut(fileName, comment),
        isBeingWritten: (file) =>
          this.registry.all().some((s) => {
            const tmpFile = this.recorders.recorderOf(s.mediaSessionId)?.tmpFile;
            return tmpFile !== undefined && path.resolve(tmpFile) === file;
          }),
      },
      this.probe,
      log.child({ component: 'records' }),
    );
    this.recorders.on('recorded', (record) => this.catalog.add(record));
    this.http = new HttpServer(
      {
        port: config.httpPort,
        bind: config.bindAddress,
        recordDir: config.recordDirAbs,
        contentDisposition: config.recordResponseContentDispositionHeaderValue,
        restApiToken: config.restApiToken,
        recordsAccessToken: config.recordsAccessToken,
        https: readHttpsOptions(config),
        version: packageVersion(),
      },
      {
        streams: new StreamControl(this.registry, this.recorders, log.child({ component: 'rest' })),
        recording: new RecordingControl(this.registry, this.recorders, this.catalog, log.child({ component: 'rest' })),
        cutter: this.cutter,
        log,
      },
    );
  }

  async start(): Promise<void> {
    for (const dir of [this.config.recordDirAbs, this.config.recordTmpDirAbs, this.config.logsDirAbs]) {
      fs.mkdirSync(dir, { recursive: true });
    }
    this.recorders.start();
    try {
      await this.cutter.start();
      await this.catalog.start();
      await this.http.start();
      await this.rtmp.start();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Finishes every open recording (within record_stop_timeout), then stops listening. */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // cuts are only a cache: stop them (and the ffprobes they may wait for) at once, then finish the recordings
    this.probe.close();
    await this.cutter.close();
    await this.recorders.close();
    await this.rtmp.close();
    await this.http.close();
    await this.hooks.close(5000);
  }
}
