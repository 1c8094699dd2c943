import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * The console at / (src/web/console) and the example pages (src/web/examples/*), after the WCS web SDK examples:
 * /client/examples/stream_recording/ publishes the camera over WHIP and
 * offers the finished record for download.
 */
export async function registerWebPages(app: FastifyInstance, webDir: string, consoleEnabled = true): Promise<void> {
  await app.register(fastifyStatic, {
    root: path.join(webDir, 'examples'),
    prefix: '/client/examples/',
    decorateReply: false,
    dotfiles: 'deny',
    index: ['index.html'],
    redirect: true,
    cacheControl: false,
  });
  if (!consoleEnabled) return;
  // the operator's console (docs/console.md): only its own files are routed (no wildcard at /)
  await app.register(fastifyStatic, {
    root: path.join(webDir, 'console'),
    prefix: '/',
    decorateReply: false,
    dotfiles: 'deny',
    index: ['index.html'],
    wildcard: false,
    cacheControl: false,
  });
}
