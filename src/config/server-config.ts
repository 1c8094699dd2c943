import path from 'node:path';
import {
  booleanValue,
  byteSizeValue,
  enumValue,
  integerValue,
  lengthSecondsValue,
  optionalPortValue,
  portValue,
  stringValue,
  templateValue,
  ValueError,
  type ValueParser,
} from './values.js';
import { endpointValue, uploadUrlValue, webhookUrlsValue, type UploadVerify } from '../storage/upload-values.js';
import { retentionDurationValue, retentionIntervalValue, retentionSizeValue } from '../catalog/retention-values.js';
import { ENGINE_SETTINGS } from '../ingest/webrtc/engine-choice.js';
import { parseRecordFormats, RecordFormatsError, type RecordFormats } from '../recording/formats.js';
import { parseNameEncoding, type NameEncoding } from '../recording/naming.js';
import { parseRotation, ROTATION_ALLOWED, RotationError, type Rotation } from '../recording/rotation.js';
import { LOG_LEVELS } from '../util/log-output.js';
import { X264_PRESETS } from '../recording/multi/participant-plan.js';
import { maskCredentials, parsePullList, RTSP_TRANSPORTS, RtspUriError, type PullEntry } from '../ingest/rtsp/rtsp-uri.js';

const pullListValue: ValueParser<PullEntry[]> = (raw) => {
  try {
    const entries = parsePullList(raw);
    const names = new Set<string>();
    const keys = new Set<string>();
    for (const e of entries) {
      if (e.name !== null && names.has(e.name)) throw new RtspUriError(`stream name '${e.name}' is given twice`);
      if (keys.has(e.uri.key)) throw new RtspUriError(`camera ${e.uri.masked} is given twice`);
      if (e.name !== null) names.add(e.name);
      keys.add(e.uri.key);
    }
    return entries;
  } catch (err) {
    if (err instanceof RtspUriError) throw new ValueError(`comma-separated name=rtsp://... entries (${err.message})`);
    throw err;
  }
};

const recordFormatsValue: ValueParser<RecordFormats> = (raw) => {
  try {
    return parseRecordFormats(raw, false);
  } catch (err) {
    if (err instanceof RecordFormatsError) throw new ValueError(`a comma-separated list of h264-mp4, h264-mkv, h264-ts, vp8-webm, vp8-mkv (${err.message})`);
    throw err;
  }
};

const rotationValue: ValueParser<Rotation> = (raw) => {
  try {
    return parseRotation(raw);
  } catch (err) {
    if (err instanceof RotationError) throw new ValueError(ROTATION_ALLOWED);
    throw err;
  }
};

const nameEncodingValue: ValueParser<NameEncoding> = (raw) => {
  const v = parseNameEncoding(raw);
  if (v === null) throw new ValueError('false, true,HEX or true,BASE64');
  return v;
};

const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
const sampleRateValue: ValueParser<number> = (raw) => {
  const n = Number(raw.trim());
  if (!SAMPLE_RATES.includes(n)) throw new ValueError(`one of ${SAMPLE_RATES.join(', ')}`);
  return n;
};

/** rtmp_max_message_size: 64 KiB up to RTMP's own limit (a 24-bit length). */
const rtmpMessageSizeValue: ValueParser<number> = (raw) => {
  const allowed = 'a size from 64k to 16m (such as 4m, 1048576)';
  let n: number;
  try {
    n = byteSizeValue(raw);
  } catch {
    throw new ValueError(allowed);
  }
  if (n < 64 * 1024 || n > 16 * 1024 * 1024) throw new ValueError(allowed);
  return Math.min(n, 0xffffff);
};

/** catalog_url: empty, or a postgres:// / postgresql:// URL (its password never echoed). */
const catalogUrlValue: ValueParser<string> = (raw) => {
  const v = raw.trim();
  if (v === '') return '';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ValueError('empty, or postgres://user:password@host:port/database');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new ValueError('empty, or postgres://user:password@host:port/database');
  return v;
};

const nodeIdValue: ValueParser<string> = (raw) => {
  const v = raw.trim();
  if (v !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw new ValueError('empty (the host name) or letters, digits, . _ - (up to 64, not starting with . _ -)');
  return v;
};

const httpUrlValue: ValueParser<string> = (raw) => {
  const v = raw.trim().replace(/\/+$/, '');
  if (v === '') return '';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ValueError('empty, or an http:// or https:// base URL');
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search !== '' || u.hash !== '') throw new ValueError('empty, or an http:// or https:// base URL');
  return v;
};

/** The raw string of a property, kept as written (exclude_record_name_characters may be spaces). */
const rawValue: ValueParser<string> = (raw) => raw;

