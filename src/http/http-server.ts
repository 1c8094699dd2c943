import { QueueFullError } from '../util/keyed-queue.js';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { registerAuth } from './auth.js';
import { HttpError } from './http-error.js';
import type { Mp4Cutter } from './mp4-cutter.js';
import { registerOpenApi } from './openapi.js';
import { registerRecordFiles } from './routes/record-files.js';
import { registerStreamPlayback, type StreamPlaybackDeps } from './routes/stream-playback-routes.js';
import { registerMultiRecorderRoutes } from './routes/multi-recorder-routes.js';
import { registerRecorderRoutes } from './routes/recorder-routes.js';
import { registerRecordsRoutes } from './routes/records-routes.js';
import { registerStorageRoutes, type StorageRoutesSource } from './routes/storage-routes.js';
import type { BucketRecords } from '../storage/bucket-records.js';
import { registerServerRoutes, type ServerStatsSource } from './routes/server-routes.js';
import { registerSignRoutes } from './routes/sign-routes.js';
import { registerRtspRoutes } from './routes/rtsp-routes.js';
import { registerStreamRoutes } from './routes/stream-routes.js';
import { registerWebPages } from './routes/web-pages.js';
import { registerWhipRoutes, type WhipService } from './routes/whip-routes.js';
import { registerMetricsRoute, type MetricsText } from './metrics/metrics-route.js';
import type { RecordingControl } from './services/recording-control.js';
import type { RecordsControl } from './services/records-control.js';
import type { RtspControl } from './services/rtsp-control.js';
import type { StreamControl } from './services/stream-control.js';
import type { MultiRecorderManager } from '../recording/multi/multi-recorder-manager.js';
import type { ClusterView } from '../cluster/cluster-view.js';
import type { ClusterReads } from './cluster-reads.js';
import { registerClusterRoutes } from './routes/cluster-routes.js';
import { CatalogUnavailableError } from '../catalog/catalog-errors.js';

export interface HttpsOptions {
  readonly port: number;
  /** PEM contents. */
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface HttpServerOptions {
  readonly port: number;
  readonly bind: string;
  readonly recordDir: string;
  readonly contentDisposition: 'inline' | 'attachment';
  /** rest_api_token; '' = open. */
  readonly restApiToken: string;
  /** records_access_token; '' = open. */
  readonly recordsAccessToken: string;
  /** record_public_base_url: base of downloadUrl; '' or absent = the request's scheme and host. */
  readonly publicBaseUrl?: string;
  /** https.port with its certificate; null = HTTP only. */
  readonly https: HttpsOptions | null;
  /** Version shown in the OpenAPI document. */
  readonly version: string;
  /** Static pages (src/web) served under /client/; null = none. */
  readonly webDir?: string | null;
  /** console_enabled: the operator's console at / (from webDir/console); default true. */
  readonly consoleEnabled?: boolean;
  /** records_signed_url_ttl, seconds; default 600. */
  readonly signedUrlTtlSeconds?: number;
  /** http_max_connections: open HTTP(S) connections at once (each server); beyond, new ones are closed at once. Default 1000. */
  readonly maxConnections?: number;
  /** http_keep_alive_timeout, seconds an idle keep-alive connection stays open; default 72. */
  readonly keepAliveTimeoutSeconds?: number;
}

/**
 * Connection limits of a Node HTTP(S) server. Node's 5 s keep-alive races
 * clients that reuse a pooled connection just as the server closes it
 * ("other side closed"); 72 s is Fastify's own default, longer than the
 * 60 s idle timeout of common load balancers. The cap bounds what idle
 * connections can hold.
 */
/** Requests in flight at shutdown get this long before their connections are closed. */
const CLOSE_GRACE_MS = 3000;

function limitConnections(server: http.Server, options: HttpServerOptions): void {
  server.maxConnections = options.maxConnections ?? 1000;
  server.keepAliveTimeout = (options.keepAliveTimeoutSeconds ?? 72) * 1000;
  // a request's headers must arrive within this, longer than keep-alive as Node requires
  server.headersTimeout = server.keepAliveTimeout + 1000;
}

export interface HttpDependencies {
  readonly streams: StreamControl;
  readonly recording: RecordingControl;
  readonly cutter: Mp4Cutter;
  /** /client/streams/<name>.mp4?from=&to= (time-range playback); absent = not served. */
  readonly playback?: StreamPlaybackDeps;
  /** /rest-api/records/* (the record catalog); absent = not served. */
  readonly records?: RecordsControl;
  /** /rest-api/multipleRecorder/*; absent = not served. */
  readonly multi?: MultiRecorderManager;
  /** /rest-api/rtsp/*; absent = not served. */
  readonly rtsp?: RtspControl;
  /** /rest-api/server/stats; absent = not served. */
  readonly stats?: ServerStatsSource;
  /** WHIP publishing (/whip/<stream>); absent = not served. */
  readonly whip?: { readonly service: WhipService; readonly token: string };
  /** GET /metrics (Prometheus); absent = not served (metrics_enabled=false). */
  readonly metrics?: { readonly source: MetricsText; readonly token: string };
  /** Records only in the bucket, served from it (issue 19); absent = upload off. */
  readonly bucketRecords?: BucketRecords;
  /** /rest-api/uploads and /rest-api/webhooks/deliveries; absent = not served. */
  readonly storage?: StorageRoutesSource;
  /** /rest-api/cluster/nodes, stream/find_all {"cluster": true}; reads: records of other nodes (shared catalog only). */
  readonly cluster?: { readonly view: ClusterView; readonly reads: ClusterReads | null };
  readonly log: Logger;
}

/** REST bodies are small JSON objects: anything larger is refused with 413. */
export const BODY_LIMIT_BYTES = 16 * 1024;

export class HttpPortError extends Error {}
/** https.cert / https.key cannot be read or used. */
export class HttpsCertificateError extends Error {}

/**
 * The REST API and record downloads on http.port, and the same routes on
 * https.port when a certificate is configured (one fastify instance, a
 * second node https server handing its requests to the same router).
 */
export class HttpServer {
  readonly app: FastifyInstance;
  readonly #https: https.Server | null;

