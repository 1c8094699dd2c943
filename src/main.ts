import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, multistream, destination, type Logger } from 'pino';
import { loadServerConfig } from './config/load-config.js';
import { ConfigError, type ServerConfig } from './config/server-config.js';
import { Daemon } from './daemon.js';
import { installLastResort } from './last-resort.js';
import { locateFfmpeg } from './recording/ffmpeg/locate-ffmpeg.js';

/** WCS_HOME, else the checkout this file was built into. */
function homeDirectory(): string {
  const fromEnv = process.env.WCS_HOME;
  if (fromEnv) return path.resolve(fromEnv);
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

function createLogger(config: ServerConfig | null): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (!config) return pino({ level, base: { pid: process.pid } });
  fs.mkdirSync(config.logsDirAbs, { recursive: true });
  const file = destination({ dest: path.join(config.logsDirAbs, 'server.log'), append: true, sync: true });
  return pino({ level, base: { pid: process.pid } }, multistream([{ stream: process.stdout, level }, { stream: file, level }]));
}

function fail(message: string): never {
  process.stderr.write(`wcs-recorder: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const home = homeDirectory();
  let loaded: ReturnType<typeof loadServerConfig>;
  try {
    loaded = loadServerConfig({ home, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const { config } = loaded;
  const log = createLogger(config);
  if (loaded.unknownKeys.length > 0) {
    log.warn({ keys: loaded.unknownKeys }, `Unknown properties kept and ignored: ${loaded.unknownKeys.join(', ')}`);
  }
  let binaries: ReturnType<typeof locateFfmpeg>;
  try {
    binaries = locateFfmpeg(config.ffmpegPath, process.env);
  } catch (err) {
    log.fatal((err as Error).message);
    fail((err as Error).message);
  }
  log.info({ home, sources: loaded.sources, ffmpeg: binaries.ffmpeg, ffmpegFrom: binaries.origin }, 'wcs-recorder starting');
  let daemon: Daemon;
  try {
    daemon = new Daemon(config, binaries, log);
  } catch (err) {
    log.fatal((err as Error).message);
    fail((err as Error).message);
  }
  // recordings get record_stop_timeout to finish, hooks 5 s each after them
  installLastResort({ log, close: () => daemon.close(), waitMs: (config.recordStopTimeout + 15) * 1000 });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'Second signal while finishing recordings; still finishing');
      return;
    }
    stopping = true;
    log.info({ signal }, 'Shutting down: finishing open recordings');
    daemon.close().then(
      () => {
        log.info('Stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error({ err }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    await daemon.start();
  } catch (err) {
    log.fatal((err as Error).message);
    fail((err as Error).message);
  }
  log.info(
    { httpPort: config.httpPort, rtmpPort: config.rtmpPort, recordDir: config.recordDirAbs },
    `wcs-recorder ready: rtmp://<host>:${config.rtmpPort}/live/<stream>, http://<host>:${config.httpPort}/rest-api/, records in ${config.recordDirAbs}`,
  );
}

void main();
