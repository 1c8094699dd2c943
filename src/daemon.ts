import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/server-config.js';
import { HttpsCertificateError, HttpServer, type HttpsOptions } from './http/http-server.js';
import { Mp4Cutter } from './http/mp4-cutter.js';
import { PlaybackStitcher } from './http/playback/playback-stitcher.js';
import { RecordingControl } from './http/services/recording-control.js';
import { StreamControl } from './http/services/stream-control.js';
import { RtmpIngest } from './ingest/rtmp/rtmp-ingest.js';
import { RtspAgentManager } from './ingest/rtsp/rtsp-agent-manager.js';
import { RtspControl } from './http/services/rtsp-control.js';
import { createEngine } from './ingest/webrtc/create-engine.js';
import { PortPool } from './ingest/webrtc/port-pool.js';
import { WebRtcIngest } from './ingest/webrtc/webrtc-ingest.js';
import type { FfmpegBinaries } from './recording/ffmpeg/locate-ffmpeg.js';
import { DiskGuard, statfsProbe } from './recording/disk-guard.js';
import { HookRunner } from './recording/hook-runner.js';
import { recoverInterruptedParts } from './recording/recovery.js';
import { MultiRecorderManager } from './recording/multi/multi-recorder-manager.js';
import { RecorderManager } from './recording/recorder-manager.js';
import { TEMP_PREFIX } from './recording/recorder.js';
import { WorkPool } from './recording/work-pool.js';
import { MediaProbe } from './records/media-probe.js';
import { CatalogService } from './catalog/catalog-service.js';
import { mp4DurationSeconds } from './catalog/mp4-duration.js';
import { RecordDeleter } from './catalog/record-deleter.js';
import { containerOf } from './records/containers.js';
import { Reconciler, type RecordFolder } from './catalog/reconciler.js';
import { RetentionService } from './catalog/retention-service.js';
import { SqliteCatalog } from './catalog/sqlite-catalog.js';
import { RecordsControl } from './http/services/records-control.js';
import { recordNameOfCut } from './http/cut-range.js';
import { StreamRegistry } from './streams/stream-registry.js';
import { EventLoopMonitor } from './util/event-loop-monitor.js';
import { Metrics } from './http/metrics/metrics.js';
import { packageVersion } from './util/package-version.js';

/** The checkout (or installed package) this daemon runs from: dist/.. */
const INSTALL_DIR = path.resolve(import.meta.dirname, '..');

/** A full reconcile of the record folders this often (watchers see changes in between). */
const CATALOG_RESCAN_MS = 10 * 60_000;
/** How long start-up waits for the reconcile to probe new files before going on. */
const CATALOG_STARTUP_WAIT_MS = 10_000;

