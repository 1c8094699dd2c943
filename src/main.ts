import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, multistream, destination, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { isRecordingKey, loadServerConfig } from './config/load-config.js';
import { ConfigError, PROPERTIES, type ServerConfig } from './config/server-config.js';
import { Daemon } from './daemon.js';
import { installLastResort } from './last-resort.js';
import { locateFfmpeg } from './recording/ffmpeg/locate-ffmpeg.js';
import { chooseLogLevel, PRETTY_OPTIONS, stdoutFormat, type LevelChoice } from './util/log-output.js';

/** WCS_HOME, else the checkout this file was built into. */
function homeDirectory(): string {
  const fromEnv = process.env.WCS_HOME;
  if (fromEnv) return path.resolve(fromEnv);
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

function createLogger(config: ServerConfig | null): { log: Logger; level: LevelChoice; format: 'pretty' | 'json' } {
  const level = chooseLogLevel(process.env.LOG_LEVEL, config?.logLevel ?? 'info');
  const format = stdoutFormat(process.stdout.isTTY === true, process.env.LOG_FORMAT);
  // pino-pretty in this process (sync): a worker-thread transport would drop the last lines when main.ts exits
  const stdout: DestinationStream = format === 'pretty' ? pinoPretty(PRETTY_OPTIONS) : process.stdout;
  const options = { level: level.level, base: { pid: process.pid } };
  if (!config) return { log: pino(options, stdout), level, format };
  fs.mkdirSync(config.logsDirAbs, { recursive: true });
  // the file stays JSON whatever the terminal shows
  const file = destination({ dest: path.join(config.logsDirAbs, 'server.log'), append: true, sync: true });
  return { log: pino(options, multistream([{ stream: stdout, level: level.level }, { stream: file, level: level.level }])), level, format };
}

function fail(message: string): never {
  process.stderr.write(`wcs-recorder: ${message}\n`);
  process.exit(2);
}

/**
 * Where the recording settings (and every key taken from a WCS
 * flashphoner.properties) come from: one line at start. Keys of
 * flashphoner.properties this server does not use: one warning line.
 */
function logSettingOrigins(log: Logger, home: string, loaded: ReturnType<typeof loadServerConfig>): void {
  const show = (source: string): string => (source === 'environment' ? source : path.relative(home, source) || source);
  const fromFlashphoner = (key: string): boolean => loaded.flashphonerFile !== null && loaded.origins[key] === loaded.flashphonerFile;
  const origins: Record<string, string> = {};
  for (const { key } of Object.values(PROPERTIES)) {
    if (isRecordingKey(key) || fromFlashphoner(key)) origins[key] = loaded.origins[key] === undefined ? 'default' : show(loaded.origins[key]);
  }
  log.info({ origins }, 'Recording settings and where each comes from');
  if (loaded.flashphonerFile === null) return;
  const file = show(loaded.flashphonerFile);
  if (loaded.flashphonerOverridden.length > 0) {
    log.info({ keys: loaded.flashphonerOverridden }, `${file}: overridden by server.properties, .env or the environment: ${loaded.flashphonerOverridden.join(', ')}`);
  }
  const unknown = loaded.flashphonerUnknownKeys;
  if (unknown.length > 0) {
    log.warn({ keys: unknown }, `${file}: ${unknown.length} WCS keys this server does not use, ignored: ${unknown.join(', ')}`);
  }
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
  const { log, level, format } = createLogger(config);
  if (level.ignored !== null) log.warn({ LOG_LEVEL: level.ignored }, `LOG_LEVEL '${level.ignored}' is not a level; using log_level=${level.level}`);
  log.debug({ logLevel: level.level, from: level.from, stdout: format }, 'Logging');
  if (loaded.unknownKeys.length > 0) {
    log.warn({ keys: loaded.unknownKeys }, `Unknown properties kept and ignored: ${loaded.unknownKeys.join(', ')}`);
  }
  logSettingOrigins(log, home, loaded);
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
