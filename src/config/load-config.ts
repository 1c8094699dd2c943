import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { propertiesReader, type Reader } from 'properties-reader';
import { ConfigError, environmentName, parseServerConfig, PROPERTIES, type ParseResult } from './server-config.js';

export interface LoadOptions {
  /** WCS_HOME: conf/, records/, logs/ live here. */
  readonly home: string;
  /** Process environment; WCS_<KEY> variables override the files. */
  readonly env: NodeJS.ProcessEnv;
}

export interface LoadResult extends ParseResult {
  /** The files (and 'environment') read, in the order applied. */
  readonly sources: string[];
  /** Which source set each key that is set (a file path or 'environment'); keys at their default are absent. */
  readonly origins: Readonly<Record<string, string>>;
  /** conf/flashphoner.properties, when it exists. */
  readonly flashphonerFile: string | null;
  /**
   * Keys of flashphoner.properties this server does not know (a WCS file has
   * many unrelated to recording): listed here, not in unknownKeys.
   */
  readonly flashphonerUnknownKeys: string[];
  /** Keys of flashphoner.properties whose value a later source replaced. */
  readonly flashphonerOverridden: string[];
}

function readPropertiesFile(file: string): Record<string, string> {
  let reader: Reader;
  try {
    reader = propertiesReader({ sourceFile: file });
  } catch (err) {
    throw new ConfigError(`Cannot read ${file}: ${(err as Error).message}`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(reader.getAllProperties())) out[key] = String(value);
  return out;
}

/** The keys whose origin is logged at start: those of recording (record*, stream_record*, mp4_*, file_recorder_*, …). */
export function isRecordingKey(key: string): boolean {
  return /^(record|stream_record|mp4_|file_recorder|webm_|encode_record|exclude_record|on_record|multi_record|on_multiple_record)/.test(key);
}

/**
 * Reads $home/conf/flashphoner.properties (the file an operator brings from
 * WCS), then $home/conf/server.properties, then $home/.env (keys written
 * either as the property name or as WCS_<KEY>), then WCS_<KEY> environment
 * variables; later sources win, so server.properties, this server's own
 * file, overrides a key the WCS file also sets. Returns the validated
 * config, the unknown keys and where each key came from.
 */
export function loadServerConfig(options: LoadOptions): LoadResult {
  const raw: Record<string, string> = {};
  const origins: Record<string, string> = {};
  const sources: string[] = [];
  const known = new Set<string>(Object.values(PROPERTIES).map((d) => d.key));
  const flashphonerPath = path.join(options.home, 'conf', 'flashphoner.properties');
  const flashphonerFile = fs.existsSync(flashphonerPath) ? flashphonerPath : null;
  let flashphonerKeys: string[] = [];
  if (flashphonerFile !== null) {
    const values = readPropertiesFile(flashphonerFile);
    flashphonerKeys = Object.keys(values);
    for (const [key, value] of Object.entries(values)) {
      raw[key] = value;
      origins[key] = flashphonerFile;
    }
    sources.push(flashphonerFile);
  }
  const propertiesFile = path.join(options.home, 'conf', 'server.properties');
  if (fs.existsSync(propertiesFile)) {
    for (const [key, value] of Object.entries(readPropertiesFile(propertiesFile))) {
      raw[key] = value;
      origins[key] = propertiesFile;
    }
    sources.push(propertiesFile);
  }
  const byEnvName = new Map(Object.values(PROPERTIES).map((d) => [environmentName(d.key), d.key]));
  const envFile = path.join(options.home, '.env');
  if (fs.existsSync(envFile)) {
    const parsed = dotenv.parse(fs.readFileSync(envFile));
    for (const [key, value] of Object.entries(parsed)) {
      const name = byEnvName.get(key) ?? key;
      raw[name] = value;
      origins[name] = envFile;
    }
    sources.push(envFile);
  }
  for (const [envName, key] of byEnvName) {
    const value = options.env[envName];
    if (value !== undefined) {
      raw[key] = value;
      origins[key] = 'environment';
      if (!sources.includes('environment')) sources.push('environment');
    }
  }
  let parsed: ParseResult;
  try {
    parsed = parseServerConfig(raw, options.home);
  } catch (err) {
    // a WCS value this server reads differently: say which file it is in
    const key = err instanceof ConfigError ? /^Bad value for (\S+):/.exec(err.message)?.[1] : undefined;
    if (key !== undefined && flashphonerFile !== null && origins[key] === flashphonerFile) {
      throw new ConfigError(`${(err as Error).message} (set in ${flashphonerFile})`);
    }
    throw err;
  }
  const fromFlashphoner = (k: string): boolean => flashphonerFile !== null && origins[k] === flashphonerFile;
  return {
    ...parsed,
    unknownKeys: parsed.unknownKeys.filter((k) => !fromFlashphoner(k)),
    sources,
    origins,
    flashphonerFile,
    flashphonerUnknownKeys: flashphonerKeys.filter((k) => !known.has(k) && fromFlashphoner(k)).sort(),
    flashphonerOverridden: flashphonerKeys.filter((k) => !fromFlashphoner(k)).sort(),
  };
}