/** How long one ?start=&end= cut may take before it is stopped (a 10-minute record takes about 0.1 s). */
const CUT_TIMEOUT_MS = 60_000;
/** How long one time-range playback answer may take to join (an hour of 720p from 60 parts: a few seconds). */
const PLAYBACK_TIMEOUT_MS = 300_000;

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
  readonly multi: MultiRecorderManager;
  readonly multiHooks: HookRunner;
  readonly rtmp: RtmpIngest;
  readonly rtsp: RtspAgentManager;
  readonly webrtc: WebRtcIngest;
  readonly probe: MediaProbe;
  readonly cutter: Mp4Cutter;
  readonly playback: PlaybackStitcher;
  readonly catalog: SqliteCatalog;
  readonly catalogService: CatalogService;
  readonly deleteHooks: HookRunner;
  readonly deleter: RecordDeleter;
  readonly retention: RetentionService;
  readonly http: HttpServer;
  readonly pool: WorkPool;
  readonly disk: DiskGuard;
  readonly eventLoop = new EventLoopMonitor();
  /** Prometheus metrics (/metrics) and the console's figures (metrics.snapshot()). */
  readonly metrics: Metrics;
  readonly #startedAt = Date.now();
  #closing: Promise<void> | null = null;

  constructor(
    readonly config: ServerConfig,
    readonly binaries: FfmpegBinaries,
    private readonly log: Logger,
  ) {
    this.hooks = new HookRunner(config.onRecordHookScriptAbs, config.home, log.child({ component: 'hook' }));
    this.pool = new WorkPool(config.fileRecorderThreadPoolMaxSize);
    this.disk = new DiskGuard([...new Set([config.recordDirAbs, config.recordTmpDirAbs, config.multiRecordDirAbs])], config.fileRecorderMinSpace);
    this.recorders = new RecorderManager(
      this.registry,
      {
        ffmpeg: binaries.ffmpeg,
        formats: config.recordH264ToTs ? { ...config.recordFormats, h264: 'ts' } : config.recordFormats,
        naming: {
          template: config.streamRecordPolicyTemplate,
          encoding: config.encodeRecordName,
          exclude: config.excludeRecordNameCharacters,
        },
        rotation: config.recordRotation,
        indexParts: config.recordRotationIndexEnabled,
        tmpDir: config.recordTmpDirAbs,
        recordDir: config.recordDirAbs,
        stopTimeoutMs: config.recordStopTimeout * 1000,
        audio: {
          sampleRate: config.recordAudioCodecSampleRate,
          channels: config.recordAudioCodecChannels,
          fdkAacBitrateMode: config.recordFdkAacBitrateMode,
        },
        matroska: { clusterDurationLimitMs: config.webmClusterDurationLimit, clusterSizeLimit: config.webmClusterSizeLimit },
        mp4: {
          moovFirst: config.mp4ContainerMoovFirst,
          reserveSpace: config.mp4ContainerMoovFirstReserveSpace,
          reservedBytes: config.mp4ContainerMoovReservedSpaceSize * 1024,
        },
        muxer: config.recordMuxer,
        maxPendingInput: 64 * 1024 * 1024,
        limits: {
          errorIntervalMs: config.fileRecorderErrorInterval * 60_000,
          maxErrors: config.fileRecorderMaxErrorsPerInterval,
          maxLengthMs: config.recordMaxLength * 1000,
          idleTimeoutMs: config.recordIdleTimeout * 1000,
        },
      },
      {
        recordStreams: config.recordStreams,
        recordFlashPublishedStreams: config.recordFlashPublishedStreams,
        recordRtspStreams: config.recordRtspStreams,
      },
      this.hooks,
      this.pool,
      this.disk,
      log.child({ component: 'recorder' }),
    );
    // the shipped hook finds tools/offline_mixer_tool.sh through WCS_RECORDER_DIR when WCS_HOME has no tools/
    this.multiHooks = new HookRunner(config.onMultipleRecordHookScriptAbs, config.home, log.child({ component: 'multi-hook' }), {
      WCS_RECORDER_DIR: INSTALL_DIR,
    });
    this.multi = new MultiRecorderManager(
      this.registry,
      {
        ffmpeg: binaries.ffmpeg,
        audio: { sampleRate: config.recordAudioCodecSampleRate, channels: config.recordAudioCodecChannels, fdkAacBitrateMode: config.recordFdkAacBitrateMode },
        stopTimeoutMs: config.recordStopTimeout * 1000,
        naming: { template: config.streamRecordPolicyTemplate, encoding: config.encodeRecordName, exclude: config.excludeRecordNameCharacters },
        dir: config.multiRecordDirAbs,
      },
      this.multiHooks,
      this.disk,
      log.child({ component: 'multi-recorder' }),
    );
    this.rtmp = new RtmpIngest(
      {
        port: config.rtmpPort,
        bind: config.bindAddress,
        publishGraceMs: config.rtmpPublishGraceMs,
        idleTimeoutSeconds: config.rtmpPublisherIdleTimeout,
        audioBufferMax: config.recordAudioBufferMaxSize,
        publishTimeoutSeconds: config.rtmpPublishTimeout,
        maxConnections: config.rtmpMaxConnections,
        maxConnectionsPerIp: config.rtmpMaxConnectionsPerIp,
        maxMessageSize: config.rtmpMaxMessageSize,
        playEnabled: config.rtmpPlayEnabled,
        playToken: config.recordsAccessToken,
      },
      this.registry,
      log.child({ component: 'rtmp' }),
    );
    this.rtsp = new RtspAgentManager(
      {
        ffmpeg: binaries.ffmpeg,
        transport: config.rtspTransport,
        timeoutSeconds: config.rtspTimeout,
        reconnectMinDelayMs: config.rtspReconnectMinDelay,
        reconnectMaxDelayMs: config.rtspReconnectMaxDelay,
        audioBufferMax: config.recordAudioBufferMaxSize,
        pullAtStartup: config.rtspPullStreams,
        maxPulls: config.rtspMaxPulls,
      },
      this.registry,
      log.child({ component: 'rtsp' }),
    );
    {
      // ICE sockets take the lower half of the media ports, the loopback RTP feeds the upper half
      const from = config.mediaPortFrom;
      const to = config.mediaPortTo;
      const middle = from + Math.floor((to - from + 1) / 2);
      const webrtcLog = log.child({ component: 'webrtc' });
      const engine = createEngine(
        config.webrtcEngine,
        { announcedIp: config.ip, bindIp: config.bindAddress, portRange: [from, middle - 1], maxBitrate: config.webrtcCcMaxBitrate },
        { workers: config.webrtcWorkers === 0 ? os.availableParallelism() : config.webrtcWorkers, cacheDir: config.mediasoupWorkerCache },
        webrtcLog,
      );
      this.webrtc = new WebRtcIngest(
        { ffmpeg: binaries.ffmpeg, idleTimeoutSeconds: config.webrtcPublisherIdleTimeout },
        engine,
        new PortPool(middle, to),
        this.registry,
        webrtcLog,
      );
    }
    this.probe = new MediaProbe(binaries.ffprobe, log.child({ component: 'probe' }));
    this.cutter = new Mp4Cutter(
      {
        ffmpeg: binaries.ffmpeg,
        recordDir: config.recordDirAbs,
        cutterDir: config.mp4CutterDirAbs,
        timeoutMs: CUT_TIMEOUT_MS,
        maxConcurrent: config.mp4CutterMaxConcurrent,
        maxQueued: config.mp4CutterMaxQueued,
        // cuts and the playback answers ffmpeg joined share mp4_cutter_cache_max_size
        cacheMaxBytes: config.mp4CutterCacheMaxSize,
        otherCacheBytes: () => this.playback.cachedBytes,
        minFreeBytes: config.fileRecorderMinSpace,
        freeSpace: statfsProbe,
        onCut: (fileName, dir, source, seconds) => {
          this.catalogService.cutMade(fileName, dir, source);
          this.metrics.cutMade(seconds);
        },
      },
      this.probe,
      log.child({ component: 'cutter' }),
    );
    this.catalog = SqliteCatalog.open(config.catalogPathAbs);
    const folders: RecordFolder[] = [{ dir: config.recordDirAbs, provider: 'file' }];
    if (config.multiRecordDirAbs !== config.recordDirAbs) folders.push({ dir: config.multiRecordDirAbs, provider: 'multi' });
    const catalogLog = log.child({ component: 'catalog' });
    this.catalogService = new CatalogService(
      this.catalog,
      new Reconciler(
        this.catalog,
        {
          folders,
          cutDir: folders.some((f) => f.dir === config.mp4CutterDirAbs) ? null : config.mp4CutterDirAbs,
          isCut: (fileName, comment) => this.cutter.isCut(fileName, comment),
          sourceOfCut: recordNameOfCut,
          probe: (file) => this.probe.probe(file),
          quickDuration: (file) => (containerOf(file) === 'mp4' ? mp4DurationSeconds(file) : null),
          concurrency: 2,
        },
        catalogLog,
      ),
      {
        recordDir: config.recordDirAbs,
        journalFile: path.join(config.recordDirAbs, '.wcs-records.jsonl'),
        folders,
        cutDir: config.mp4CutterDirAbs,
        rescanIntervalMs: CATALOG_RESCAN_MS,
        startupWaitMs: CATALOG_STARTUP_WAIT_MS,
        settleMs: 500,
      },
      catalogLog,
    );
    // answers of /client/streams/<name>.mp4?from=&to=, in a folder of their own under mp4_cutter_dir
    this.playback = new PlaybackStitcher(
      {
        ffmpeg: binaries.ffmpeg,
        cacheDir: path.join(config.mp4CutterDirAbs, '.playback'),
        timeoutMs: PLAYBACK_TIMEOUT_MS,
        maxConcurrent: 2,
        maxQueued: 8,
        cacheMaxBytes: config.mp4CutterCacheMaxSize,
        otherCacheBytes: () => this.cutter.cachedBytes,
      },
      log.child({ component: 'playback' }),
    );
    this.recorders.on('partStarted', (part) => this.catalogService.partStarted(part));
    this.recorders.on('partFailed', (tmpFile) => this.catalogService.partFailed(tmpFile));
    this.recorders.on('recorded', (record) => this.catalogService.recorded(record));
    this.multi.on('started', (uri, workDir, startTimeMillis) => this.catalogService.multiStarted(uri, workDir, startTimeMillis));
    this.multi.on('recorded', (info) => this.catalogService.multiRecorded(info));
    this.multi.on('empty', (uri) => this.catalogService.multiEmpty(uri));
    this.deleteHooks = new HookRunner(config.onRecordDeleteHookScriptAbs, config.home, log.child({ component: 'delete-hook' }));
    this.deleter = new RecordDeleter(
      this.catalog,
      config.onRecordDeleteHookScriptAbs === null ? null : this.deleteHooks,
      (fileName) => this.recorders.inProgress().some((r) => r.fileName === fileName),
      log.child({ component: 'retention' }),
    );
    this.retention = new RetentionService(
      this.catalog,
      this.deleter,
      {
        rules: {
          maxAgeMs: config.recordRetentionMaxAge * 1000,
          maxSizeBytes: config.recordRetentionMaxSize,
          minFreeBytes: config.recordRetentionMinFreeSpace,
        },
        intervalMs: config.recordRetentionCheckInterval * 1000,
        freeSpace: async () => {
          const s = await fs.promises.statfs(config.recordDirAbs);
          return s.bavail * s.bsize;
        },
      },
      log.child({ component: 'retention' }),
    );
    // retention acts before file_recorder_min_space stops recordings: a low disk triggers a pass at once
    this.disk.on('low', () => void this.retention.runNow());
    this.metrics = this.#createMetrics();
    const records = new RecordsControl(this.catalog, this.catalogService, this.deleter, config.recordDirAbs);
    this.http = new HttpServer(
      {
        port: config.httpPort,
        bind: config.bindAddress,
        recordDir: config.recordDirAbs,
        contentDisposition: config.recordResponseContentDispositionHeaderValue,
        restApiToken: config.restApiToken,
        recordsAccessToken: config.recordsAccessToken,
        publicBaseUrl: config.recordPublicBaseUrl,
        https: readHttpsOptions(config),
        version: packageVersion(),
        webDir: path.join(INSTALL_DIR, 'src', 'web'),
        consoleEnabled: config.consoleEnabled,
        signedUrlTtlSeconds: config.recordsSignedUrlTtl,
      },
      {
        whip: { service: this.webrtc, token: config.whipToken },
        ...(config.metricsEnabled ? { metrics: { source: this.metrics, token: config.metricsToken } } : {}),
        streams: new StreamControl(this.registry, this.recorders, log.child({ component: 'rest' })),
        recording: new RecordingControl(this.registry, this.recorders, records, log.child({ component: 'rest' })),
        records,
        rtsp: new RtspControl(this.rtsp, this.recorders, log.child({ component: 'rest' })),
        cutter: this.cutter,
        playback: { parts: this.catalog, stitcher: this.playback },
        multi: this.multi,
        stats: {
          stats: (reset) => {
            const mem = process.memoryUsage();
            return {
              version: packageVersion(),
              uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
              streams: this.registry.all().length,
              recordings: this.recorders.inProgress().length,
              eventLoopDelay: this.eventLoop.read(reset),
              failedHooks: this.hooks.failed + this.multiHooks.failed,
              memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
            };
          },
          details: async () => {
            const folders = [
              { name: 'record_dir', path: config.recordDirAbs },
              { name: 'record_tmp_dir', path: config.recordTmpDirAbs },
              { name: 'multi_record_dir', path: config.multiRecordDirAbs },
            ];
            const disks = await Promise.all(
              folders.map(async (f) => {
                const s = await fs.promises.statfs(f.path).catch(() => null);
                return { ...f, freeBytes: s ? s.bavail * s.bsize : null, totalBytes: s ? s.blocks * s.bsize : null };
              }),
            );
            return {
              disks,
              retention: {
                maxAgeSeconds: config.recordRetentionMaxAge,
                maxSizeBytes: config.recordRetentionMaxSize,
                minFreeBytes: config.recordRetentionMinFreeSpace,
                checkIntervalSeconds: config.recordRetentionCheckInterval,
              },
              engines: { webrtc: this.webrtc.engine.name, recordMuxer: config.recordMuxer },
            };
          },
        },
        log,
      },
    );
  }

  /** The metrics read the parts on scrape, and count the events they emit. */
  #createMetrics(): Metrics {
    const c = this.config;
    const metrics = new Metrics(
      {
        streamProviders: () => this.registry.all().map((s) => s.mediaProvider),
        recordingsActive: () => this.recorders.inProgress().length,
        rtspPullStatuses: () => this.rtsp.all().map((p) => p.status),
        webrtcSessions: () => this.webrtc.sessionCount,
        diskDirs: [...new Set([c.recordDirAbs, c.recordTmpDirAbs, c.multiRecordDirAbs, c.mp4CutterDirAbs])],
        freeSpace: statfsProbe,
        eventLoop: () => this.eventLoop.read(false),
      },
      { processMetrics: c.metricsEnabled },
    );
    this.recorders.on('recorded', (record, origin) => {
      if (origin === 'recovered') metrics.recordRecovered();
      else metrics.recordFinished({ container: containerOf(record.fileName) ?? 'mp4', size: record.size, endTimeMillis: record.endTimeMillis });
    });
    this.recorders.on('partFailed', () => metrics.recordFailed('no_usable_file'));
    this.recorders.on('startFailed', (reason) => metrics.recordFailed(reason));
    this.hooks.on('done', (outcome, seconds) => metrics.hookRan('record', outcome, seconds));
    this.multiHooks.on('done', (outcome, seconds) => metrics.hookRan('multi', outcome, seconds));
    this.deleteHooks.on('done', (outcome, seconds) => metrics.hookRan('delete', outcome, seconds));
    this.retention.on('pass', (deleted) => metrics.retentionPass(deleted));
    return metrics;
  }

  async start(): Promise<void> {
    for (const dir of [this.config.recordDirAbs, this.config.recordTmpDirAbs, this.config.multiRecordDirAbs, this.config.logsDirAbs]) {
      fs.mkdirSync(dir, { recursive: true });
    }
    this.eventLoop.start();
    this.recorders.start();
    // the catalog first: recovery reports the records it finishes to it
    await this.catalogService.start();
    await this.#recover();
    await this.catalogService.settleInterrupted();
    this.disk.start();
    await this.disk.check();
    try {
      await this.cutter.start();
      await this.playback.start();
      this.retention.start();
      await this.webrtc.start();
      await this.http.start();
      await this.rtmp.start();
      this.rtsp.start();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Turns the parts a crash left in record_tmp_dir into records (with hooks) before taking publishes. */
  async #recover(): Promise<void> {
    const c = this.config;
    const records = await recoverInterruptedParts({
      tmpDir: c.recordTmpDirAbs,
      recordDir: c.recordDirAbs,
      ffmpeg: this.binaries.ffmpeg,
      ffprobe: this.binaries.ffprobe,
      mp4: { moovFirst: c.mp4ContainerMoovFirst, reserveSpace: c.mp4ContainerMoovFirstReserveSpace, reservedBytes: c.mp4ContainerMoovReservedSpaceSize * 1024 },
      formats: c.recordH264ToTs ? { ...c.recordFormats, h264: 'ts' } : c.recordFormats,
      naming: { template: c.streamRecordPolicyTemplate, encoding: c.encodeRecordName, exclude: c.excludeRecordNameCharacters },
      timeoutMs: c.recordStopTimeout * 4000,
      log: this.log.child({ component: 'recovery' }),
    });
    for (const record of records) this.recorders.adoptRecovered(record);
    if (records.length > 0) this.log.info({ count: records.length, files: records.map((r) => r.fileName) }, 'Recovered interrupted recordings');
    await this.multi.recoverInterrupted();
  }

  /** Finishes every open recording (within record_stop_timeout), then stops listening. */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.disk.close();
    await this.retention.close();
    // cuts are only a cache: stop them (and the ffprobes they may wait for) at once, then finish the recordings
    this.probe.close();
    await Promise.all([this.cutter.close(), this.playback.close()]);
    // WebRTC publishes end first: their feeds flush the last media into the recordings
    await this.webrtc.close();
    await Promise.all([this.recorders.close(), this.multi.close()]);
    await Promise.all([this.rtmp.close(), this.rtsp.close()]);
    await this.multiHooks.close(5000);
    await this.http.close();
    await this.hooks.close(5000);
    await this.deleter.drain();
    await this.deleteHooks.close(5000);
    await this.catalogService.close();
    this.eventLoop.close();
  }
}
