import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/server-config.js';
import { HttpsCertificateError, HttpServer, type HttpsOptions } from './http/http-server.js';
import { CutterBusyError, Mp4Cutter } from './http/mp4-cutter.js';
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
import { HookQueue } from './recording/hook-queue.js';
import { loadPresets } from './recording/preset-file.js';
import type { Preset } from './recording/presets.js';
import { recoverInterruptedParts } from './recording/recovery.js';
import { MultiRecorderManager } from './recording/multi/multi-recorder-manager.js';
import { DEFAULT_VIDEO_ENCODING } from './recording/multi/participant-plan.js';
import { RecorderManager } from './recording/recorder-manager.js';
import { TEMP_PREFIX } from './recording/recorder.js';
import { WorkPool } from './recording/work-pool.js';
import { fallocateInsertRange, type InsertRange } from './recording/mp4/insert-range.js';
import { MediaProbe } from './records/media-probe.js';
import { CatalogService } from './catalog/catalog-service.js';
import { mp4DurationSeconds } from './catalog/mp4-duration.js';
import { RecordDeleter } from './catalog/record-deleter.js';
import { containerOf } from './records/containers.js';
import { Reconciler, type RecordFolder } from './catalog/reconciler.js';
import { RetentionService } from './catalog/retention-service.js';
import type { Catalog } from './catalog/catalog.js';
import { SqliteCatalog } from './catalog/sqlite-catalog.js';
import { sendBucketRecord } from './http/send-bucket-record.js';
import { contentDisposition } from './http/content-disposition.js';
import { CONTENT_TYPES } from './records/containers.js';
import type { BucketSender } from './http/cluster-reads.js';
import { openCatalog, resolveNodeId, resolvePublicUrl } from './cluster/open-catalog.js';
import type { ClusterLock } from './cluster/cluster-lock.js';
import { ClusterView } from './cluster/cluster-view.js';
import { NodeHeartbeat } from './cluster/heartbeat.js';
import { takeoverInterval } from './cluster/claim-takeover.js';
import { RecordLocator } from './cluster/record-locator.js';
import { ClusterReads } from './http/cluster-reads.js';
import { PeerProxy } from './http/peer-proxy.js';
import { RemoteParts } from './http/remote-parts.js';
import { RecordsControl } from './http/services/records-control.js';
import { recordNameOfCut } from './http/cut-range.js';
import { StreamRegistry } from './streams/stream-registry.js';
import { EventLoopMonitor } from './util/event-loop-monitor.js';
import { Metrics } from './http/metrics/metrics.js';
import { packageVersion } from './util/package-version.js';
import { deletedData, failedData, finishedData, multiFinishedData, startedData, streamData, uploadedData } from './events/event-payloads.js';
import { SqliteWebhookOutbox } from './events/sqlite-webhook-outbox.js';
import { WebhookService } from './events/webhook-service.js';
import { BucketBusyError, BucketPartSource, BucketRecords } from './storage/bucket-records.js';
import { BucketRetention } from './storage/bucket-retention.js';
import { S3Bucket, s3ErrorText } from './storage/s3-bucket.js';
import { SqliteUploadStore } from './storage/sqlite-upload-store.js';
import { UploadService } from './storage/upload-service.js';

/** The checkout (or installed package) this daemon runs from: dist/.. */
const INSTALL_DIR = path.resolve(import.meta.dirname, '..');

/** A full reconcile of the record folders this often (watchers see changes in between). */
const CATALOG_RESCAN_MS = 10 * 60_000;
/** How long start-up waits for the reconcile to probe new files before going on. */
const CATALOG_STARTUP_WAIT_MS = 10_000;

