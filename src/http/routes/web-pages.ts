import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * The example pages (src/web/examples/*), after the WCS web SDK examples:
 * /client/examples/stream_recording/ publishes the camera over WHIP and
 * offers the finished record for download.
 */
export async function registerWebPages(app: FastifyInstance, webDir: string): Promise<void> {
  await app.register(fastifyStatic, {
    root: path.join(webDir, 'examples'),
    prefix: '/client/examples/',
    decorateReply: false,
    dotfiles: 'deny',
    index: ['index.html'],
    redirect: true,
    cacheControl: false,
  });
}
