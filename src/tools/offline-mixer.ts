/**
 * offline_mixer_tool.sh: mixes a multiple recording (several streams, each
 * its own tracks) into FILE_mixed.mp4, or prints its tracks.
 *
 *   offline_mixer_tool.sh FILE [CREATION_MODIFICATION_TIME DURATION_IN_MS RECORDER_URI]
 *   offline_mixer_tool.sh --show-tracks-info FILE
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMovie, tracksInfoJson, type MovieInfo } from '../recording/multi/mp4-tracks.js';
import { MixerConfigError, parseMixerConfig, type MixerConfig } from './mixer-config.js';
import { mixArgs, mixGraph, participantsOf, progressPercent } from './mix-plan.js';

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  fileNotFound: 64,
  configNotFound: 65,
  noSpace: 66,
  callbackFailed: 69,
} as const;

const HELP = `Usage:
  offline_mixer_tool.sh [--config FILE] MULTI_RECORD.mp4 [CREATION_MODIFICATION_TIME DURATION_IN_MS RECORDER_URI]
      Mixes every stream of a multiple recording into MULTI_RECORD_mixed.mp4 beside it:
      the pictures in a grid that follows who is present, each labelled with its stream
      name (mixerDisplayStreamName), the sound of all of them mixed. The last three
      arguments are passed by on_multiple_record_hook.sh for the callback; when absent
      they are read from the file.
  offline_mixer_tool.sh --show-tracks-info MULTI_RECORD.mp4
      Prints the file's tracks as JSON (durations, edits, stream names, mediaSessionIds).
  offline_mixer_tool.sh --help

Settings: $WCS_HOME/conf/offline_mixer.json, or --config FILE:
  hasVideo, hasAudio, mixerDisplayStreamName (true|false), multithreading (false: one
  thread), callbackUrl (POSTed the recording and mixing data), minAvailableSpace (1G),
  width, height, frameRate (of the mixed video: 1280, 720, 30). Other keys are
  ignored, with one warning line each on stderr.

Exit codes: 0 done; 1 mixing failed; 2 bad arguments; 64 file to mix not found;
  65 offline mixer config not found or invalid; 66 not enough disk space (a mix
  stopped for it keeps what was written); 69 mixed, but the callback failed.
`;

const FONT_CANDIDATES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/dejavu/DejaVuSans.ttf'];

function say(text: string): void {
  process.stderr.write(`offline_mixer: ${text}\n`);
}

async function freeSpace(dir: string): Promise<number> {
  const s = await fs.promises.statfs(dir);
  return s.bavail * s.bsize;
}

/** The mixed file's name: FILE without .mp4, then _mixed.mp4. */
export function mixedName(file: string): string {
  return file.replace(/\.mp4$/i, '') + '_mixed.mp4';
}

interface Args {
  help: boolean;
  showTracks: boolean;
  config: string | null;
  positional: string[];
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { help: false, showTracks: false, config: null, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg === '--show-tracks-info') a.showTracks = true;
    else if (arg === '--config') {
      const v = argv[++i];
      if (v === undefined) return '--config needs a file';
      a.config = v;
    } else if (arg.startsWith('--')) return `unknown option ${arg}`;
    else a.positional.push(arg);
  }
  return a;
}

function loadConfig(file: string): MixerConfig | number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    say(`offline mixer config not found: ${file}`);
    return EXIT.configNotFound;
  }
  try {
    return parseMixerConfig(text, (line) => say(`offline mixer config ${file}: ${line}`));
  } catch (err) {
    if (err instanceof MixerConfigError) {
      say(`offline mixer config ${file} is invalid: ${err.message}`);
      return EXIT.configNotFound;
    }
    throw err;
  }
}

interface MixOutcome {
  readonly code: number;
  readonly output: string;
}

