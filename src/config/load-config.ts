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

/**
 * Reads $home/conf/server.properties, then $home/.env (keys written either as
 * the property name or as WCS_<KEY>), then WCS_<KEY> environment variables;
 * later sources win. Returns the validated config and the unknown keys.
 */
export function loadServerConfig(options: LoadOptions): ParseResult & { sources: string[] } {
  const raw: Record<string, string> = {};
  const sources: string[] = [];
  const propertiesFile = path.join(options.home, 'conf', 'server.properties');
  if (fs.existsSync(propertiesFile)) {
    let reader: Reader;
    try {
      reader = propertiesReader({ sourceFile: propertiesFile });
    } catch (err) {
      throw new ConfigError(`Cannot read ${propertiesFile}: ${(err as Error).message}`);
    }
    for (const [key, value] of Object.entries(reader.getAllProperties())) {
      raw[key] = String(value);
    }
    sources.push(propertiesFile);
  }
  const byEnvName = new Map(Object.values(PROPERTIES).map((d) => [environmentName(d.key), d.key]));
  const envFile = path.join(options.home, '.env');
  if (fs.existsSync(envFile)) {
    const parsed = dotenv.parse(fs.readFileSync(envFile));
    for (const [key, value] of Object.entries(parsed)) {
      raw[byEnvName.get(key) ?? key] = value;
    }
    sources.push(envFile);
  }
  for (const [envName, key] of byEnvName) {
    const value = options.env[envName];
    if (value !== undefined) {
      raw[key] = value;
      if (!sources.includes('environment')) sources.push('environment');
    }
  }
  return { ...parseServerConfig(raw, options.home), sources };
}
