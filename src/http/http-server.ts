import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { RecorderManager } from '../recording/recorder-manager.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import { HttpError } from './http-error.js';
import { registerRecordFiles } from './routes/record-files.js';
import { registerRecorderRoutes } from './routes/recorder-routes.js';
import { registerStreamRoutes } from './routes/stream-routes.js';

export interface HttpServerOptions {
  readonly port: number;
  readonly bind: string;
  readonly recordDir: string;
  readonly contentDisposition: 'inline' | 'attachment';
}

export interface HttpDependencies {
  readonly registry: StreamRegistry;
  readonly recorders: RecorderManager;
  readonly log: Logger;
}

export class HttpPortError extends Error {}

/** The REST API and record downloads on http.port. */
export class HttpServer {
  readonly app: FastifyInstance;

  constructor(
    private readonly options: HttpServerOptions,
    deps: HttpDependencies,
  ) {
    this.app = Fastify({
      loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: 1024 * 1024,
      routerOptions: { maxParamLength: 1024 },
    });
    this.app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
      if (err instanceof HttpError) {
        return reply.status(err.statusCode).send({ error: err.statusCode, message: err.message });
      }
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return reply.status(status).send({ error: status, message: err.message });
      }
      req.log.error({ err, url: req.url }, 'Request failed');
      return reply.status(500).send({ error: 500, message: 'Internal error' });
    });
    this.app.setNotFoundHandler((req, reply) => {
      void reply.status(404).send({ error: 404, message: `No route ${req.method} ${req.url.split('?')[0]}` });
    });
    this.app.addHook('onResponse', async (req, reply) => {
      if (req.url.startsWith('/rest-api/') || reply.statusCode >= 400) {
        req.log.info({ method: req.method, url: req.url, status: reply.statusCode }, 'HTTP request');
      }
    });
    registerStreamRoutes(this.app, deps.registry);
    registerRecorderRoutes(this.app, deps.registry, deps.recorders);
    void this.app.register(async (scope) => registerRecordFiles(scope, options));
  }

  async start(): Promise<void> {
    try {
      await this.app.listen({ port: this.options.port, host: this.options.bind });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const where = `${this.options.bind}:${this.options.port}`;
      throw new HttpPortError(
        e.code === 'EADDRINUSE'
          ? `HTTP port ${where} is already in use (http.port): stop the other process or choose another port`
          : `HTTP listener on ${where} failed: ${e.message}`,
      );
    }
    this.app.log.info(`HTTP REST API listening on ${this.options.bind}:${this.options.port}`);
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}