  constructor(
    private readonly options: HttpServerOptions,
    deps: HttpDependencies,
  ) {
    let secure: https.Server | null = null;
    this.app = Fastify({
      loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: BODY_LIMIT_BYTES,
      routerOptions: { maxParamLength: 1024 },
      // unknown fields are refused (400), never silently dropped; JSON types are not coerced
      // allowUnionTypes: type: ['integer', 'string'] is meant (from/to of /records/*); without it Ajv prints "strict mode" warnings on stderr
      ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allowUnionTypes: true } },
      serverFactory: (handler) => {
        if (options.https) {
          try {
            secure = https.createServer({ cert: options.https.cert, key: options.https.key }, handler);
            limitConnections(secure, options);
          } catch (err) {
            throw new HttpsCertificateError(`https.cert / https.key cannot be used: ${(err as Error).message}`);
          }
        }
        const plain = http.createServer(handler);
        limitConnections(plain, options);
        return plain;
      },
    });
    this.#https = secure;
    this.app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
      if (err instanceof HttpError) {
        return reply.status(err.statusCode).send({ error: err.statusCode, message: err.message });
      }
      if (err instanceof CatalogUnavailableError) {
        req.log.warn({ url: req.url.split('?')[0], reason: err.message }, 'Request refused: the catalog database is unavailable');
        return reply.status(503).header('retry-after', '5').send({ error: 503, message: err.message });
      }
      if (err instanceof QueueFullError) {
        req.log.warn({ url: req.url.split('?')[0], reason: err.message }, 'Request refused: too many control calls queued for one stream');
        return reply.status(503).header('retry-after', '1').send({ error: 503, message: `Busy: ${err.message}; try again` });
      }
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return reply.status(status).send({ error: status, message: err.message });
      }
      req.log.error({ err, url: req.url.split('?')[0] }, 'Request failed');
      return reply.status(500).send({ error: 500, message: 'Internal error' });
    });
    this.app.setNotFoundHandler((req, reply) => {
      void reply.status(404).send({ error: 404, message: `No route ${req.method} ${req.url.split('?')[0]}` });
    });
    this.app.addHook('onResponse', async (req, reply) => {
      if (req.url.startsWith('/rest-api/') || reply.statusCode >= 400) {
        // the query may carry records_access_token: never logged
        req.log.info({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode }, 'HTTP request');
      }
    });
    registerAuth(this.app, { restApiToken: options.restApiToken, recordsAccessToken: options.recordsAccessToken });
    registerOpenApi(this.app, {
      version: options.version,
      restApiToken: options.restApiToken !== '',
      recordsAccessToken: options.recordsAccessToken !== '',
    });
    registerStreamRoutes(this.app, deps.streams, deps.cluster?.view);
    if (deps.cluster) registerClusterRoutes(this.app, deps.cluster.view);
    const clusterReads = deps.cluster?.reads ?? undefined;
    registerRecorderRoutes(this.app, deps.recording, { publicBaseUrl: options.publicBaseUrl ?? '' });
    if (deps.records) registerRecordsRoutes(this.app, deps.records, { publicBaseUrl: options.publicBaseUrl ?? '' });
    registerSignRoutes(this.app, {
      restApiToken: options.restApiToken,
      recordsAccessToken: options.recordsAccessToken,
      ttlSeconds: options.signedUrlTtlSeconds ?? 600,
    });
    if (deps.multi) registerMultiRecorderRoutes(this.app, deps.multi);
    if (deps.rtsp) registerRtspRoutes(this.app, deps.rtsp);
    if (deps.stats) registerServerRoutes(this.app, deps.stats);
    if (deps.metrics) registerMetricsRoute(this.app, deps.metrics.source, { token: deps.metrics.token });
    const whip = deps.whip;
    if (whip) void this.app.register(async (scope) => registerWhipRoutes(scope, whip.service, { token: whip.token }));
    if (deps.storage) registerStorageRoutes(this.app, deps.storage);
    void this.app.register(async (scope) => registerRecordFiles(scope, options, deps.cutter, deps.bucketRecords ?? null, clusterReads));
    const playback = deps.playback;
    if (playback) void this.app.register(async (scope) => registerStreamPlayback(scope, options, clusterReads ? { ...playback, cluster: clusterReads } : playback));
    const webDir = options.webDir;
    if (webDir) void this.app.register(async (scope) => registerWebPages(scope, webDir, options.consoleEnabled ?? true));
  }

  /** The HTTPS port actually listened on (null without HTTPS). */
  get httpsPort(): number | null {
    const address = this.#https?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : null;
  }

  async start(): Promise<void> {
    const listen = async (what: string, key: string, port: number, run: () => Promise<unknown>): Promise<void> => {
      try {
        await run();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const where = `${this.options.bind}:${port}`;
        throw new HttpPortError(
          e.code === 'EADDRINUSE'
            ? `${what} port ${where} is already in use (${key}): stop the other process or choose another port`
            : `${what} listener on ${where} failed: ${e.message}`,
        );
      }
      this.app.log.info(`${what} REST API listening on ${this.options.bind}:${port}`);
    };
    await listen('HTTP', 'http.port', this.options.port, () => this.app.listen({ port: this.options.port, host: this.options.bind }));
    const secure = this.#https;
    const httpsPort = this.options.https?.port;
    if (secure && httpsPort !== undefined) {
      await listen(
        'HTTPS',
        'https.port',
        httpsPort,
        () =>
          new Promise<void>((resolve, reject) => {
            secure.once('error', reject);
            secure.listen(httpsPort, this.options.bind, () => {
              secure.off('error', reject);
              resolve();
            });
          }),
      );
    }
  }

  /**
   * Stops listening, closes idle keep-alive connections at once, and gives
   * requests in flight CLOSE_GRACE_MS to finish; then every connection left
   * (a download under way, a client that never finishes its headers) is
   * closed, so no client can hold the daemon's stop.
   */
  async close(): Promise<void> {
    const secure = this.#https;
    const plain = this.app.server;
    const secureClosed =
      secure && secure.listening ? new Promise<void>((resolve) => secure.close(() => resolve())) : Promise.resolve();
    secure?.closeIdleConnections();
    const force = setTimeout(() => {
      plain.closeAllConnections();
      secure?.closeAllConnections();
    }, CLOSE_GRACE_MS);
    try {
      await this.app.close();
      secure?.closeAllConnections();
      await secureClosed;
    } finally {
      clearTimeout(force);
    }
  }
}