async function mix(file: string, movie: MovieInfo, config: MixerConfig): Promise<MixOutcome> {
  const output = mixedName(file);
  const dir = path.dirname(output);
  const free = await freeSpace(dir);
  if (free < config.minAvailableSpace) {
    say(`not enough disk space in ${dir}: ${free} bytes free, minAvailableSpace is ${config.minAvailableSpace}; not mixing`);
    return { code: EXIT.noSpace, output };
  }
  const participants = participantsOf(movie);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-mixer-'));
  try {
    const labelFile = (key: number): string => path.join(work, `label-${key}.txt`);
    for (const p of participants) fs.writeFileSync(labelFile(p.key), p.streamName);
    const fontFile = FONT_CANDIDATES.find((f) => fs.existsSync(f)) ?? null;
    const graph = mixGraph(participants, config.hasVideo, config.hasAudio, { config, durationMs: movie.durationMs, labelFile, fontFile });
    if (!graph.videoOut && !graph.audioOut) {
      say('nothing to mix: no video or audio tracks (or both switched off by hasVideo/hasAudio)');
      return { code: EXIT.failed, output };
    }
    const args = mixArgs(file, output, graph, movie.durationMs, config.multithreading, new Date());
    say(`mixing ${participants.length} participant(s), ${(movie.durationMs / 1000).toFixed(1)} s, into ${output}`);
    const child = spawn(process.env.FFMPEG_PATH || 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let lastShown = -1;
    let lastAt = 0;
    const tty = process.stderr.isTTY;
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const pct = progressPercent(line, movie.durationMs);
        if (pct === null || pct === lastShown || (Date.now() - lastAt < 1000 && pct < 100)) continue;
        lastShown = pct;
        lastAt = Date.now();
        process.stderr.write(`${tty ? '\r' : ''}offline_mixer: mixing ${pct}%${tty ? '' : '\n'}`);
      }
    });
    let stoppedForSpace = false;
    const guard = setInterval(() => {
      void freeSpace(dir).then(
        (bytes) => {
          if (bytes < config.minAvailableSpace && !stoppedForSpace) {
            stoppedForSpace = true;
            say(`not enough disk space in ${dir}: ${bytes} bytes free, minAvailableSpace is ${config.minAvailableSpace}; stopping, keeping what was mixed`);
            // one SIGINT: ffmpeg finishes the MP4 it is writing
            child.kill('SIGINT');
          }
        },
        () => undefined,
      );
    }, 1000);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.on('error', (err) => {
        stderr += err.message;
        resolve(null);
      });
    });
    clearInterval(guard);
    if (tty && lastShown >= 0) process.stderr.write('\n');
    if (stoppedForSpace) return { code: EXIT.noSpace, output };
    if (code !== 0) {
      say(`ffmpeg failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return { code: EXIT.failed, output };
    }
    if (lastShown < 100) process.stderr.write(`${tty ? '\r' : ''}offline_mixer: mixing 100%\n`);
    say(`mixed into ${output}`);
    return { code: EXIT.ok, output };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The document's callback body. */
export function callbackBody(file: string, movie: MovieInfo, hookArgs: string[], mixed: { path: string; movie: MovieInfo }, recorderUri: string): object {
  const num = (v: string | undefined, fallback: number): number => (v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback);
  return {
    multiRecorderCreationModificationTime: num(hookArgs[0], movie.modificationTime),
    multiRecorderDurationInMS: num(hookArgs[1], movie.durationMs),
    multiRecorderFilePath: file,
    recorderUri,
    mixerParams: [{ path: mixed.path, durationInMs: mixed.movie.durationMs, creationModificationTime: mixed.movie.modificationTime }],
  };
}

/** The recorder URI, stored as the file's title (read with ffprobe: the box reader does not parse ilst). */
function titleOf(file: string): string {
  try {
    return execFileSync(process.env.FFPROBE_PATH || 'ffprobe', ['-v', 'error', '-show_entries', 'format_tags=title', '-of', 'default=nw=1:nk=1', file], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return '';
  }
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    say(args);
    process.stderr.write(HELP);
    return EXIT.usage;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const fileArg = args.positional[0];
  if (fileArg === undefined) {
    process.stderr.write(HELP);
    return EXIT.usage;
  }
  const file = path.resolve(fileArg);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    say(`file to mix not found: ${file}`);
    return EXIT.fileNotFound;
  }
  let movie: MovieInfo;
  try {
    movie = readMovie(file);
  } catch (err) {
    say(`${file} is not a finished MP4: ${(err as Error).message}`);
    return EXIT.failed;
  }
  if (args.showTracks) {
    process.stdout.write(JSON.stringify(tracksInfoJson(movie), null, 2) + '\n');
    return EXIT.ok;
  }
  const home = process.env.WCS_HOME || path.resolve(import.meta.dirname, '..', '..');
  const config = loadConfig(args.config ?? path.join(home, 'conf', 'offline_mixer.json'));
  if (typeof config === 'number') return config;
  const outcome = await mix(file, movie, config);
  if (outcome.code !== EXIT.ok || config.callbackUrl === '') return outcome.code;
  const hookArgs = args.positional.slice(1);
  const body = callbackBody(file, movie, hookArgs, { path: outcome.output, movie: readMovie(outcome.output) }, hookArgs[2] ?? titleOf(file));
  try {
    const res = await fetch(config.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    say(`callback ${config.callbackUrl}: ${res.status}`);
    return EXIT.ok;
  } catch (err) {
    say(`callback ${config.callbackUrl} failed: ${(err as Error).message}`);
    return EXIT.callbackFailed;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      say(`error: ${err.stack ?? err.message}`);
      process.exit(EXIT.failed);
    },
  );
}