/** The disk guard's check interval while nothing records (issue 20: a check a second woke an idle daemon for nothing). */
const DISK_GUARD_IDLE_MS = 10_000;

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
  readonly catalog: Catalog;
  /** Cluster-wide tasks one node at a time (a PostgreSQL advisory lock on a shared catalog). */
  readonly clusterLock: ClusterLock;
  /** This node's heartbeat in a shared catalog; null on the embedded one. */
  readonly heartbeat: NodeHeartbeat | null;
  /** Where a record's bytes can be read from (this disk, another node, the bucket). */
  readonly locator: RecordLocator;
  /** Copies of other nodes' parts for time-range playback over several nodes; null on the embedded catalog. */
  readonly remoteParts: RemoteParts | null;
  readonly catalogService: CatalogService;
  readonly deleteHooks: HookRunner;
  readonly deleter: RecordDeleter;
  readonly retention: RetentionService;
  readonly http: HttpServer;
  readonly pool: WorkPool;
  /** Where every hook waits (on_record_hook_max_concurrent, on_record_hook_max_queued). */
  readonly hookQueue: HookQueue;
  /** The fallocate helper of insert-range finishes and recovery: its `sh` starts on first use, ends at close(). */
  readonly insertRange: InsertRange = fallocateInsertRange();
  /** Transcoding presets: built-in + conf/recording_presets.json. */
  readonly presets: readonly Preset[];
  readonly disk: DiskGuard;
  readonly eventLoop = new EventLoopMonitor();
  /** Prometheus metrics (/metrics) and the console's figures (metrics.snapshot()). */
  readonly metrics: Metrics;
  readonly #startedAt = Date.now();
  /** This node's name (node_id, default the host name): catalog rows, upload rows and event bodies. */
  readonly nodeId: string;
  /** Uploads to S3-compatible storage; null when record_upload_url is empty. */
  readonly uploads: UploadService | null = null;
  readonly bucketRecords: BucketRecords | null = null;
  readonly bucketRetention: BucketRetention | null = null;
  readonly webhooks: WebhookService;
  /** Event handlers still running (a checksum being computed): close() waits for them. */
  readonly #pendingEvents = new Set<Promise<void>>();
  #closing: Promise<void> | null = null;

  constructor(
    readonly config: ServerConfig,
    readonly binaries: FfmpegBinaries,
    private readonly log: Logger,
  ) {
    // one queue for every hook kind, apart from the finishing pool: a slow hook delays no file
    this.hookQueue = new HookQueue(config.onRecordHookMaxConcurrent, config.onRecordHookMaxQueued);
    const hookOptions = { queue: this.hookQueue, timeoutMs: config.onRecordHookTimeout * 1000 };
    this.hooks = new HookRunner(config.onRecordHookScriptAbs, config.home, log.child({ component: 'hook' }), hookOptions);
    this.presets = loadPresets(path.join(config.home, 'conf', 'recording_presets.json'), log.child({ component: 'presets' }));
    this.pool = new WorkPool(config.fileRecorderThreadPoolMaxSize);
    // every second while something records; with nothing recording, every DISK_GUARD_IDLE_MS (a recording start checks for itself)
    this.disk = new DiskGuard([...new Set([config.recordDirAbs, config.recordTmpDirAbs, config.multiRecordDirAbs])], config.fileRecorderMinSpace, statfsProbe, 1000, {
      busy: () => this.recorders.inProgress().length > 0 || this.multi.activeCount > 0,
      idleIntervalMs: DISK_GUARD_IDLE_MS,
    });
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
          insertRange: config.mp4FinishInsertRange,
        },
        insertRange: this.insertRange,
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
      { transcodeMaxConcurrent: config.recordTranscodeMaxConcurrent },
    );
    // the shipped hook finds tools/offline_mixer_tool.sh through WCS_RECORDER_DIR when WCS_HOME has no tools/
    this.multiHooks = new HookRunner(config.onMultipleRecordHookScriptAbs, config.home, log.child({ component: 'multi-hook' }), {
      ...hookOptions,
      env: { WCS_RECORDER_DIR: INSTALL_DIR },
    });
    this.multi = new MultiRecorderManager(
      this.registry,
      {
        ffmpeg: binaries.ffmpeg,
        audio: { sampleRate: config.recordAudioCodecSampleRate, channels: config.recordAudioCodecChannels, fdkAacBitrateMode: config.recordFdkAacBitrateMode },
        stopTimeoutMs: config.recordStopTimeout * 1000,
        naming: { template: config.streamRecordPolicyTemplate, encoding: config.encodeRecordName, exclude: config.excludeRecordNameCharacters },
        dir: config.multiRecordDirAbs,
        video: { ...DEFAULT_VIDEO_ENCODING, preset: config.multiRecorderTranscodePreset },
        maxTranscodedParticipants: config.multiRecorderMaxTranscodedParticipants,
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
        poisonSlabs: process.env['WCS_SLAB_POISON'] === '1',
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
        remoteSource: async (name) => {
          if (!this.bucketRecords) return null;
          try {
            return await this.bucketRecords.localCopy(name);
          } catch (err) {
            if (err instanceof BucketBusyError) throw new CutterBusyError(err.message);
            throw err;
          }
        },
      },
      this.probe,
      log.child({ component: 'cutter' }),
    );
    const nodeId = resolveNodeId(config.nodeId);
    const publicUrl = resolvePublicUrl(config.nodePublicUrl, config.ip, config.httpPort);
    const opened = openCatalog({ catalogUrl: config.catalogUrl, catalogPathAbs: config.catalogPathAbs, nodeId });
    this.catalog = opened.catalog;
    this.clusterLock = opened.lock;
    const nodeTimeoutMs = config.clusterNodeTimeout * 1000;
    this.nodeId = nodeId;
    // claims of a node that died are taken over on a shared catalog (the embedded one has one node)
    const leaseMs = config.clusterClaimLease * 1000;
    const takeover = opened.queues ? { nodeTimeoutMs, leaseMs, intervalMs: takeoverInterval(nodeTimeoutMs, leaseMs) } : null;
    // the upload queue and webhook outbox: in the shared database, else in the embedded catalog's SQLite file
    const sqliteDb = (): SqliteCatalog['database'] => {
      if (!(this.catalog instanceof SqliteCatalog)) throw new Error('queue stores: neither a shared nor an embedded catalog');
      return this.catalog.database;
    };
    this.webhooks = new WebhookService(
      opened.queues?.outbox ?? new SqliteWebhookOutbox(sqliteDb()),
      {
        urls: config.recordWebhookUrl,
        secret: config.recordWebhookSecret,
        timeoutMs: config.recordWebhookTimeout * 1000,
        retryMinMs: config.recordWebhookRetryMinDelay * 1000,
        retryMaxMs: config.recordWebhookRetryMaxDelay * 1000,
        maxAttempts: config.recordWebhookMaxAttempts,
        maxAgeMs: config.recordWebhookMaxAge * 1000,
        concurrency: 4,
        pollMs: 1000,
        maxPending: 100_000,
        node: this.nodeId,
        version: packageVersion(),
        takeover,
      },
      log.child({ component: 'webhook' }),
    );
    const target = config.recordUploadUrl;
    if (target !== null) {
      const uploadLog = log.child({ component: 'upload' });
      // the SDK's multi-line warning on stderr becomes one log line (package-lock.json pins SDK versions that run on Node 20)
      if (Number(process.versions.node.split('.')[0]) < 22 && process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
        process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
        uploadLog.info({ node: process.version }, 'AWS SDK versions published from January 2027 need Node 22; the pinned ones run on this Node');
      }
      const store = opened.queues?.uploads ?? new SqliteUploadStore(sqliteDb());
      const bucketOptions = {
        bucket: target.bucket,
        endpoint: config.recordUploadEndpoint,
        region: config.recordUploadRegion || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
        forcePathStyle: config.recordUploadForcePathStyle,
        partSize: config.recordUploadPartSize,
        partConcurrency: 2,
      };
      this.uploads = new UploadService(
        store,
        new S3Bucket(bucketOptions),
        this.catalog,
        {
          node: this.nodeId,
          target,
          concurrency: config.recordUploadConcurrency,
          partSize: config.recordUploadPartSize,
          deleteLocal: config.recordUploadDeleteLocal,
          verify: config.recordUploadVerify,
          retryMinMs: config.recordUploadRetryMinDelay * 1000,
          retryMaxMs: config.recordUploadRetryMaxDelay * 1000,
          maxAttempts: config.recordUploadMaxAttempts,
          pollMs: 1000,
          takeover,
        },
        uploadLog,
      );
      // reads (downloads, cuts, playback) and bucket retention have a client of their own: closing the uploader never cuts a download
      const readBucket = new S3Bucket(bucketOptions);
      this.bucketRecords = new BucketRecords(
        store,
        readBucket,
        { cacheDir: path.join(config.mp4CutterDirAbs, '.bucket'), cacheMaxBytes: config.recordUploadCacheMaxSize, minKeepMs: 60_000 },
        uploadLog,
      );
      this.bucketRetention = new BucketRetention(
        store,
        readBucket,
        this.catalog,
        this.clusterLock,
        { maxAgeMs: config.recordUploadRetentionMaxAge * 1000, maxSizeBytes: config.recordUploadRetentionMaxSize },
        config.recordUploadRetentionCheckInterval * 1000,
        (row, reason, recordDeleted) => {
          void this.bucketRecords?.forget(row.fileName);
          this.webhooks.emit('record.deleted', deletedData({ fileName: row.fileName, streamName: null, mediaSessionId: null }, reason, { local: false, bucket: true, recordDeleted }));
        },
        log.child({ component: 'bucket-retention' }),
      );
      this.uploads.on('uploaded', (row, _digest, seconds) => this.webhooks.emit('record.uploaded', uploadedData(row, seconds)));
    }
    const bucketRecordsForLocator = this.bucketRecords;
    this.locator = new RecordLocator(
      { selfId: nodeId, nodeTimeoutMs },
      opened.nodes,
      bucketRecordsForLocator === null ? null : { keyOf: async (record) => (await bucketRecordsForLocator.inBucket(record.fileName))?.key ?? null },
    );
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
    // something records: the disk guard checks every second again
    this.recorders.on('partStarted', () => this.disk.wake());
    this.multi.on('started', () => this.disk.wake());
    this.recorders.on('partFailed', (tmpFile) => this.catalogService.partFailed(tmpFile));
    this.recorders.on('recorded', (record) => this.catalogService.recorded(record));
    this.multi.on('started', (uri, workDir, startTimeMillis) => this.catalogService.multiStarted(uri, workDir, startTimeMillis));
    this.multi.on('recorded', (info) => this.catalogService.multiRecorded(info));
    this.#wireEvents();
    this.multi.on('empty', (uri) => this.catalogService.multiEmpty(uri));
    this.deleteHooks = new HookRunner(config.onRecordDeleteHookScriptAbs, config.home, log.child({ component: 'delete-hook' }), hookOptions);
    const bucketRecords = this.bucketRecords;
    this.deleter = new RecordDeleter(
      this.catalog,
      config.onRecordDeleteHookScriptAbs === null ? null : this.deleteHooks,
      (fileName) => this.recorders.inProgress().some((r) => r.fileName === fileName),
      log.child({ component: 'retention' }),
      bucketRecords === null
        ? null
        : {
            has: async (fileName) => (await bucketRecords.inBucket(fileName)) !== null,
            remove: async (fileName, reason) => {
              const row = await bucketRecords.inBucket(fileName);
              if (row === null) return;
              try {
                await bucketRecords.bucket.delete(row.key);
                await bucketRecords.store.markRemoteDeleted(fileName, Date.now());
                await bucketRecords.forget(fileName);
                log.info({ file: fileName, key: row.key, reason }, 'Bucket copy deleted with its record');
              } catch (err) {
                // the row stays uploaded: bucket retention deletes the copy later
                log.warn({ file: fileName, key: row.key, err: s3ErrorText(err) }, 'Bucket copy of a deleted record could not be deleted now');
              }
            },
          },
      (row, reason, where) => this.webhooks.emit('record.deleted', deletedData(row, reason, where)),
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
    const records = new RecordsControl(this.catalog, this.catalogService, this.deleter, config.recordDirAbs, this.uploads?.store ?? null);
    const streamControl = new StreamControl(this.registry, this.recorders, log.child({ component: 'rest' }));
    const clusterLog = log.child({ component: 'cluster', nodeId });
    const selfBeat = () => ({
      nodeId,
      publicUrl,
      startedMs: this.#startedAt,
      version: packageVersion(),
      streams: streamControl.find({}).map((s) => s.toJSON() as unknown as Record<string, unknown>),
    });
    this.heartbeat = opened.nodes
      ? new NodeHeartbeat(opened.nodes, { intervalMs: config.clusterHeartbeatInterval * 1000, beat: selfBeat }, clusterLog)
      : null;
    // copies of other nodes' parts for ranges over several nodes, beside the playback answers
    this.remoteParts = opened.nodes
      ? new RemoteParts(
          {
            cacheDir: path.join(config.mp4CutterDirAbs, '.cluster'),
            maxBytes: config.mp4CutterCacheMaxSize,
            minKeepMs: PLAYBACK_TIMEOUT_MS,
            selfId: nodeId,
            timeoutMs: config.clusterProxyTimeout * 1000,
          },
          clusterLog,
        )
      : null;
    const clusterReads = opened.nodes
      ? new ClusterReads(
          this.catalog,
          this.locator,
          new PeerProxy({ selfId: nodeId, timeoutMs: config.clusterProxyTimeout * 1000, maxConcurrent: config.clusterProxyMaxConcurrent }, clusterLog),
          clusterLog,
          this.remoteParts,
          this.#bucketSender(),
        )
      : null;
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
        maxConnections: config.httpMaxConnections,
        keepAliveTimeoutSeconds: config.httpKeepAliveTimeout,
      },
      {
        whip: { service: this.webrtc, token: config.whipToken },
        ...(config.metricsEnabled ? { metrics: { source: this.metrics, token: config.metricsToken } } : {}),
        streams: streamControl,
        cluster: { view: new ClusterView(opened.nodes, selfBeat, nodeTimeoutMs), reads: clusterReads },
        recording: new RecordingControl(this.registry, this.recorders, records, log.child({ component: 'rest' }), this.presets),
        records,
        rtsp: new RtspControl(this.rtsp, this.recorders, log.child({ component: 'rest' })),
        cutter: this.cutter,
        playback: { parts: this.bucketRecords ? new BucketPartSource(this.catalog, this.bucketRecords, opened.nodes ? nodeId : null) : this.catalog, stitcher: this.playback },
        ...(this.bucketRecords ? { bucketRecords: this.bucketRecords } : {}),
        storage: { uploads: this.uploads?.store ?? null, outbox: this.webhooks.enabled ? this.webhooks.outbox : null },
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
              rtmpSlabs: this.rtmp.slabStats,
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

  /**
   * Issue 19: what the parts report becomes webhook events, and every
   * finished record (and part) is queued for upload once its catalog row is
   * written.
   */
  #wireEvents(): void {
    const hooks = this.webhooks;
    const track = (p: Promise<void>): void => {
      const t = p.catch((err: Error) => this.log.error({ err: err.message }, 'Record event handling failed')).finally(() => this.#pendingEvents.delete(t));
      this.#pendingEvents.add(t);
    };
    const checksum = async (file: string): Promise<string | null> => {
      if (!hooks.enabled) return null;
      const hash = crypto.createHash('sha256');
      try {
        for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
        return hash.digest('hex');
      } catch {
        return null;
      }
    };
    this.registry.on('publish', (stream) => hooks.emit('stream.published', streamData(stream)));
    this.registry.on('unpublish', (stream) => hooks.emit('stream.unpublished', streamData(stream)));
    this.recorders.on('partStarted', (part) => hooks.emit('recording.started', startedData(part)));
    this.recorders.on('partFailed', (tmpFile) => hooks.emit('recording.failed', failedData('no_usable_file', tmpFile)));
    this.recorders.on('startFailed', (reason) => hooks.emit('recording.failed', failedData(reason, null)));
    this.recorders.on('recorded', (record) =>
      track(
        (async () => {
          await this.catalogService.flush();
          // queued first: the checksum of the webhook takes a read of the file
          await this.uploads?.enqueue({ fileName: record.fileName, dir: path.dirname(record.path), size: record.size, startMs: record.startTimeMillis });
          hooks.emit('recording.finished', finishedData(record, await checksum(record.path)));
        })(),
      ),
    );
    this.multi.on('recorded', (info) =>
      track(
        (async () => {
          await this.catalogService.flush();
          const st = await fs.promises.stat(info.path).catch(() => null);
          if (st === null) return;
          await this.uploads?.enqueue({ fileName: info.fileName, dir: path.dirname(info.path), size: st.size, startMs: st.mtimeMs - info.durationMs });
          hooks.emit('recording.finished', multiFinishedData(info, st.size, await checksum(info.path), st.mtimeMs));
        })(),
      ),
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
        eventLoopWindow: () => this.eventLoop.readWindow(),
        recordingStates: () => this.recorders.inProgress().map((r) => r.state),
        hookQueue: () => ({ running: this.hookQueue.running, queued: this.hookQueue.queued, dropped: this.hookQueue.dropped }),
        uploadCounts: async () => (this.uploads ? this.uploads.store.counts() : null),
        uploadFailures: () => this.uploads?.failures ?? { retry: 0, failed: 0 },
        webhookCounts: async () => (this.webhooks.enabled ? this.webhooks.outbox.counts() : null),
        webhookTotals: () => ({ dead: this.webhooks.dead, dropped: this.webhooks.dropped }),
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

  /** Another node's record that lives only in the bucket, read from there (record_upload_url); null = this node reads no bucket. */
  #bucketSender(): BucketSender | null {
    const bucketRecords = this.bucketRecords;
    if (bucketRecords === null) return null;
    const disposition = this.config.recordResponseContentDispositionHeaderValue;
    return async (req, reply, record, key) => {
      const container = containerOf(record.fileName);
      const type = container === null ? 'application/octet-stream' : CONTENT_TYPES[container];
      await sendBucketRecord(req, reply, bucketRecords.bucket, key, record.size, type, contentDisposition(disposition, record.fileName));
    };
  }

  async start(): Promise<void> {
    for (const dir of [this.config.recordDirAbs, this.config.recordTmpDirAbs, this.config.multiRecordDirAbs, this.config.logsDirAbs]) {
      fs.mkdirSync(dir, { recursive: true });
    }
    this.eventLoop.start();
    this.recorders.start();
    // the catalog first: recovery reports the records it finishes to it
    await this.catalog.ready();
    await this.catalogService.start();
    await this.#recover();
    await this.catalogService.settleInterrupted();
    await this.webhooks.start();
    await this.bucketRecords?.start();
    await this.uploads?.start();
    this.bucketRetention?.start();
    this.disk.start();
    await this.disk.check();
    try {
      await this.cutter.start();
      await this.playback.start();
      await this.remoteParts?.start();
      this.retention.start();
      await this.webrtc.start();
      await this.http.start();
      await this.rtmp.start();
      this.rtsp.start();
      // listed in the cluster once it serves: the other nodes may proxy to it from then on
      await this.heartbeat?.start();
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
      mp4: { moovFirst: c.mp4ContainerMoovFirst, reserveSpace: c.mp4ContainerMoovFirstReserveSpace, reservedBytes: c.mp4ContainerMoovReservedSpaceSize * 1024, insertRange: c.mp4FinishInsertRange },
      formats: c.recordH264ToTs ? { ...c.recordFormats, h264: 'ts' } : c.recordFormats,
      naming: { template: c.streamRecordPolicyTemplate, encoding: c.encodeRecordName, exclude: c.excludeRecordNameCharacters },
      timeoutMs: c.recordStopTimeout * 4000,
      insertRange: this.insertRange,
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
    // the fallocate helper of insert-range finishes (issue 20): every record is finished now
    await this.insertRange.close?.();
    await Promise.all([this.rtmp.close(), this.rtsp.close()]);
    await this.multiHooks.close(5000);
    await this.http.close();
    await this.hooks.close(5000);
    await this.deleter.drain();
    await this.deleteHooks.close(5000);
    await Promise.allSettled([...this.#pendingEvents]);
    await this.bucketRetention?.close();
    await this.uploads?.close();
    this.bucketRecords?.bucket.close();
    await this.webhooks.close();
    await this.heartbeat?.close();
    await this.catalogService.close();
    this.eventLoop.close();
  }
}