/**
 * Every property the daemon understands: its WCS name, its documented
 * default, how it is parsed, and one line of description (the shipped
 * conf/server.properties and docs/configuration.md are checked against this list
 * by a unit test).
 */
export interface PropertyDefinition<T> {
  readonly key: string;
  readonly defaultValue: string;
  readonly parse: ValueParser<T>;
  readonly description: string;
}

function def<T>(key: string, defaultValue: string, parse: ValueParser<T>, description: string): PropertyDefinition<T> {
  return { key, defaultValue, parse, description };
}

export const PROPERTIES = {
  httpPort: def('http.port', '8081', portValue, 'HTTP port of the REST API and of /client/records downloads'),
  rtmpPort: def('rtmp.port', '1935', portValue, 'RTMP ingest port (rtmp://host:PORT/live/STREAM)'),
  bindAddress: def('ip_local', '0.0.0.0', stringValue, 'Address the HTTP and RTMP listeners bind to'),
  recordStreams: def('record_streams', 'true', booleanValue, 'Master switch: record published streams'),
  recordFlashPublishedStreams: def(
    'record_flash_published_streams',
    'true',
    booleanValue,
    'Record streams published over RTMP (Flash, OBS, ffmpeg encoders)',
  ),
  recordRtspStreams: def(
    'record_rtsp_streams',
    'true',
    booleanValue,
    'Record streams pulled from RTSP IP cameras',
  ),
  recordDir: def('record_dir', 'records', stringValue, 'Folder of finished records (relative paths are under WCS_HOME)'),
  recordTmpDir: def(
    'record_tmp_dir',
    '',
    stringValue,
    'Folder of files being recorded (hidden .rec-* names); empty = record_dir itself',
  ),
  recordFormats: def(
    'record_formats',
    'h264-mp4, vp8-webm',
    recordFormatsValue,
    'Containers per video codec: h264-mp4|h264-mkv|h264-ts and vp8-webm|vp8-mkv',
  ),
  recordH264ToTs: def('record_h264_to_ts', 'false', booleanValue, 'Record H.264 streams to MPEG-TS (wins over record_formats)'),
  recordAudioCodecSampleRate: def(
    'record_audio_codec_sample_rate',
    '44100',
    sampleRateValue,
    'Sample rate of audio that is encoded (AAC; Opus uses 48000 unless this is an Opus rate)',
  ),
  recordAudioCodecChannels: def('record_audio_codec_channels', '2', integerValue(1, 2), 'Channels of audio that is encoded: 1 or 2'),
  recordFdkAacBitrateMode: def(
    'record_fdk_aac_bitrate_mode',
    '5',
    integerValue(0, 5),
    'AAC bitrate mode: 0 = CBR 128k, 1-5 = VBR modes mapped to 48/64/80/96/112 kbit/s (stereo)',
  ),
  mp4ContainerMoovFirst: def('mp4_container_moov_first', 'true', booleanValue, 'MP4: moov atom before mdat (progressive download)'),
  mp4ContainerMoovFirstReserveSpace: def(
    'mp4_container_moov_first_reserve_space',
    'false',
    booleanValue,
    'MP4: write moov once into space reserved at the start (no second pass over the file)',
  ),
  mp4ContainerMoovReservedSpaceSize: def(
    'mp4_container_moov_reserved_space_size',
    '2048',
    integerValue(1, 1048576),
    'MP4: kilobytes reserved for moov',
  ),
  recordMuxer: def(
    'record_muxer',
    'in-process',
    enumValue(['in-process', 'ffmpeg'] as const),
    'Who writes MP4 records of H.264 + AAC published over RTMP/RTSP (nothing to transcode): in-process (no ffmpeg per recording) or ffmpeg',
  ),
  webmClusterDurationLimit: def('webm_cluster_duration_limit', '100000', integerValue(1, 3600000), 'WebM/MKV: cluster duration limit, ms'),
  webmClusterSizeLimit: def('webm_cluster_size_limit', '131072', integerValue(1024, 1073741824), 'WebM/MKV: cluster size limit, bytes'),
  encodeRecordName: def('encode_record_name', 'false', nameEncodingValue, 'Encode file names: false, true,HEX or true,BASE64 (base64url)'),
  excludeRecordNameCharacters: def(
    'exclude_record_name_characters',
    '/',
    rawValue,
    'Characters removed from file names (/ and \\ always are)',
  ),
  recordRotation: def('record_rotation', 'disabled', rotationValue, 'Parts: seconds (20), megabytes (10M), or disabled'),
  recordRotationIndexEnabled: def('record_rotation_index_enabled', 'true', booleanValue, 'Number rotated parts _1, _2, ...'),
  recordAudioBufferMaxSize: def(
    'record_audio_buffer_max_size',
    '100',
    integerValue(0, 10000),
    'Audio packets buffered to keep A/V order at the start of a recording',
  ),
  fileRecorderMinSpace: def(
    'file_recorder_min_space',
    '1g',
    byteSizeValue,
    'Recording stops, or does not start, when free space on the records or temp filesystem is below this (g or m suffix)',
  ),
  fileRecorderErrorInterval: def('file_recorder_error_interval', '60', integerValue(1, 100000), 'Minutes of the error-counting window'),
  fileRecorderMaxErrorsPerInterval: def(
    'file_recorder_max_errors_per_interval',
    '3',
    integerValue(1, 100000),
    'Errors in the window after which a recording stops',
  ),
  recordMaxLength: def('record_max_length', '0', lengthSecondsValue, 'Longest recording (1h, 30m, 120s, seconds); 0 = no limit'),
  recordIdleTimeout: def(
    'record_idle_timeout',
    '30',
    integerValue(1, 86400),
    'Seconds without media after which a recording ends as if the stream had stopped',
  ),
  fileRecorderThreadPoolMaxSize: def(
    'file_recorder_thread_pool_max_size',
    '4',
    integerValue(1, 256),
    'Finishing jobs (remux, move) run at once; hooks have their own queue (on_record_hook_max_concurrent)',
  ),
  streamRecordPolicyTemplate: def(
    'stream_record_policy_template',
    'stream-{mediaSessionId}-{login}',
    templateValue,
    'Record file name template (extension added from the container)',
  ),
  onRecordHookScript: def(
    'on_record_hook_script',
    'bin/on_record_hook.sh',
    stringValue,
    'Script run after each record is finished: $1 = stream name, $2 = absolute file path; empty = none',
  ),
  recordResponseContentDispositionHeaderValue: def(
    'record_response_content_disposition_header_value',
    'inline',
    enumValue(['inline', 'attachment'] as const),
    'Content-Disposition of /client/records downloads',
  ),
  recordStopTimeout: def(
    'record_stop_timeout',
    '15',
    integerValue(1, 3600),
    'Seconds a recording may take to finish before its muxer is interrupted',
  ),
  ffmpegPath: def('ffmpeg_path', '', stringValue, 'ffmpeg binary; empty = FFMPEG_PATH, ffmpeg-static, then ffmpeg on PATH'),
  rtmpPublishGraceMs: def(
    'rtmp_publish_grace_ms',
    '0',
    integerValue(0, 600000),
    'Milliseconds an RTMP publish stays alive after its connection closes (a reconnect resumes it)',
  ),
  rtmpPublisherIdleTimeout: def(
    'rtmp_publisher_idle_timeout',
    '10',
    integerValue(1, 3600),
    'Seconds without any data from an RTMP publisher before it is disconnected',
  ),
  // --- RTSP IP cameras (pulled with ffmpeg) ---
  rtspTransport: def('rtsp_transport', 'tcp', enumValue(RTSP_TRANSPORTS), 'RTSP transport of camera pulls: tcp or udp (a startup may choose its own)'),
  rtspTimeout: def('rtsp_timeout', '10', integerValue(1, 300), 'Seconds a camera may stay silent (connect, answer, media) before the pull counts as lost'),
  rtspReconnectMinDelay: def(
    'rtsp_reconnect_min_delay',
    '1000',
    integerValue(100, 3600000),
    'Milliseconds before the first reconnect of a lost camera; doubled at each failed attempt',
  ),
  rtspReconnectMaxDelay: def(
    'rtsp_reconnect_max_delay',
    '30000',
    integerValue(100, 3600000),
    'Milliseconds the reconnect delay of a camera grows to at most',
  ),
  rtspPullStreams: def(
    'rtsp_pull_streams',
    '',
    pullListValue,
    'Cameras pulled at start-up: comma-separated name=rtsp://user:password@host/path entries',
  ),
  // --- REST API protection, record cuts, HTTPS ---
  restApiToken: def(
    'rest_api_token',
    '',
    stringValue,
    'When set, every /rest-api call needs the header Authorization: Bearer <token>; empty = open, as in WCS',
  ),
  recordsAccessToken: def(
    'records_access_token',
    '',
    stringValue,
    'When set, /client/records downloads need Authorization: Bearer <token> or ?token=<token>; empty = open',
  ),
  mp4CutterDir: def('mp4_cutter_dir', '', stringValue, 'Folder of the ?start=&end= parts of MP4 records; empty = record_dir'),
  httpsPort: def('https.port', '', optionalPortValue, 'HTTPS port serving the same REST API and downloads; empty = no HTTPS'),
  httpsCert: def('https.cert', '', stringValue, 'PEM certificate (with its chain) for https.port'),
  httpsKey: def('https.key', '', stringValue, 'PEM private key for https.port'),
  // --- WebRTC ingest (browsers, WHIP clients) ---
  ip: def(
    'ip',
    '127.0.0.1',
    stringValue,
    "Address announced in WebRTC ICE candidates, in addition to the host's own interface addresses (set the public or LAN address)",
  ),
  mediaPortFrom: def('media_port_from', '31001', portValue, 'First UDP port of WebRTC media (ICE sockets and the local RTP feeds)'),
  mediaPortTo: def('media_port_to', '32000', portValue, 'Last UDP port of WebRTC media'),
  webrtcEngine: def(
    'webrtc_engine',
    'auto',
    enumValue(ENGINE_SETTINGS),
    "WebRTC engine: auto (mediasoup when its worker binary is present, else werift), werift or mediasoup",
  ),
  whipToken: def('whip_token', '', stringValue, 'When set, WHIP publish and DELETE need Authorization: Bearer <token>; empty = open'),
  webrtcPublisherIdleTimeout: def(
    'webrtc_publisher_idle_timeout',
    '10',
    integerValue(1, 3600),
    'Seconds without RTP from a WebRTC publisher before its publish ends (its recording is finished)',
  ),
  webrtcCcMaxBitrate: def(
    'webrtc_cc_max_bitrate',
    '2500000',
    integerValue(100000, 100000000),
    'Bit/s a WebRTC publisher is asked to stay under (REMB)',
  ),
  // --- Multiple stream recording (several streams into one MP4) ---
  multiRecordDir: def('multi_record_dir', '', stringValue, 'Folder of multiple stream recordings (/multipleRecorder); empty = record_dir'),
  onMultipleRecordHookScript: def(
    'on_multiple_record_hook_script',
    'bin/on_multiple_record_hook.sh',
    stringValue,
    'Script run after each multiple recording: $1 = file, $2 = creation/modification time, $3 = duration ms, $4 = recorder URI; empty = none',
  ),
  // --- Limits on recording control, cuts, downloads and RTSP (issue 14) ---
  mp4CutterMaxConcurrent: def('mp4_cutter_max_concurrent', '2', integerValue(1, 64), 'Cut ffmpegs (?start=&end=) running at once'),
  mp4CutterMaxQueued: def(
    'mp4_cutter_max_queued',
    '8',
    integerValue(0, 1000),
    'Cuts waiting for a place; beyond, 503 with Retry-After',
  ),
  mp4CutterCacheMaxSize: def(
    'mp4_cutter_cache_max_size',
    '1g',
    byteSizeValue,
    'Bytes all stored ?start=&end= parts may take (k, m, g suffix); least recently used removed first',
  ),
  recordPublicBaseUrl: def(
    'record_public_base_url',
    '',
    // empty, or an http(s) URL without credentials, query or fragment; kept without a trailing slash
    (raw) => {
      const v = raw.trim();
      if (v === '') return '';
      const allowed = 'empty, or an http:// or https:// URL without credentials, query or fragment (https://media.example.com/wcs)';
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        throw new ValueError(allowed);
      }
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
        throw new ValueError(allowed);
      }
      return v.replace(/\/+$/, '');
    },
    'Base of downloadUrl in REST answers in place of the request scheme and host (https://media.example.com/wcs); empty = the request address',
  ),
  rtspMaxPulls: def('rtsp_max_pulls', '32', integerValue(1, 10000), 'Camera pulls at once; further /rtsp/startup calls answer 503'),
  // --- RTMP limits against hostile clients (issue 14; docs/limits.md) ---
  rtmpPublishTimeout: def(
    'rtmp_publish_timeout',
    '10',
    integerValue(1, 3600),
    'Seconds an RTMP connection may take to publish (or play, when allowed) before it is closed',
  ),
  rtmpMaxConnections: def('rtmp_max_connections', '1000', integerValue(1, 1000000), 'RTMP connections open at once; more are refused'),
  rtmpMaxConnectionsPerIp: def(
    'rtmp_max_connections_per_ip',
    '100',
    integerValue(1, 1000000),
    'RTMP connections open at once from one client address; more are refused',
  ),
  rtmpMaxMessageSize: def(
    'rtmp_max_message_size',
    '4m',
    rtmpMessageSizeValue,
    'Bytes of one RTMP message (a video frame); a connection announcing a larger one is closed',
  ),
  rtmpPlayEnabled: def(
    'rtmp_play_enabled',
    'false',
    booleanValue,
    'Allow RTMP play of live streams (with ?token=<records_access_token> when that is set)',
  ),
  // --- Record catalog and retention (docs/catalog.md) ---
  catalogPath: def('catalog_path', '', stringValue, 'SQLite file of the record catalog; empty = record_dir/.wcs-catalog.sqlite'),
  recordRetentionMaxAge: def(
    'record_retention_max_age',
    '0',
    retentionDurationValue,
    'Records older than this (by their end) are deleted: seconds or 30d, 12h, 90m; 0 = off',
  ),
  recordRetentionMaxSize: def(
    'record_retention_max_size',
    '0',
    retentionSizeValue,
    'Oldest records are deleted while records and cuts take more than this: bytes or 500G, 2T; 0 = off',
  ),
  recordRetentionMinFreeSpace: def(
    'record_retention_min_free_space',
    '0',
    retentionSizeValue,
    'Oldest records are deleted while free space on record_dir is below this (set above file_recorder_min_space); 0 = off',
  ),
  recordRetentionCheckInterval: def(
    'record_retention_check_interval',
    '60',
    retentionIntervalValue,
    'How often retention runs: seconds or 30s, 5m',
  ),
  onRecordDeleteHookScript: def(
    'on_record_delete_hook_script',
    '',
    stringValue,
    'Script run after retention or REST deletes a record: $1 = stream name, $2 = absolute path, $3 = reason; empty = none',
  ),
  // --- Metrics and logs (docs/metrics.md) ---
  metricsEnabled: def('metrics_enabled', 'true', booleanValue, 'Serve Prometheus metrics at GET /metrics'),
  metricsToken: def('metrics_token', '', stringValue, 'When set, /metrics needs Authorization: Bearer <token> or ?token=<token>; empty = open'),
  logLevel: def('log_level', 'info', enumValue(LOG_LEVELS), 'Log level: fatal, error, warn, info, debug, trace or silent (the LOG_LEVEL environment variable wins)'),
  // the operator's console (docs/console.md)
  consoleEnabled: def('console_enabled', 'true', booleanValue, 'Serve the operator\'s console page at / (docs/console.md)'),
  recordsSignedUrlTtl: def(
    'records_signed_url_ttl',
    '600',
    integerValue(1, 3600),
    'Seconds a signed media URL (/rest-api/records/sign) stays valid: 1 to 3600',
  ),
  // --- issue 18 items 5, 8, 9: hooks in their own queue, per-recording options, presets (docs/presets.md) ---
  onRecordHookTimeout: def(
    'on_record_hook_timeout',
    '60',
    integerValue(1, 86400),
    'Seconds a hook script may run; then its process group gets SIGTERM, 5 s later SIGKILL (record, multiple-record and delete hooks)',
  ),
  onRecordHookMaxConcurrent: def('on_record_hook_max_concurrent', '2', integerValue(1, 64), 'Hook scripts run at once (their own queue, apart from the finishing pool)'),
  onRecordHookMaxQueued: def(
    'on_record_hook_max_queued',
    '1000',
    integerValue(1, 100000),
    'Hook runs that may wait in the hook queue; beyond, a hook is not run (logged, counted in wcs_hook_runs_total{result="dropped"})',
  ),
  recordTranscodeMaxConcurrent: def(
    'record_transcode_max_concurrent',
    '2',
    integerValue(0, 64),
    'Recordings with a transcoding preset at once; beyond, /recorder/startup with a preset answers 503 (0 = presets refused)',
  ),
  // --- issue 18 item 1: WebRTC participants in multiple recordings (docs/rest-api.md) ---
  multiRecorderMaxTranscodedParticipants: def(
    'multi_recorder_max_transcoded_participants',
    '4',
    integerValue(0, 64),
    'Multiple-recording participants whose VP8 is encoded to H.264 at once, over every recorder (0 to 64; 0 = VP8 refused); beyond: 503',
  ),
  multiRecorderTranscodePreset: def(
    'multi_recorder_transcode_preset',
    'veryfast',
    enumValue(X264_PRESETS),
    'x264 preset of VP8 participants encoded to H.264: ultrafast, superfast, veryfast, faster, fast, medium',
  ),
  // --- Issue 19: records to S3-compatible storage, webhooks (docs/storage.md, docs/webhooks.md) ---
  recordUploadUrl: def('record_upload_url', '', uploadUrlValue, 'Upload every finished record to s3://bucket/prefix/; empty = off'),
  recordUploadEndpoint: def('record_upload_endpoint', '', endpointValue, 'S3-compatible endpoint URL (MinIO, SeaweedFS, R2, ...); empty = AWS'),
  recordUploadRegion: def('record_upload_region', '', stringValue, 'S3 region; empty = AWS_REGION from the environment, else us-east-1'),
  recordUploadForcePathStyle: def('record_upload_force_path_style', 'false', booleanValue, 'Address the bucket as endpoint/bucket/key (MinIO, s3rver) instead of bucket.endpoint'),
  recordUploadDeleteLocal: def('record_upload_delete_local', 'false', booleanValue, 'Delete the local file once its upload is verified; the record is then served from the bucket'),
  recordUploadConcurrency: def('record_upload_concurrency', '2', integerValue(1, 16), 'Records uploaded at once: 1 to 16'),
  recordUploadPartSize: def('record_upload_part_size', '8m', byteSizeValue, 'Multipart upload part size (5m to 512m)'),
  recordUploadVerify: def('record_upload_verify', 'etag', enumValue<UploadVerify>(['etag', 'size']), 'etag: size and MD5 ETag must match; size: size only (stores whose ETag is no MD5, e.g. SSE-KMS)'),
  recordUploadRetryMinDelay: def('record_upload_retry_min_delay', '5', integerValue(1, 3600), 'Seconds before the first retry of a failed upload (doubles each time)'),
  recordUploadRetryMaxDelay: def('record_upload_retry_max_delay', '600', integerValue(1, 86400), 'Longest wait between upload retries, seconds'),
  recordUploadMaxAttempts: def('record_upload_max_attempts', '100', integerValue(1, 100000), 'Tries of one upload before it is marked failed (the local file is kept)'),
  recordUploadRetentionMaxAge: def('record_upload_retention_max_age', '0', retentionDurationValue, 'Bucket copies older than this (by record start) are deleted: 30d, 12h; 0 = off'),
  recordUploadRetentionMaxSize: def('record_upload_retention_max_size', '0', retentionSizeValue, 'Oldest bucket copies are deleted while the uploaded records take more than this: 2T; 0 = off'),
  recordUploadRetentionCheckInterval: def('record_upload_retention_check_interval', '300', retentionIntervalValue, 'How often bucket retention runs (one node at a time): 300, 5m'),
  recordUploadCacheMaxSize: def('record_upload_cache_max_size', '2g', byteSizeValue, 'Local copies of bucket-only records kept for cuts and time-range playback (mp4_cutter_dir/.bucket)'),
  recordWebhookUrl: def('record_webhook_url', '', webhookUrlsValue, 'Comma-separated http(s) URLs that get a signed JSON POST per event; empty = off'),
  recordWebhookSecret: def('record_webhook_secret', '', stringValue, 'HMAC-SHA256 key of the X-Wcs-Signature header; empty = unsigned'),
  recordWebhookTimeout: def('record_webhook_timeout', '10', integerValue(1, 300), 'Seconds one webhook POST may take'),
  recordWebhookRetryMinDelay: def('record_webhook_retry_min_delay', '5', integerValue(1, 3600), 'Seconds before the first redelivery (doubles each time)'),
  recordWebhookRetryMaxDelay: def('record_webhook_retry_max_delay', '600', integerValue(1, 86400), 'Longest wait between redeliveries, seconds'),
  recordWebhookMaxAttempts: def('record_webhook_max_attempts', '50', integerValue(1, 10000), 'Tries of one delivery before it is dead'),
  recordWebhookMaxAge: def('record_webhook_max_age', '2d', retentionDurationValue, 'A delivery not done this long after its event is dead: 2d, 12h'),
  // --- HTTP connection limits (docs/limits.md) ---
  httpMaxConnections: def('http_max_connections', '1000', integerValue(1, 100000), 'Open HTTP connections at once, per server (HTTP and HTTPS each); beyond, a new one is closed at once'),
  httpKeepAliveTimeout: def('http_keep_alive_timeout', '72', integerValue(1, 3600), 'Seconds an idle keep-alive HTTP connection stays open (Fastify\'s default; Node\'s own 5 s races clients reusing a pooled connection)'),
  // --- issue 20: performance round 2 ---
  mp4FinishInsertRange: def(
    'mp4_finish_insert_range',
    'true',
    booleanValue,
    'MP4 moov first without reserved space: let the file system insert room for the moov in front of the media (Linux fallocate insert-range, ext4/xfs) instead of copying the media; false = always copy',
  ),
  // --- issue 19: several recorders, one catalog on PostgreSQL (docs/cluster.md) ---
  catalogUrl: def(
    'catalog_url',
    '',
    catalogUrlValue,
    'postgres://user:password@host:5432/db puts the record catalog in PostgreSQL, shared by every node; empty = the embedded SQLite file (catalog_path)',
  ),
  nodeId: def('node_id', '', nodeIdValue, "This recorder's name in a cluster (letters, digits, . _ -, up to 64); empty = the host name"),
  nodePublicUrl: def(
    'node_public_url',
    '',
    httpUrlValue,
    'Base URL other nodes reach this one at (http://10.0.0.5:8081) to fetch records it holds; empty = http://<ip>:<http.port>',
  ),
  clusterHeartbeatInterval: def('cluster_heartbeat_interval', '5', integerValue(1, 60), 'Seconds between heartbeats of this node in the shared catalog: 1 to 60'),
  clusterNodeTimeout: def(
    'cluster_node_timeout',
    '20',
    integerValue(2, 3600),
    'A node whose last heartbeat is older than this many seconds is listed as not alive (its records are not proxied to it)',
  ),
  clusterProxyTimeout: def(
    'cluster_proxy_timeout',
    '30',
    integerValue(1, 600),
    'Seconds to wait for another node to start answering (and between two chunks of its answer) when proxying a record it holds; then 504',
  ),
  clusterProxyMaxConcurrent: def(
    'cluster_proxy_max_concurrent',
    '16',
    integerValue(1, 1000),
    'Proxied answers from other nodes at once; more are refused with 503 and Retry-After',
  ),
  // --- issue 17: mediasoup for real (docs/webrtc.md) ---
  webrtcWorkers: def(
    'webrtc_workers',
    '0',
    integerValue(0, 64),
    'mediasoup worker processes (webrtc_engine mediasoup or auto); 0 = one per CPU core',
  ),
  mediasoupWorkerCache: def(
    'mediasoup_worker_cache',
    '',
    stringValue,
    'Folder tools/build-mediasoup-worker.sh builds workers into (MEDIASOUP_WORKER_CACHE); empty = /var/cache/wcs-recorder/mediasoup-worker, else ~/.cache/wcs-recorder/mediasoup-worker',
  ),
  // --- leftovers of issues 17–19 (docs/cluster.md) ---
  clusterClaimLease: def(
    'cluster_claim_lease',
    '30',
    integerValue(1, 86_400),
    'Seconds after which a webhook delivery or upload claimed by a node that is not alive (cluster_node_timeout) is taken over by another node: 1 to 86400',
  ),
} as const;

type Definitions = typeof PROPERTIES;
type ParsedValues = { [K in keyof Definitions]: Definitions[K] extends PropertyDefinition<infer T> ? T : never };

export interface ServerConfig extends ParsedValues {
  /** Absolute home folder: conf/, records/, logs/ live here. */
  readonly home: string;
  /** Absolute paths derived from the properties above. */
  readonly recordDirAbs: string;
  readonly recordTmpDirAbs: string;
  readonly onRecordHookScriptAbs: string | null;
  /** multi_record_dir, or record_dir when empty. */
  readonly multiRecordDirAbs: string;
  readonly onMultipleRecordHookScriptAbs: string | null;
  readonly logsDirAbs: string;
  /** mp4_cutter_dir, or record_dir when empty. */
  readonly mp4CutterDirAbs: string;
  /** Certificate and key of https.port; null when HTTPS is off. */
  readonly httpsCertAbs: string | null;
  readonly httpsKeyAbs: string | null;
  /** catalog_path, or record_dir/.wcs-catalog.sqlite when empty. */
  readonly catalogPathAbs: string;
  readonly onRecordDeleteHookScriptAbs: string | null;
}

export class ConfigError extends Error {}

export interface ParseResult {
  readonly config: ServerConfig;
  /** Keys present in the input that the daemon does not know (kept, ignored). */
  readonly unknownKeys: string[];
}

/**
 * Turns raw property strings into a typed, validated ServerConfig.
 * Raises ConfigError naming the key, the bad value and what is allowed.
 */
export function parseServerConfig(raw: Readonly<Record<string, string>>, home: string): ParseResult {
  const known = new Set<string>(Object.values(PROPERTIES).map((d) => d.key));
  const unknownKeys = Object.keys(raw).filter((k) => !known.has(k)).sort();
  const values: Record<string, unknown> = {};
  for (const [field, definition] of Object.entries(PROPERTIES) as [string, PropertyDefinition<unknown>][]) {
    const value = raw[definition.key] ?? definition.defaultValue;
    try {
      values[field] = definition.parse(value);
    } catch (err) {
      if (err instanceof ValueError) {
        // a camera URI may hold a password: never echoed
        throw new ConfigError(`Bad value for ${definition.key}: '${maskCredentials(value)}'; allowed: ${err.allowed}`);
      }
      throw err;
    }
  }
  const parsed = values as ParsedValues;
  const absHome = path.resolve(home);
  const recordDirAbs = path.resolve(absHome, parsed.recordDir === '' ? 'records' : parsed.recordDir);
  const recordTmpDirAbs = parsed.recordTmpDir === '' ? recordDirAbs : path.resolve(absHome, parsed.recordTmpDir);
  const onRecordHookScriptAbs = parsed.onRecordHookScript === '' ? null : path.resolve(absHome, parsed.onRecordHookScript);
  if (parsed.httpPort === parsed.rtmpPort) {
    throw new ConfigError(`Bad value for rtmp.port: '${parsed.rtmpPort}'; allowed: a port other than http.port`);
  }
  if (parsed.httpsPort !== null) {
    if (parsed.httpsPort === parsed.httpPort || parsed.httpsPort === parsed.rtmpPort) {
      throw new ConfigError(`Bad value for https.port: '${parsed.httpsPort}'; allowed: a port other than http.port and rtmp.port`);
    }
    for (const [key, value] of [
      ['https.cert', parsed.httpsCert],
      ['https.key', parsed.httpsKey],
    ] as const) {
      if (value === '') throw new ConfigError(`Bad value for ${key}: ''; allowed: a PEM file path (https.port is set)`);
    }
  }
  if (parsed.rtspReconnectMaxDelay < parsed.rtspReconnectMinDelay) {
    throw new ConfigError(
      `Bad value for rtsp_reconnect_max_delay: '${parsed.rtspReconnectMaxDelay}'; allowed: at least rtsp_reconnect_min_delay (${parsed.rtspReconnectMinDelay})`,
    );
  }
  if (parsed.mediaPortTo - parsed.mediaPortFrom < 7) {
    throw new ConfigError(
      `Bad value for media_port_to: '${parsed.mediaPortTo}'; allowed: at least media_port_from + 7 (${parsed.mediaPortFrom + 7}): ICE sockets and RTP/RTCP pairs need several ports`,
    );
  }
  if (parsed.recordRetentionMinFreeSpace > 0 && parsed.recordRetentionMinFreeSpace <= parsed.fileRecorderMinSpace) {
    throw new ConfigError(
      `Bad value for record_retention_min_free_space: '${parsed.recordRetentionMinFreeSpace}'; allowed: 0 (off) or more than file_recorder_min_space (${parsed.fileRecorderMinSpace} bytes), so that retention frees space before recordings are stopped`,
    );
  }
  const partSize = parsed.recordUploadPartSize;
  if (partSize < 5 * 1024 * 1024 || partSize > 512 * 1024 * 1024) {
    throw new ConfigError(`Bad value for record_upload_part_size: '${partSize}'; allowed: 5m to 512m (S3's smallest part is 5 MiB)`);
  }
  if (parsed.recordUploadRetryMaxDelay < parsed.recordUploadRetryMinDelay) {
    throw new ConfigError(`Bad value for record_upload_retry_max_delay: '${parsed.recordUploadRetryMaxDelay}'; allowed: at least record_upload_retry_min_delay`);
  }
  if (parsed.recordWebhookRetryMaxDelay < parsed.recordWebhookRetryMinDelay) {
    throw new ConfigError(`Bad value for record_webhook_retry_max_delay: '${parsed.recordWebhookRetryMaxDelay}'; allowed: at least record_webhook_retry_min_delay`);
  }
  const httpsOn = parsed.httpsPort !== null;
  return {
    config: {
      ...parsed,
      home: absHome,
      recordDirAbs,
      recordTmpDirAbs,
      onRecordHookScriptAbs,
      multiRecordDirAbs: parsed.multiRecordDir === '' ? recordDirAbs : path.resolve(absHome, parsed.multiRecordDir),
      onMultipleRecordHookScriptAbs: parsed.onMultipleRecordHookScript === '' ? null : path.resolve(absHome, parsed.onMultipleRecordHookScript),
      logsDirAbs: path.join(absHome, 'logs'),
      mp4CutterDirAbs: parsed.mp4CutterDir === '' ? recordDirAbs : path.resolve(absHome, parsed.mp4CutterDir),
      httpsCertAbs: httpsOn ? path.resolve(absHome, parsed.httpsCert) : null,
      httpsKeyAbs: httpsOn ? path.resolve(absHome, parsed.httpsKey) : null,
      catalogPathAbs: parsed.catalogPath === '' ? path.join(recordDirAbs, '.wcs-catalog.sqlite') : path.resolve(absHome, parsed.catalogPath),
      onRecordDeleteHookScriptAbs: parsed.onRecordDeleteHookScript === '' ? null : path.resolve(absHome, parsed.onRecordDeleteHookScript),
    },
    unknownKeys,
  };
}

/** Name of the environment variable that overrides a property: WCS_ + key, upper case, . and - as _. */
export function environmentName(key: string): string {
  return 'WCS_' + key.toUpperCase().replace(/[.-]/g, '_');
}
